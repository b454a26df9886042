// Goal: PartitionLog behaves like an array of batches through any mix of appends, reads,
// timestamp look-ups, rolls, retention, delete-records, truncation, clean reopens and crashes
// that cut the active .log file at a random byte. Method: fast-check generates action lists;
// a plain in-memory model runs beside the real log in a temp dir and both are compared (plus
// checkInvariants) after every step. After a crash-cut, the model keeps the batches that lie
// wholly before the cut. Replay a failure with LOG_PROPERTY_SEED=<seed printed below>; add
// LOG_PROPERTY_SHRINK=1 to shrink it to a minimal action list.
import { mkdtempSync, readdirSync, readSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import {
  PartitionLog,
  decodeBatches,
  encodeBatch,
  type Compression,
  type FlushPolicy,
  type PartitionLogConfig,
} from '../../../src/log/index.ts';
import { abandonFilesUnder } from '../../support/log/abandon-files.ts';

interface ModelRecord {
  readonly offset: number;
  readonly value: string;
  readonly timestampMs: number;
}
interface ModelBatch {
  readonly baseOffset: number;
  readonly records: readonly ModelRecord[];
  readonly sizeBytes: number;
  readonly epoch: number;
}
class Model {
  batches: ModelBatch[] = [];
  logStartOffset = 0;
  emptyEnd = 0; // The end when there are no batches (after a full truncation).
  leaderEpoch = 0; // The epoch the next leader append is stamped with.
  get logEndOffset(): number {
    const last = this.batches.at(-1);
    return last === undefined ? this.emptyEnd : (last.records.at(-1)?.offset ?? 0) + 1;
  }
  records(): ModelRecord[] {
    return this.batches.flatMap((b) => b.records).filter((r) => r.offset >= this.logStartOffset);
  }
  /** Drops every batch holding an offset ≥ `offset`: the log then ends where the first began. */
  truncateTo(offset: number): void {
    const firstRemoved = this.batches.find((b) => (b.records.at(-1)?.offset ?? 0) >= offset);
    if (firstRemoved === undefined) return;
    this.batches = this.batches.filter((b) => (b.records.at(-1)?.offset ?? 0) < offset);
    if (this.batches.length === 0) this.emptyEnd = firstRemoved.baseOffset;
  }
}

type Action =
  | { kind: 'append'; values: string[]; compression: Compression; jitterMs: number }
  | { kind: 'appendMany'; sizes: number[] }
  | { kind: 'read'; at: number; maxBytes: number; limitAt: number }
  | { kind: 'time'; at: number }
  | { kind: 'retention' }
  | { kind: 'deleteBefore'; at: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'newLeaderEpoch'; step: number }
  | { kind: 'reopen' }
  | { kind: 'crash'; cutAt: number };

// Uniform-ish in [0, 1]: fc.double favours 0, 1 and subnormals, which would hide the middle.
const fraction = fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000);
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      values: fc.array(fc.string({ maxLength: 120 }), { minLength: 1, maxLength: 8 }),
      compression: fc.constantFrom<Compression>('none', 'none', 'gzip', 'lz4', 'snappy', 'zstd'),
      jitterMs: fc.integer({ min: -50, max: 50 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('appendMany' as const),
      sizes: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 10 }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      at: fraction,
      limitAt: fc.oneof(fc.constant(1), fraction),
      maxBytes: fc.integer({ min: 1, max: 3000 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('time' as const), at: fraction }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retention' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('deleteBefore' as const), at: fraction }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('truncate' as const),
      at: fc.integer({ min: -100, max: 1000 }).map((n) => n / 1000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('tick' as const),
      ms: fc.integer({ min: 1, max: 2000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('newLeaderEpoch' as const),
      step: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('crash' as const), cutAt: fraction }) },
);

const configArbitrary: fc.Arbitrary<PartitionLogConfig> = fc.record({
  segmentBytesMax: fc.oneof(
    fc.integer({ min: 200, max: 1000 }),
    fc.integer({ min: 1000, max: 20_000 }),
  ),
  segmentMsMax: fc.constantFrom(3000, 1_000_000),
  retentionMs: fc.constantFrom(-1, 5000),
  retentionBytes: fc.constantFrom(-1, 1500, 6000),
  maxMessageBytes: fc.constant(1 << 20),
  indexIntervalBytes: fc.oneof(
    fc.integer({ min: 1, max: 100 }),
    fc.integer({ min: 100, max: 1000 }),
  ),
  flush: fc.constantFrom<FlushPolicy>(
    { kind: 'always' },
    { kind: 'never' },
    { kind: 'interval', intervalMs: 500 },
  ),
});

class StepClock {
  nowMs = 1_700_000_000_000;
  wallMs(): number {
    return this.nowMs;
  }
  schedule(): () => void {
    return () => undefined; // Interval syncs are not the subject here; close() syncs.
  }
}

function readSlices(result: {
  slices: readonly { fd: number; position: number; length: number }[];
}): Buffer {
  return Buffer.concat(
    result.slices.map((slice) => {
      const bytes = Buffer.alloc(slice.length);
      expect(readSync(slice.fd, bytes, 0, slice.length, slice.position)).toBe(slice.length);
      return bytes;
    }),
  );
}

/** A read returns whole batches from the one holding `offset`, below `limit`, as many as fit. */
async function checkRead(
  dir: string,
  log: PartitionLog,
  model: Model,
  offset: number,
  maxBytes: number,
  limit: number,
): Promise<void> {
  const result = await log.read(offset, maxBytes, limit);
  const batches = await decodeBatches(readSlices(result));
  result.release();
  const lastOf = (b: ModelBatch): number => b.records.at(-1)?.offset ?? 0;
  const candidates = model.batches.filter((b) => lastOf(b) >= offset);
  const fitting = candidates.filter((b) => lastOf(b) < limit);
  if (offset >= limit || fitting[0] !== candidates[0]) {
    expect(batches).toHaveLength(0); // Nothing below the limit, or the first batch straddles it.
    expect(result.nextOffset).toBe(offset);
    return;
  }
  expect(batches.length).toBeGreaterThan(0);
  if (batches.length > 1) expect(result.bytes).toBeLessThanOrEqual(maxBytes);
  // A read stays within one segment (as Kafka's does); inside it, it takes all that fit.
  const following = fitting[batches.length];
  const first = fitting[0];
  if (following !== undefined && first !== undefined && sameSegment(dir, first, following)) {
    expect(result.bytes + following.sizeBytes).toBeGreaterThan(maxBytes);
  }
  batches.forEach((batch, i) => {
    const want = fitting[i];
    expect(batch.header.baseOffset).toBe(want?.baseOffset);
    expect(
      batch.records.map((r) => [r.offset, Buffer.from(r.value ?? []).toString(), r.timestampMs]),
    ).toEqual(want?.records.map((r) => [r.offset, r.value, r.timestampMs]));
  });
  expect(result.nextOffset).toBe((batches.at(-1)?.records.at(-1)?.offset ?? 0) + 1);
}

/**
 * KIP-279 answers against the epochs of the retained batches; the epoch covering the log start
 * is taken to start there. Only checked while some batch reaches past the log start.
 */
function checkEpochs(log: PartitionLog, model: Model): void {
  const start = model.logStartOffset;
  const visible = model.batches.filter((b) => (b.records.at(-1)?.offset ?? 0) >= start);
  const entries: { epoch: number; startOffset: number }[] = [];
  for (const batch of visible) {
    if (entries.at(-1)?.epoch !== batch.epoch) {
      entries.push({ epoch: batch.epoch, startOffset: Math.max(batch.baseOffset, start) });
    }
  }
  const first = entries[0];
  if (first === undefined) return;
  expect(log.latestEpoch()).toBe(entries.at(-1)?.epoch);
  expect(log.endOffsetForEpoch(first.epoch - 1)).toBe(null);
  entries.forEach((entry, i) => {
    const endOffset = entries[i + 1]?.startOffset ?? model.logEndOffset;
    expect(log.endOffsetForEpoch(entry.epoch)).toEqual({ epoch: entry.epoch, endOffset });
  });
}

async function checkAll(log: PartitionLog, model: Model): Promise<void> {
  log.checkInvariants();
  checkEpochs(log, model);
  expect(log.logStartOffset).toBe(model.logStartOffset);
  expect(log.logEndOffset).toBe(model.logEndOffset);
  const seen: number[] = [];
  for (let offset = model.logStartOffset; offset < model.logEndOffset;) {
    const result = await log.read(offset, 4096, model.logEndOffset);
    const batches = await decodeBatches(readSlices(result));
    result.release();
    for (const batch of batches)
      for (const r of batch.records) if (r.offset >= offset) seen.push(r.offset);
    offset = result.nextOffset;
  }
  expect(seen).toEqual(model.records().map((r) => r.offset));
}

function sameSegment(dir: string, a: ModelBatch, b: ModelBatch): boolean {
  const bases = readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .map((n) => Number(n.slice(0, 20)));
  const holder = (batch: ModelBatch): number =>
    Math.max(...bases.filter((base) => base <= batch.baseOffset));
  return holder(a) === holder(b);
}

function activeSegment(dir: string): { path: string; baseOffset: number } {
  const name =
    readdirSync(dir)
      .filter((n) => n.endsWith('.log'))
      .sort()
      .at(-1) ?? '';
  return { path: join(dir, name), baseOffset: Number(name.slice(0, 20)) };
}

async function crashAndCut(dir: string, model: Model, cutAt: number): Promise<void> {
  abandonFilesUnder(dir);
  const active = activeSegment(dir);
  const size = statSync(active.path).size;
  const cut = Math.floor(cutAt * size);
  truncateSync(active.path, cut);
  let end = 0;
  const survivors = model.batches.filter((batch) => {
    if (batch.baseOffset < active.baseOffset) return true;
    end += batch.sizeBytes;
    return end <= cut;
  });
  const lastSurvivor = survivors.at(-1);
  model.batches = survivors;
  model.emptyEnd = lastSurvivor === undefined ? active.baseOffset : model.emptyEnd;
  model.logStartOffset = Math.min(model.logStartOffset, model.logEndOffset);
}

/** How often each action ran, printed at the end so a run that tests nothing shows it. */
const actionCounts = new Map<string, number>();

async function runActions(config: PartitionLogConfig, actions: readonly Action[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rill-log-prop-'));
  const clock = new StepClock();
  const model = new Model();
  let log = await PartitionLog.open(dir, config, { clock });
  try {
    for (const step of actions) {
      actionCounts.set(step.kind, (actionCounts.get(step.kind) ?? 0) + 1);
      log = await applyAction(log, step, { dir, config, clock, model });
      await checkAll(log, model);
    }
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Appends issued together share group commits; the log keeps their call order. */
async function appendConcurrently(log: PartitionLog, sizes: number[], world: World): Promise<void> {
  const { model, clock } = world;
  const timestampMs = clock.nowMs;
  const encoded = await Promise.all(
    sizes.map((count, i) => {
      const records = Array.from({ length: count }, (_, r) => ({
        key: null,
        value: Buffer.from(`c${i}-${r}`),
        headers: [],
        timestampMs,
      }));
      return encodeBatch({ baseOffset: 0, partitionLeaderEpoch: 0, records, compression: 'none' });
    }),
  );
  const start = model.logEndOffset;
  const results = await Promise.all(
    encoded.map((bytes) => log.appendAsLeader(bytes, model.leaderEpoch)),
  );
  let offset = start;
  results.forEach((result, i) => {
    expect(result.baseOffset).toBe(offset);
    const count = sizes[i] ?? 0;
    const records = Array.from({ length: count }, (_, r) => ({
      offset: offset + r,
      value: `c${i}-${r}`,
      timestampMs,
    }));
    model.batches.push({
      baseOffset: offset,
      records,
      sizeBytes: encoded[i]?.length ?? 0,
      epoch: model.leaderEpoch,
    });
    offset += count;
  });
}

interface World {
  readonly dir: string;
  readonly config: PartitionLogConfig;
  readonly clock: StepClock;
  readonly model: Model;
}

async function applyAction(log: PartitionLog, step: Action, world: World): Promise<PartitionLog> {
  const { model, clock } = world;
  const span = (at: number): number =>
    model.logStartOffset + Math.floor(at * (model.logEndOffset - model.logStartOffset + 1));
  switch (step.kind) {
    case 'append': {
      const timestampMs = clock.nowMs + step.jitterMs;
      const records = step.values.map((value) => ({
        key: null,
        value: Buffer.from(value),
        headers: [],
        timestampMs,
      }));
      const bytes = await encodeBatch({
        baseOffset: 0,
        partitionLeaderEpoch: 0,
        records,
        compression: step.compression,
      });
      const { baseOffset } = await log.appendAsLeader(bytes, model.leaderEpoch);
      expect(baseOffset).toBe(model.logEndOffset);
      const stored = step.values.map((value, i) => ({
        offset: baseOffset + i,
        value,
        timestampMs,
      }));
      model.batches.push({
        baseOffset,
        records: stored,
        sizeBytes: bytes.length,
        epoch: model.leaderEpoch,
      });
      return log;
    }
    case 'appendMany':
      await appendConcurrently(log, step.sizes, world);
      return log;
    case 'read': {
      const offset = Math.min(span(step.at), model.logEndOffset);
      const limit = offset + Math.floor(step.limitAt * (model.logEndOffset - offset + 1));
      await checkRead(
        world.dir,
        log,
        model,
        offset,
        step.maxBytes,
        Math.min(limit, model.logEndOffset),
      );
      return log;
    }
    case 'time': {
      const records = model.records();
      const times = records.map((r) => r.timestampMs);
      const target =
        times.length === 0
          ? clock.nowMs
          : Math.min(...times) -
            1 +
            Math.floor(step.at * (Math.max(...times) - Math.min(...times) + 3));
      const want = records.find((r) => r.timestampMs >= target)?.offset ?? null;
      expect(await log.offsetForTimestamp(target)).toBe(want);
      return log;
    }
    case 'retention': {
      const before = model.logStartOffset;
      await log.applyRetention(clock.nowMs);
      const after = log.logStartOffset;
      expect(after).toBeGreaterThanOrEqual(before);
      if (after > before)
        expect(
          model.batches.some((b) => b.baseOffset === after) || after === model.logEndOffset,
        ).toBe(true);
      model.logStartOffset = after;
      return log;
    }
    case 'deleteBefore': {
      const offset = span(step.at);
      await log.deleteRecordsBefore(Math.min(offset, model.logEndOffset));
      model.logStartOffset = Math.max(model.logStartOffset, Math.min(offset, model.logEndOffset));
      return log;
    }
    case 'truncate': {
      const offset = Math.max(0, Math.floor(step.at * (model.logEndOffset + 1)));
      await log.truncateTo(offset);
      if (offset < model.logStartOffset) {
        model.batches = [];
        model.emptyEnd = offset;
        model.logStartOffset = offset;
      } else if (offset < model.logEndOffset) {
        model.truncateTo(offset);
        model.logStartOffset = Math.min(model.logStartOffset, model.logEndOffset);
      }
      return log;
    }
    case 'tick':
      clock.nowMs += step.ms;
      return log;
    case 'newLeaderEpoch':
      model.leaderEpoch += step.step;
      return log;
    case 'reopen':
      await log.close();
      return PartitionLog.open(world.dir, world.config, { clock });
    case 'crash':
      await crashAndCut(world.dir, model, step.cutAt);
      return PartitionLog.open(world.dir, world.config, { clock });
  }
}

test('PartitionLog matches an array model through appends, reads, rolls, retention and crashes', async () => {
  const seed = Number(process.env.LOG_PROPERTY_SEED ?? Date.now() % 2 ** 31);
  console.log(`partition-log property seed: ${seed} (LOG_PROPERTY_SEED=${seed} to replay)`);
  await fc.assert(
    fc.asyncProperty(
      configArbitrary,
      fc.array(action, { minLength: 20, maxLength: 60, size: 'max' }),
      runActions,
    ),
    { seed, numRuns: 25, endOnFailure: process.env.LOG_PROPERTY_SHRINK === undefined },
  );
  console.log(`actions run: ${JSON.stringify(Object.fromEntries(actionCounts))}`);
}, 120_000);
