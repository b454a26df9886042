// Goal: effectively-once across kill -9 (issue 11 item 6): the word-count example, killed with
// SIGKILL at random moments once its tasks process records through its input and restarted, writes exactly the
// crash-free result — per word the count changes 1, 2, …, n, each once (none lost, none
// doubled), and n is the word's true count. Method: one real broker; per seed a fresh
// application id and topics; input produced in three phases (before the first start, while
// the application is dead, after the last restart); two kills at seeded random delays; the
// example restarted with the same --instance-id; SIGINT at the end. Replay a seed with
// STREAMS_KILL_SEEDS=<seed>[,<seed>…] (each printed).
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { RillClient } from '../../../src/api/client/index.ts';
import { spawnBroker, type BrokerProcess } from '../../../scripts/spawn-broker.ts';
import { pollUntil } from '../../support/poll.ts';

let broker: BrokerProcess;
let client: RillClient;
const root = resolve(import.meta.dirname, '../../..');
const vocabulary = ['kafka', 'streams', 'rill', 'log', 'тема', 'поток', 'a1', 'b2', 'c3', 'd4'];

beforeAll(async () => {
  broker = await spawnBroker();
  client = new RillClient({ bootstrapUrls: [broker.url] });
});

afterAll(async () => {
  await client?.close();
  await broker?.stop();
});

/** mulberry32: a small seeded generator, so a seed replays the same input and kill times. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface App {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
}

function startApp(appId: string, input: string, output: string): App {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'examples/word-count.ts',
      ...['--bootstrap', broker.url, '--input', input, '--output', output],
      ...['--application-id', appId, '--instance-id', 'only'],
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, output: () => text, exited };
}

async function produceLines(topic: string, lines: readonly string[]): Promise<void> {
  const producer = client.producer({ lingerMs: 5 });
  await Promise.all(lines.map((line, i) => producer.send({ topic, key: `k${i}`, value: line })));
  await producer.flush();
  await producer.close();
}

/** Every record of `topic`: word → the count values written, in offset order. */
async function readCounts(topic: string): Promise<Map<string, number[]>> {
  const admin = client.admin();
  const partitions = (await admin.describeTopic(topic)).partitions.length;
  const consumer = client.consumer({ autoOffsetReset: 'earliest' });
  const counts = new Map<string, number[]>();
  const decoder = new TextDecoder();
  for (let partition = 0; partition < partitions; partition += 1) {
    const end = (await admin.offsets(topic, partition)).highWatermark;
    consumer.assign([{ topic, partition }]);
    consumer.seekToBeginning({ topic, partition });
    let position = 0;
    while (position < end) {
      for (const r of await consumer.poll({ maxWaitMs: 500 })) {
        const word = decoder.decode(r.key ?? new Uint8Array());
        counts.set(word, [
          ...(counts.get(word) ?? []),
          Number(decoder.decode(r.value ?? undefined)),
        ]);
      }
      position = consumer.position({ topic, partition }) ?? position;
    }
  }
  consumer.close();
  return counts;
}

async function runSeed(seed: number): Promise<string> {
  const random = rng(seed);
  const line = (): string =>
    Array.from({ length: 1 + Math.floor(random() * 6) }, () => {
      return vocabulary[Math.floor(random() * vocabulary.length)] as string;
    }).join(' ');
  const phases = [800, 300, 200].map((n) => Array.from({ length: n }, line));
  const model = new Map<string, number>();
  for (const text of phases.flat()) {
    for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
      model.set(word, (model.get(word) ?? 0) + 1);
    }
  }
  const [appId, input, output] = [`kill-${seed}`, `lines-${seed}`, `counts-${seed}`];
  await client.admin().createTopic({ name: input, partitions: 3, replicationFactor: 1 });
  await produceLines(input, phases[0] as string[]);
  const killsAfterMs: number[] = [];
  const restarts: string[] = [];
  const restoredOf = (text: string): number =>
    [...text.matchAll(/restored=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  const suppressedOf = (text: string): number => {
    const last = new Map<string, number>();
    for (const m of text.matchAll(/metrics task=(\S+) .*suppressed=(\d+)/g)) {
      last.set(m[1] as string, Number(m[2]));
    }
    return [...last.values()].reduce((a, b) => a + b, 0);
  };
  for (let kill = 0; kill < 2; kill += 1) {
    const app = startApp(appId, input, output);
    // Kill while the tasks work: after one of them has processed some input.
    await pollUntil('the tasks to process', 30_000, () =>
      /metrics task=\S+ processed=[1-9]/.test(app.output()) ? true : undefined,
    );
    const delayMs = Math.floor(random() * 1500);
    killsAfterMs.push(delayMs);
    await new Promise((done) => setTimeout(done, delayMs)); // The crash point, not a wait for state.
    app.child.kill('SIGKILL');
    expect(await app.exited).toBe(null);
    restarts.push(`restored=${restoredOf(app.output())}`);
    await produceLines(input, phases[kill + 1] as string[]);
  }
  const app = startApp(appId, input, output);
  let lastSeen = '';
  await pollUntil('the final counts', 90_000, async () => {
    const counts = await readCounts(output).catch(() => new Map<string, number[]>());
    const done = [...model].every(([word, n]) => counts.get(word)?.at(-1) === n);
    lastSeen = JSON.stringify([...counts].map(([w, c]) => [w, c.length]));
    return done ? true : undefined;
  }).catch((error: unknown) => {
    throw new Error(`${String(error)}; seen ${lastSeen}; app: ${app.output().slice(-3000)}`);
  });
  app.child.kill('SIGINT');
  expect(await app.exited).toBe(0);
  const counts = await readCounts(output);
  for (const [word, n] of model) {
    expect(counts.get(word), `count changes of ${word}`).toEqual(
      Array.from({ length: n }, (_, i) => i + 1),
    );
  }
  expect([...counts.keys()].sort()).toEqual([...model.keys()].sort());
  restarts.push(`restored=${restoredOf(app.output())} suppressed=${suppressedOf(app.output())}`);
  const words = [...model.values()].reduce((a, b) => a + b, 0);
  return `seed=${seed} words=${words} kills_after_ms=${killsAfterMs.join(',')} runs: ${restarts.join('; ')}`;
}

test('kill -9 at random points, restart: every count change exactly once', async () => {
  const seeds = (
    process.env.STREAMS_KILL_SEEDS ?? `${Date.now() % 100_000},${(Date.now() + 7) % 100_000}`
  )
    .split(',')
    .map(Number);
  for (const seed of seeds) {
    console.log(`kill seed: ${seed} (STREAMS_KILL_SEEDS=${seed} to replay)`);
    console.log(`kill run: ${await runSeed(seed)}`);
  }
}, 300_000);
