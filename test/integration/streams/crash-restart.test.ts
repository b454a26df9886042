// Goal: effectively-once across kill -9 (issue 11 item 6): the word-count example, killed with
// SIGKILL at random moments once its tasks process records through its input and restarted, writes exactly the
// crash-free result — per word the count changes 1, 2, …, n, each once (none lost, none
// doubled), and n is the word's true count. Method: one real broker; per seed a fresh
// application id and topics; input produced in three phases (before the first start, while
// the application is dead, after the last restart); two kills at seeded random delays; the
// example restarted with the same --instance-id; SIGINT at the end. The second seed runs with
// --state-dir (counts in level, restored warm from it after each kill). Replay a seed with
// STREAMS_KILL_SEEDS=<seed>[,<seed>…] (each printed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { RillClient } from '../../../src/api/client/index.ts';
import type { BrokerProcess } from '../../../scripts/spawn-broker.ts';
import { useSpawnedBroker } from '../../support/broker/spawned-broker.ts';
import { pollUntil } from '../../support/poll.ts';
import { produceLines, readCounts, rng, startWordCount } from './word-count-apps.ts';

let broker: BrokerProcess;
let client: RillClient;
const vocabulary = ['kafka', 'streams', 'rill', 'log', 'тема', 'поток', 'a1', 'b2', 'c3', 'd4'];

useSpawnedBroker((b, c) => {
  broker = b;
  client = c;
});

async function runSeed(seed: number, stateDir?: string): Promise<string> {
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
  await produceLines(client, input, phases[0] as string[]);
  const killsAfterMs: number[] = [];
  const restarts: string[] = [];
  const restoredOf = (text: string): number =>
    [...text.matchAll(/restored=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  const localOf = (text: string): string => {
    const plans = [...text.matchAll(/ local=(\S+) /g)].map((m) => m[1]).filter((p) => p !== 'off');
    return plans.length === 0 ? '' : ` local=${plans.join(',')}`;
  };
  const suppressedOf = (text: string): number => {
    const last = new Map<string, number>();
    for (const m of text.matchAll(/metrics task=(\S+) .*suppressed=(\d+)/g)) {
      last.set(m[1] as string, Number(m[2]));
    }
    return [...last.values()].reduce((a, b) => a + b, 0);
  };
  for (let kill = 0; kill < 2; kill += 1) {
    const app = startWordCount(broker.url, appId, input, output, 'only', stateDir);
    // Kill while the tasks work: after one of them has processed some input.
    await pollUntil('the tasks to process', 30_000, () =>
      /metrics task=\S+ processed=[1-9]/.test(app.output()) ? true : undefined,
    );
    const delayMs = Math.floor(random() * 1500);
    killsAfterMs.push(delayMs);
    await new Promise((done) => setTimeout(done, delayMs)); // The crash point, not a wait for state.
    app.child.kill('SIGKILL');
    expect(await app.exited).toBe(null);
    restarts.push(`restored=${restoredOf(app.output())}${localOf(app.output())}`);
    await produceLines(client, input, phases[kill + 1] as string[]);
  }
  const app = startWordCount(broker.url, appId, input, output, 'only', stateDir);
  let lastSeen = '';
  await pollUntil('the final counts', 90_000, async () => {
    const counts = await readCounts(client, output).catch(() => new Map<string, number[]>());
    const done = [...model].every(([word, n]) => counts.get(word)?.at(-1) === n);
    lastSeen = JSON.stringify([...counts].map(([w, c]) => [w, c.length]));
    return done ? true : undefined;
  }).catch((error: unknown) => {
    throw new Error(`${String(error)}; seen ${lastSeen}; app: ${app.output().slice(-3000)}`);
  });
  app.child.kill('SIGINT');
  expect(await app.exited).toBe(0);
  const counts = await readCounts(client, output);
  for (const [word, n] of model) {
    expect(counts.get(word), `count changes of ${word}`).toEqual(
      Array.from({ length: n }, (_, i) => i + 1),
    );
  }
  expect([...counts.keys()].sort()).toEqual([...model.keys()].sort());
  restarts.push(
    `restored=${restoredOf(app.output())}${localOf(app.output())} ` +
      `suppressed=${suppressedOf(app.output())}`,
  );
  const words = [...model.values()].reduce((a, b) => a + b, 0);
  return `seed=${seed} local=${stateDir !== undefined} words=${words} kills_after_ms=${killsAfterMs.join(',')} runs: ${restarts.join('; ')}`;
}

test('kill -9 at random points, restart: every count change exactly once', async () => {
  const seeds = (
    process.env.STREAMS_KILL_SEEDS ?? `${Date.now() % 100_000},${(Date.now() + 7) % 100_000}`
  )
    .split(',')
    .map(Number);
  for (const [i, seed] of seeds.entries()) {
    console.log(`kill seed: ${seed} (STREAMS_KILL_SEEDS=${seed} to replay)`);
    const stateDir = i % 2 === 1 ? mkdtempSync(join(tmpdir(), 'rill-kill-')) : undefined;
    try {
      console.log(`kill run: ${await runSeed(seed, stateDir)}`);
    } finally {
      if (stateDir !== undefined) rmSync(stateDir, { recursive: true, force: true });
    }
  }
}, 300_000);
