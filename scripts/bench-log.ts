// Log micro-benchmark: append throughput of one PartitionLog under each flush policy, with one
// and with several concurrent appenders (group commit), against the baseline of sequential
// raw file appends of the same bytes under the same policy (fdatasync per write for `always`),
// measured in alternating slices so that a busy machine weighs on both alike.
// Also a catch-up read of the written log against plain sequential reads of the same bytes.
// Run alone with `npx tsx scripts/bench-log.ts`; the main bench imports `benchLog`.
import {
  closeSync,
  fdatasync as fdatasyncCallback,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  write as writeCallback,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  PartitionLog,
  encodeBatch,
  type FlushPolicy,
  type LogRecord,
  type PartitionLogConfig,
} from '../src/log/index.ts';
import { realLogClock } from '../test/support/real-clock.ts';

export interface BenchLogOptions {
  /** Bytes per record value (default 1 KiB) and records per batch (default 16: ~16 KiB). */
  readonly recordBytes?: number;
  readonly recordsPerBatch?: number;
  /** Concurrent appenders for the grouped runs (default 8). */
  readonly appenders?: number;
  /** Time spent on each run, and a cap on bytes written by each (defaults 1500 ms, 128 MiB). */
  readonly runMs?: number;
  readonly runBytesMax?: number;
  readonly dir?: string;
}

export interface BenchLogFigure {
  readonly name: string;
  readonly flush: string;
  readonly appenders: number;
  readonly mbPerSec: number;
  readonly recordsPerSec: number;
  readonly syncs: number;
  readonly baselineMbPerSec: number;
  readonly ratio: number;
}

const fdatasync = promisify(fdatasyncCallback);
const write = promisify(writeCallback);

const benchConfig: PartitionLogConfig = {
  segmentBytesMax: 128 * 1024 * 1024,
  segmentMsMax: 7 * 24 * 3600 * 1000,
  retentionMs: -1,
  retentionBytes: -1,
  maxMessageBytes: 1024 * 1024,
  indexIntervalBytes: 4096,
  flush: { kind: 'always' },
};

const policyName = (flush: FlushPolicy): string =>
  flush.kind === 'interval' ? `interval:${flush.intervalMs}` : flush.kind;

interface Throughput {
  readonly bytes: number;
  readonly batches: number;
  readonly seconds: number;
  readonly syncs: number;
}

/** Each figure alternates this many slices of baseline and log, so both see the same load. */
const ROUNDS = 3;

async function runLogSlice(
  log: PartitionLog,
  batch: Buffer,
  appenders: number,
  sliceMs: number,
  sliceBytesMax: number,
): Promise<Throughput> {
  const syncsBefore = log.syncCount;
  const started = performance.now();
  let bytes = 0;
  let batches = 0;
  const appender = async (): Promise<void> => {
    while (performance.now() - started < sliceMs && bytes < sliceBytesMax) {
      await log.appendAsLeader(batch, 0);
      bytes += batch.length;
      batches += 1;
    }
  };
  await Promise.all(Array.from({ length: appenders }, appender));
  const seconds = (performance.now() - started) / 1000;
  return { bytes, batches, seconds, syncs: log.syncCount - syncsBefore };
}

interface BaselineFile {
  readonly fd: number;
  bytes: number;
  lastSyncMs: number;
}

/**
 * Sequential raw appends through the same libuv calls the log uses: write, then fdatasync per
 * write (always), once per interval, or never. (On this VM a blocking fdatasyncSync measured
 * several times slower than the thread-pool fdatasync, so the baseline uses the latter.)
 */
async function runBaselineSlice(
  file: BaselineFile,
  flush: FlushPolicy,
  batch: Buffer,
  sliceMs: number,
  sliceBytesMax: number,
): Promise<Throughput> {
  const started = performance.now();
  let bytes = 0;
  let batches = 0;
  let syncs = 0;
  while (performance.now() - started < sliceMs && bytes < sliceBytesMax) {
    await write(file.fd, batch, 0, batch.length, file.bytes);
    file.bytes += batch.length;
    bytes += batch.length;
    batches += 1;
    const due =
      flush.kind === 'always' ||
      (flush.kind === 'interval' && performance.now() - file.lastSyncMs >= flush.intervalMs);
    if (due) {
      await fdatasync(file.fd);
      syncs += 1;
      file.lastSyncMs = performance.now();
    }
  }
  return { bytes, batches, seconds: (performance.now() - started) / 1000, syncs };
}

const addUp = (a: Throughput, b: Throughput): Throughput => ({
  bytes: a.bytes + b.bytes,
  batches: a.batches + b.batches,
  seconds: a.seconds + b.seconds,
  syncs: a.syncs + b.syncs,
});

/** The log and its baseline, measured in alternating slices. */
async function measure(
  paths: { readonly log: string; readonly baseline: string },
  flush: FlushPolicy,
  batch: Buffer,
  appenders: number,
  limits: { readonly runMs: number; readonly runBytesMax: number },
): Promise<{ log: Throughput; baseline: Throughput }> {
  const log = await PartitionLog.open(
    paths.log,
    { ...benchConfig, flush },
    { clock: realLogClock },
  );
  const fd = openSync(paths.baseline, 'w');
  const file: BaselineFile = { fd, bytes: 0, lastSyncMs: performance.now() };
  const zero: Throughput = { bytes: 0, batches: 0, seconds: 0, syncs: 0 };
  let totals = { log: zero, baseline: zero };
  const sliceMs = limits.runMs / ROUNDS;
  const sliceBytesMax = limits.runBytesMax / ROUNDS;
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      const baseline = await runBaselineSlice(file, flush, batch, sliceMs, sliceBytesMax);
      const logged = await runLogSlice(log, batch, appenders, sliceMs, sliceBytesMax);
      totals = { log: addUp(totals.log, logged), baseline: addUp(totals.baseline, baseline) };
    }
  } finally {
    await log.close();
    closeSync(fd);
  }
  return totals;
}

