// Goal: durable local state (issue 11 item 4): with a stateDir, a clean restart on the same
// machine restores each task from its level store plus the changelog from what the store
// covered — far fewer changelog records than a cold start, which reads every changelog from its
// start — and the restored state is right (counts continue where they were). Method: one real
// broker; a word count over 1-partition input with 2,000 distinct words and a small changelog
// cache (many commits, so the changelog holds far more records than live keys); run, close,
// restart in the same stateDir (warm), then in a fresh one (cold, as after a move), then with no
// stateDir (cold into memory). Cold restores stream the changelog in chunks of a named bound
// (restoreChunkRecordsMax): the records held at once never exceed it (the tasks' peak metric).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { RillClient } from '../../../src/api/client/index.ts';
import { StreamsRuntime, type Topology } from '../../../src/streams/index.ts';
import { wordCountTopology } from '../../../examples/word-count.ts';
import type { BrokerProcess } from '../../../scripts/spawn-broker.ts';
import { useSpawnedBroker } from '../../support/broker/spawned-broker.ts';
import { pollUntil } from '../../support/poll.ts';
import { produceLines, readCounts } from './word-count-apps.ts';

let broker: BrokerProcess;
let client: RillClient;
const dirs: string[] = [];

useSpawnedBroker((b, c) => {
  broker = b;
  client = c;
});

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// The example's word count (its word split agrees with this test's `w123` words), with small
// caches: many commits, so the changelog holds far more records than live keys.
const topology = (): Topology =>
  wordCountTopology('local', 'local-lines', 'local-counts', {
    changelogCacheEntriesMax: 50,
    storeCacheEntriesMax: 100,
  });

interface Run {
  readonly log: string;
  readonly restored: number;
  /** Changelog records the restore held in memory at once, at most over the tasks. */
  readonly bufferedPeak: number;
}

/**
 * Runs the word count (in `stateDir`; none: in-memory stores) until it has caught up; returns
 * the log, the changelog records restored and the restore's peak of records held at once.
 */
async function runOnce(stateDir: string | undefined, restoreChunkRecordsMax = 1_000): Promise<Run> {
  const lines: string[] = [];
  const own = new RillClient({ bootstrapUrls: [broker.url] });
  const runtime = await StreamsRuntime.start(topology(), own, {
    ...(stateDir === undefined ? {} : { stateDir }),
    instanceId: 'only',
    restoreChunkRecordsMax,
    log: (line) => lines.push(line),
  });
  try {
    await pollUntil('all tasks to run', 60_000, () =>
      runtime.allTasksRunning() ? true : undefined,
    );
    await pollUntil('the word count to catch up', 60_000, async () =>
      (await runtime.caughtUp()) ? true : undefined,
    );
    const metrics = Object.values(runtime.metrics());
    const restored = metrics.reduce((sum, m) => sum + m.restored, 0);
    const bufferedPeak = Math.max(0, ...metrics.map((m) => m.restoreBufferedPeak));
    return { log: lines.join('\n'), restored, bufferedPeak };
  } finally {
    await runtime.close();
  }
}

test('a restart restores from its local store: far fewer changelog records than cold', async () => {
  await client.admin().createTopic({ name: 'local-lines', partitions: 1, replicationFactor: 1 });
  const words = Array.from({ length: 2000 }, (_, i) => `w${i}`);
  // Each word three times, in three rounds: three changelog records per word over the run.
  const phase = Array.from({ length: 200 }, (_, i) => words.slice(i * 10, i * 10 + 10).join(' '));
  await produceLines(client, 'local-lines', [...phase, ...phase, ...phase]);
  const dir = mkdtempSync(join(tmpdir(), 'rill-local-'));
  dirs.push(dir);
  const first = await runOnce(dir);
  expect(first.log).toMatch(/local=no-local-state/);

  await produceLines(client, 'local-lines', ['w0 w1']);
  const warm = await runOnce(dir);
  expect(warm.log).toMatch(/task \S+ started: restored=\d+ local=warm/);

  const fresh = mkdtempSync(join(tmpdir(), 'rill-local-'));
  dirs.push(fresh);
  await produceLines(client, 'local-lines', ['w0']);
  // Cold, streamed in chunks of 100 changelog records, each written to level as it is applied.
  const cold = await runOnce(fresh, 100);
  expect(cold.log).toMatch(/local=no-local-state/);
  console.log(
    `local restore: first restored=${first.restored} warm restored=${warm.restored} ` +
      `cold restored=${cold.restored} cold buffered_peak=${cold.bufferedPeak} (bound 100)`,
  );
  expect(cold.bufferedPeak).toBeGreaterThan(0);
  expect(cold.bufferedPeak).toBeLessThanOrEqual(100);
  // The cold start reads the counts changelog (>= 2,000 live words) and more; warm nearly none.
  expect(cold.restored).toBeGreaterThanOrEqual(2000);
  expect(warm.restored * 20).toBeLessThan(cold.restored);

  // The state restored warm and cold was right: counts went on from 3.
  const counts = await readCounts(client, 'local-counts');
  expect(counts.get('w0')).toEqual([1, 2, 3, 4, 5]);
  expect(counts.get('w1')).toEqual([1, 2, 3, 4]);
  expect(counts.get('w1999')).toEqual([1, 2, 3]);

  // Without a stateDir (in-memory stores), a cold restore in chunks of 64: then every word once
  // more. The restored state equals the original for every key: each word's counts run
  // 1, 2, …, n with none lost or doubled, n its occurrences.
  await produceLines(client, 'local-lines', phase);
  const memory = await runOnce(undefined, 64);
  expect(memory.bufferedPeak).toBeGreaterThan(0);
  expect(memory.bufferedPeak).toBeLessThanOrEqual(64);
  expect(memory.restored).toBeGreaterThanOrEqual(2000);
  console.log(`in-memory cold restored=${memory.restored} buffered_peak=${memory.bufferedPeak}`);
  const after = await readCounts(client, 'local-counts');
  const extra = new Map([
    ['w0', 2],
    ['w1', 1],
  ]);
  for (const word of words) {
    const n = 4 + (extra.get(word) ?? 0);
    expect(after.get(word), word).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  }
}, 240_000);
