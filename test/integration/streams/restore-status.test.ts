// Goal (issue 14, streams): a task's restore progress is visible from the cluster, in the
// console's JSON (the `state` events of GET /v1/console/events that #/streams renders): an
// instance restoring cold shows `restoring` with the changelog offsets read out of those to
// read, then `running` with all of them read; a closed instance shows `stopped`.
// Method: one real broker; a word count over 3,000 distinct words (a changelog of >= 3,000
// records). Instance `a` processes them and closes; instance `b` (no state dir: a cold restore
// of the whole changelog) runs on a client whose range reader hands out the changelog 500
// records at a time and holds the first two polls until the console has shown 0 and then 500
// restored, so each step is seen whatever the machine's speed. Nothing else is altered.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { RillClient, type ConsumerRecord } from '../../../src/api/client/index.ts';
import { StreamsRuntime, type Topology } from '../../../src/streams/index.ts';
import { wordCountTopology } from '../../../examples/word-count.ts';
import type { BrokerProcess } from '../../../scripts/spawn-broker.ts';
import { useSpawnedBroker } from '../../support/broker/spawned-broker.ts';
import { pollUntil } from '../../support/poll.ts';
import { produceLines } from './word-count-apps.ts';
import { withOverrides } from '../../support/with-overrides.ts';

const appId = 'rs';
const changelog = `${appId}-word-counts-changelog`;
const words = 3_000;
let broker: BrokerProcess;
let client: RillClient;
let events: IncomingMessage | null = null;

interface InstanceJson {
  instance: string;
  state: string;
  tasks: {
    task: string;
    state: string;
    stores: { store: string; restored: number; total: number }[];
  }[];
}
/** Every distinct status of each instance the console showed, in order. */
const seen = new Map<string, InstanceJson[]>();

useSpawnedBroker((b, c) => {
  broker = b;
  client = c;
}, 60_000);

beforeAll(async () => {
  events = await follow(broker.port);
});

// After hooks run last-registered first: the event stream ends before the broker stops.
afterAll(() => {
  events?.destroy();
});

/** Follows the console's event stream, noting each instance's statuses of application rs. */
function follow(port: number): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/console/events' });
    req.once('response', (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
          const event = text.slice(0, end);
          text = text.slice(end + 2);
          const match = /^event: state\ndata: (.*)$/s.exec(event);
          if (match !== null) note(JSON.parse(match[1] ?? '{}') as ConsoleJson);
        }
      });
      resolve(response);
    });
    req.once('error', reject);
    req.end();
  });
}

interface ConsoleJson {
  streams?: { applicationId: string; instances: InstanceJson[] }[];
}

function note(state: ConsoleJson): void {
  const app = state.streams?.find((s) => s.applicationId === appId);
  for (const instance of app?.instances ?? []) {
    const list = seen.get(instance.instance) ?? [];
    const last = list.at(-1);
    if (JSON.stringify(last) !== JSON.stringify(instance)) list.push(instance);
    seen.set(instance.instance, list);
  }
}

const latest = (instance: string): InstanceJson | undefined => seen.get(instance)?.at(-1);

const topology = (): Topology => wordCountTopology(appId, 'rs-lines', 'rs-counts');

/**
 * A client whose consumer without a group (the runtime's range reader) hands out the changelog
 * 500 records per poll, each poll after `gate(records handed out so far)` resolves.
 */
