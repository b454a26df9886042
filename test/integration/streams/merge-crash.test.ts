// Goal: effectively-once across kill -9 for a task with two inputs (docs/streams.md, replay
// order): records arriving against time across the inputs (a view earlier than a click already
// processed) and kills at random moments still give, per key, outputs that each add exactly one
// record to the one before, and a final value holding every record once. A replay in another
// order than the first run's breaks that chain (an output computed from another state, then the
// first run's outputs suppressed by origin). Method: one real broker; views and clicks of one
// partition each (one task reads both); per round, clicks at time 10r + 5, then 40 ms later
// views at 10r (earlier); two SIGKILLs at seeded random delays while rounds go on; restart with
// the same instance id; a long commit interval (2 s), so a kill lands between commits.
// Replay a seed with STREAMS_MERGE_KILL_SEED=<seed>.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { RillClient } from '../../../src/api/client/index.ts';
import { readToEnd } from '../../../scripts/nexmark-run.ts';
import type { BrokerProcess } from '../../../scripts/spawn-broker.ts';
import { useSpawnedBroker } from '../../support/broker/spawned-broker.ts';
import { pollUntil } from '../../support/poll.ts';
import { rng } from './word-count-apps.ts';

const root = resolve(import.meta.dirname, '../../..');
const keys = ['k0', 'k1', 'k2', 'k3'];
let broker: BrokerProcess;
let client: RillClient;

useSpawnedBroker((b, c) => {
  broker = b;
  client = c;
});

function startApp(appId: string, topics: readonly string[]) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'test/integration/streams/merge-app.ts',
      broker.url,
      appId,
      ...topics,
      '2000',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, output: () => text, exited };
}

/** Per key, the values written to `topic`, in offset order. */
async function readValues(topic: string): Promise<Map<string, string[]>> {
  const values = new Map<string, string[]>();
  const decoder = new TextDecoder();
  await readToEnd(client, topic, (r) => {
    const key = decoder.decode(r.key ?? new Uint8Array());
    values.set(key, [...(values.get(key) ?? []), decoder.decode(r.value ?? undefined)]);
  });
  return values;
}

test('two inputs arriving against time, kill -9 twice: every output adds one record', async () => {
  const seed = Number(process.env.STREAMS_MERGE_KILL_SEED ?? Date.now() % 100_000);
  console.log(`merge kill seed: ${seed} (STREAMS_MERGE_KILL_SEED=${seed} to replay)`);
  const random = rng(seed);
  const [appId, views, clicks, output] = ['app', 'views', 'clicks', 'out'].map(
    (p) => `merge-${p}-${seed}`,
  );
  const topics = [views, clicks, output] as string[];
  for (const name of [views, clicks] as string[]) {
    await client.admin().createTopic({ name, partitions: 1, replicationFactor: 1 });
  }
  const producer = client.producer({ lingerMs: 0 });
  const tokens = new Map<string, string[]>(keys.map((k) => [k, []]));
  let round = 0;
  let producing = true;
  const sendRound = async (): Promise<void> => {
    const r = round;
    round += 1;
    const sends = (topic: string, prefix: string, t: number): Promise<unknown>[] =>
      keys.map((key) => {
        const token = `${prefix}${r};`;
        tokens.get(key)?.push(token);
        return producer.send({ topic, key, value: token, timestampMs: 1_000_000 + t });
      });
    await Promise.all(sends(clicks as string, 'c', 10 * r + 5));
    await new Promise((done) => setTimeout(done, 40)); // The views arrive after the clicks.
    await Promise.all(sends(views as string, 'v', 10 * r));
  };
  const feeding = (async () => {
    while (producing) await sendRound();
  })();
  const kills: number[] = [];
  const outputs: string[] = [];
  for (let kill = 0; kill < 2; kill += 1) {
    const app = startApp(appId as string, topics);
    await pollUntil('the task to process', 30_000, () =>
      /metrics task=\S+ processed=[1-9]/.test(app.output()) ? true : undefined,
    );
    const delayMs = 300 + Math.floor(random() * 1500);
    kills.push(delayMs);
    await new Promise((done) => setTimeout(done, delayMs)); // The crash point, not a wait.
    app.child.kill('SIGKILL');
    expect(await app.exited).toBe(null);
    outputs.push(app.output());
  }
  producing = false;
  await feeding;
  await producer.close();
  const app = startApp(appId as string, topics);
  const done = (values: Map<string, string[]>): boolean =>
    keys.every(
      (k) => (values.get(k)?.at(-1)?.length ?? 0) >= (tokens.get(k) ?? []).join('').length,
    );
  await pollUntil('the final values', 90_000, async () =>
    done(await readValues(output as string).catch(() => new Map())) ? true : undefined,
  );
  app.child.kill('SIGINT');
  expect(await app.exited).toBe(0);
  outputs.push(app.output());
  const last = (text: string, name: string): string =>
    [...text.matchAll(new RegExp(`${name}=(\\d+)`, 'g'))].at(-1)?.[1] ?? '0';
  const suppressed = outputs.map((text) => last(text, 'suppressed')).join(',');
  const reorders = outputs.map((text) => last(text, 'reorder_commits')).join(',');
  console.log(
    `merge kill run: seed=${seed} rounds=${round} kills_after_ms=${kills.join(',')} ` +
      `per run: suppressed=${suppressed} reorder_commits=${reorders}`,
  );
  const values = await readValues(output as string);
  for (const key of keys) {
    const seen = values.get(key) ?? [];
    const sorted = (text: string): string[] => text.split(';').filter(Boolean).sort();
    // Every output adds exactly one record's token to the previous one: none from another state.
    seen.forEach((value, i) => {
      const before = i === 0 ? '' : (seen[i - 1] as string);
      expect(value.startsWith(before), `${key} output ${i}: ${before} -> ${value}`).toBe(true);
      expect(value.slice(before.length), `${key} output ${i} adds one token`).toMatch(/^[cv]\d+;$/);
    });
    // And the last holds every record once.
    expect(sorted(seen.at(-1) ?? '')).toEqual(sorted((tokens.get(key) ?? []).join('')));
  }
}, 240_000);