export async function benchLog(
  options: BenchLogOptions = {},
): Promise<{ figures: BenchLogFigure[] }> {
  const recordBytes = options.recordBytes ?? 1024;
  const recordsPerBatch = options.recordsPerBatch ?? 16;
  const appenders = options.appenders ?? 8;
  const runMs = options.runMs ?? 1500;
  const runBytesMax = options.runBytesMax ?? 128 * 1024 * 1024;
  const root = mkdtempSync(join(options.dir ?? tmpdir(), 'rill-bench-log-'));
  const records: LogRecord[] = Array.from({ length: recordsPerBatch }, (_, i) => ({
    key: Buffer.from(`key-${i}`),
    value: Buffer.alloc(recordBytes, i),
    headers: [],
    timestampMs: Date.now(),
  }));
  const batch = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: 0,
    records,
    compression: 'none',
  });
  const runs: { flush: FlushPolicy; appenders: number }[] = [
    { flush: { kind: 'always' }, appenders: 1 },
    { flush: { kind: 'always' }, appenders },
    { flush: { kind: 'interval', intervalMs: 1000 }, appenders },
    { flush: { kind: 'never' }, appenders },
  ];
  const figures: BenchLogFigure[] = [];
  try {
    for (const [i, run] of runs.entries()) {
      const name = policyName(run.flush);
      const paths = { log: join(root, `log-${i}`), baseline: join(root, `baseline-${i}`) };
      const limits = { runMs, runBytesMax };
      const { log, baseline } = await measure(paths, run.flush, batch, run.appenders, limits);
      const mbPerSec = log.bytes / log.seconds / 1e6;
      const baselineMbPerSec = baseline.bytes / baseline.seconds / 1e6;
      if (run.flush.kind === 'never') {
        figures.push(await benchRead(paths.log, paths.baseline, batch, recordsPerBatch));
      }
      figures.push({
        name: `log append ${name} x${run.appenders}`,
        flush: name,
        appenders: run.appenders,
        mbPerSec: round(mbPerSec),
        recordsPerSec: Math.round((log.batches * recordsPerBatch) / log.seconds),
        syncs: log.syncs,
        baselineMbPerSec: round(baselineMbPerSec),
        ratio: round(mbPerSec / baselineMbPerSec),
      });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return { figures };
}

/** Bytes per read: a consumer's fetch.max.bytes-sized request. */
const READ_BYTES_MAX = 1024 * 1024;

/**
 * Catch-up read of what the `never` run wrote: PartitionLog.read slices, copied out with
 * pread as a sendfile would, against plain sequential 1 MiB preads of the baseline file.
 */
async function benchRead(
  logDir: string,
  baselinePath: string,
  batch: Buffer,
  recordsPerBatch: number,
): Promise<BenchLogFigure> {
  const log = await PartitionLog.open(
    logDir,
    { ...benchConfig, flush: { kind: 'never' } },
    { clock: realLogClock },
  );
  const buffer = Buffer.allocUnsafe(READ_BYTES_MAX + batch.length);
  let started = performance.now();
  let bytes = 0;
  for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
    const result = await log.read(offset, READ_BYTES_MAX, log.logEndOffset);
    for (const slice of result.slices)
      bytes += readSync(slice.fd, buffer, 0, slice.length, slice.position);
    result.release();
    offset = result.nextOffset;
  }
  const seconds = (performance.now() - started) / 1000;
  await log.close();
  const fd = openSync(baselinePath, 'r');
  started = performance.now();
  let baselineBytes = 0;
  for (let read = -1; read !== 0; baselineBytes += read) {
    read = readSync(fd, buffer, 0, READ_BYTES_MAX, baselineBytes);
  }
  const baselineSeconds = (performance.now() - started) / 1000;
  closeSync(fd);
  const mbPerSec = bytes / seconds / 1e6;
  const baselineMbPerSec = baselineBytes / baselineSeconds / 1e6;
  return {
    name: 'log read catch-up 1 MiB',
    flush: 'never',
    appenders: 1,
    mbPerSec: round(mbPerSec),
    recordsPerSec: Math.round(((bytes / batch.length) * recordsPerBatch) / seconds),
    syncs: 0,
    baselineMbPerSec: round(baselineMbPerSec),
    ratio: round(mbPerSec / baselineMbPerSec),
  };
}

const round = (value: number): number => Math.round(value * 100) / 100;

async function main(): Promise<void> {
  const { figures } = await benchLog();
  for (const f of figures) {
    console.log(
      `${f.name.padEnd(32)} ${f.mbPerSec.toFixed(1).padStart(8)} MB/s ${String(f.recordsPerSec).padStart(9)} rec/s ` +
        `${String(f.syncs).padStart(6)} syncs   baseline ${f.baselineMbPerSec.toFixed(1).padStart(8)} MB/s   ratio ${f.ratio.toFixed(2)}`,
    );
  }
  console.log(JSON.stringify({ benchLog: figures }));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