function gatedClient(gate: (delivered: number) => Promise<void>): RillClient {
  const own = new RillClient({ bootstrapUrls: [broker.url] });
  const consumer = (config?: { groupId?: string }): unknown => {
    const real: unknown = own.consumer(config as never);
    if (config?.groupId !== undefined) return real;
    const reader = real as unknown as {
      assign(tps: { topic: string; partition: number }[]): void;
      poll(options?: unknown): Promise<readonly ConsumerRecord[]>;
      position(tp: { topic: string; partition: number }): number | null;
    };
    let topic = '';
    let held: ConsumerRecord[] = [];
    let handedTo: number | null = null;
    let delivered = 0;
    return withOverrides(reader, {
      assign: (tps: { topic: string; partition: number }[]) => {
        topic = tps[0]?.topic ?? '';
        held = [];
        handedTo = null;
        reader.assign(tps);
      },
      poll: async (options?: unknown) => {
        if (topic !== changelog) return reader.poll(options);
        await gate(delivered);
        if (held.length === 0) held = [...(await reader.poll(options))];
        const slice = held.splice(0, 500);
        delivered += slice.length;
        handedTo = held.length === 0 ? null : (slice.at(-1)?.offset ?? -1) + 1;
        return slice;
      },
      position: (tp: { topic: string; partition: number }) =>
        tp.topic === changelog && handedTo !== null ? handedTo : reader.position(tp),
    });
  };
  return withOverrides(own, { consumer });
}

/** The stateful task's status (the word count's other task, over rs-lines, has no store). */
const statefulOf = (s: InstanceJson | undefined) => s?.tasks.find((t) => t.stores.length > 0);
const storeOf = (s: InstanceJson | undefined) => statefulOf(s)?.stores[0];

test('the console shows a cold restore as restoring N / total, then running', async () => {
  await client.admin().createTopic({ name: 'rs-lines', partitions: 1, replicationFactor: 1 });
  const all = Array.from({ length: words }, (_, i) => `w${i}`);
  const lines = Array.from({ length: words / 10 }, (_, i) => all.slice(i * 10, i * 10 + 10));
  await produceLines(
    client,
    'rs-lines',
    lines.map((l) => l.join(' ')),
  );

  const first = await StreamsRuntime.start(
    topology(),
    new RillClient({ bootstrapUrls: [broker.url] }),
    {
      instanceId: 'a',
    },
  );
  await pollUntil('instance a to catch up', 60_000, async () =>
    first.allTasksRunning() && (await first.caughtUp()) ? true : undefined,
  );
  await first.close();
  await pollUntil('the console to show a stopped', 20_000, () =>
    latest('a')?.state === 'stopped' ? true : undefined,
  );
  const status = await client.admin().describeTopic(`${appId}-status`);
  expect(status.configs['cleanup.policy']).toBe('compact');
  const { highWatermark: total, logStartOffset } = await client.admin().offsets(changelog, 0);
  expect(total - logStartOffset).toBeGreaterThanOrEqual(words);

  const gate = async (delivered: number): Promise<void> => {
    if (delivered > 500) return;
    const want = delivered; // 0 before the first poll, 500 after the first slice
    await pollUntil(`the console to show ${want} of ${total} restored`, 20_000, () => {
      const s = latest('b');
      const store = storeOf(s);
      const shown = s?.state === 'restoring' && store?.restored === want && store.total === total;
      return shown ? true : undefined;
    });
  };
  const second = await StreamsRuntime.start(topology(), gatedClient(gate), { instanceId: 'b' });
  try {
    await pollUntil('instance b to run its task', 60_000, () =>
      second.allTasksRunning() ? true : undefined,
    );
    await pollUntil('the console to show b running', 20_000, () =>
      latest('b')?.state === 'running' ? true : undefined,
    );
  } finally {
    await second.close();
  }
  const shown = (seen.get('b') ?? []).map((s) => {
    const store = storeOf(s);
    const progress = store === undefined ? '' : ` ${store.restored}/${store.total}`;
    return `${s.state}:${statefulOf(s)?.state ?? ''}${progress}`;
  });
  console.log(`console showed b as: ${shown.join(' -> ')}`);
  expect(shown).toContain(`restoring:restoring 0/${total}`);
  expect(shown).toContain(`restoring:restoring 500/${total}`);
  expect(shown.at(-1)).toBe(`running:running ${total}/${total}`);
  const order = (text: string): number => shown.indexOf(text);
  expect(order(`restoring:restoring 0/${total}`)).toBeLessThan(
    order(`restoring:restoring 500/${total}`),
  );
}, 120_000);
