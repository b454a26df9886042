// Compaction benchmark, in process (the log alone, no network): the cleaner's speed in MiB of
// segment read per second over a log of keyed 1 KiB records (1,000 keys, every key written
// many times), and the latency of single-batch appends (flush `always`, as a produce with
// default topic configs) to another log while that clean runs, beside the same appends with
// no clean running. Rounds interleave both sides, alternating which goes first. Run alone with
// `npx tsx scripts/bench/compaction.ts`; `npm run bench` runs it too (≤ ~20 s).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  OffsetMap,
  PartitionLog,
  encodeBatch,
  type PartitionLogConfig,
} from '../../src/log/index.ts';
import { realLogClock } from '../../test/support/real-clock.ts';
import { loadAverage, ratiosOf, spreadOf, type Spread } from './stats.ts';

export interface CompactionFigures {
  readonly cleanMibPerSecond: Spread | null;
  readonly cleanedToBytesRatio: Spread | null;
  readonly appendP50IdleMs: Spread | null;
  readonly appendP50CleaningMs: Spread | null;
  readonly appendP99IdleMs: Spread | null;
  readonly appendP99CleaningMs: Spread | null;
  /** Per round: p99 while cleaning / p99 idle. */
  readonly appendP99Ratio: Spread | null;
  readonly loadAverage: {
    start: ReturnType<typeof loadAverage>;
    end: ReturnType<typeof loadAverage>;
  };
}

const keys = 1_000;
const recordBytes = 1024;
const recordsPerBatch = 16;
const config: PartitionLogConfig = {
  segmentBytesMax: 8 * 1024 * 1024,
  segmentMsMax: 7 * 24 * 3600 * 1000,
  retentionMs: -1,
  retentionBytes: -1,
  maxMessageBytes: 1024 * 1024,
  indexIntervalBytes: 4096,
  flush: { kind: 'never' },
};
// As the broker's cleaner service yields: a 0 ms timer (at least 1 ms in Node).
const yieldNow = (): Promise<void> => new Promise((done) => setTimeout(done, 0));

async function keyedBatch(first: number): Promise<Buffer> {
  const value = Buffer.alloc(recordBytes, 0x61);
  return encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: 0,
    compression: 'none',
    records: Array.from({ length: recordsPerBatch }, (_, i) => ({
      key: Buffer.from(`key-${(first + i) % keys}`),
      value,
      headers: [],
      timestampMs: Date.now(),
    })),
  });
}

/** A log of `mib` MiB of keyed records, every segment but the active one closed. */
async function writeDirtyLog(dir: string, mib: number): Promise<PartitionLog> {
  const log = await PartitionLog.open(dir, config, { clock: realLogClock });
  const batches = Math.ceil((mib * 1024 * 1024) / (recordsPerBatch * recordBytes));
  for (let b = 0; b < batches; b += 1) {
    await log.appendAsLeader(await keyedBatch(b * recordsPerBatch), 0);
  }
  await log.flush();
  return log;
}

/** Latencies (ms) of sequential single-batch appends with fsync, for `ms`, or until `stop`. */
async function appendLatencies(log: PartitionLog, ms: number, stop?: Promise<unknown>) {
  const latencies: number[] = [];
  let stopped = false;
  void stop?.then(() => {
    stopped = true;
  });
  const endMs = performance.now() + ms;
  const batch = await keyedBatch(0);
  while (!stopped && performance.now() < endMs) {
    const start = performance.now();
    await log.appendAsLeader(Buffer.from(batch), 0);
    latencies.push(performance.now() - start);
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), count: latencies.length };
}

export async function benchCompaction(options: { rounds?: number; mib?: number } = {}) {
  const rounds = options.rounds ?? 3;
  const mib = options.mib ?? 24;
  const start = loadAverage();
  const root = mkdtempSync(join(tmpdir(), 'rill-bench-compaction-'));
  const series = { mibps: [] as number[], shrink: [] as number[] };
  const lat = {
    idle50: [] as number[],
    idle99: [] as number[],
    busy50: [] as number[],
    busy99: [] as number[],
  };
  const produceLog = await PartitionLog.open(
    join(root, 'produce'),
    { ...config, flush: { kind: 'always' } },
    {
      clock: realLogClock,
    },
  );
  const map = new OffsetMap(16 * 1024 * 1024);
  try {
    for (let r = 0; r < rounds; r += 1) {
      const log = await writeDirtyLog(join(root, `dirty-${r}`), mib);
      const idle = async () => {
        const idleRun = await appendLatencies(produceLog, 1_000);
        lat.idle50.push(idleRun.p50);
        lat.idle99.push(idleRun.p99);
      };
      const cleaning = async () => {
        const before = log.sizeBytes;
        const startMs = performance.now();
        const clean = log.clean({
          nowMs: Date.now(),
          highWatermark: log.logEndOffset,
          minCompactionLagMs: 0,
          deleteRetentionMs: 86_400_000,
          offsetMap: map,
          yieldNow,
        });
        const busy = await appendLatencies(produceLog, 60_000, clean);
        const result = await clean;
        const seconds = (performance.now() - startMs) / 1000;
        series.mibps.push(result.bytesRead / (1024 * 1024) / seconds);
        series.shrink.push(log.sizeBytes / before);
        lat.busy50.push(busy.p50);
        lat.busy99.push(busy.p99);
      };
      for (const step of r % 2 === 0 ? [idle, cleaning] : [cleaning, idle]) await step();
      await log.close();
      rmSync(join(root, `dirty-${r}`), { recursive: true, force: true });
    }
  } finally {
    await produceLog.close();
    rmSync(root, { recursive: true, force: true });
  }
  const figures: CompactionFigures = {
    cleanMibPerSecond: spreadOf(series.mibps, 1),
    cleanedToBytesRatio: spreadOf(series.shrink, 3),
    appendP50IdleMs: spreadOf(lat.idle50, 3),
    appendP50CleaningMs: spreadOf(lat.busy50, 3),
    appendP99IdleMs: spreadOf(lat.idle99, 3),
    appendP99CleaningMs: spreadOf(lat.busy99, 3),
    appendP99Ratio: spreadOf(ratiosOf(lat.busy99, lat.idle99), 2),
    loadAverage: { start, end: loadAverage() },
  };
  return figures;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchCompaction(), null, 2));
}
