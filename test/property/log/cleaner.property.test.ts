// Goal: compaction against a model. Random puts and tombstones over a few keys, random cleans
// (key maps from tiny to ample, HW below or at the log end, delete.retention.ms from 0 to
// forever) and random crashes during a clean (the directory as it is at a random yield of the
// cleaner, reopened — what a kill -9 leaves): every record read is the one written at its
// offset, offsets strictly increase, each key's latest record is the model's (a tombstone may
// be gone, never a value), below the cleaner point each key appears once, nothing at or above
// the clean's end changes, the log end never moves; finally, tombstones in segments first
// cleaned more than delete.retention.ms ago are gone. Replay with CLEANER_PROPERTY_SEED=<seed>.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { OffsetMap, PartitionLog } from '../../../src/log/index.ts';
import {
  HandClock,
  compactedLogConfig as baseConfig,
  appendKeyed,
  readAllRecords,
  type KeyedRecord,
  type ReadRecord,
} from '../../support/log/compacted-log.ts';

/** Segments of a few batches each, so a short run has many to clean. */
const compactedLogConfig = { ...baseConfig, segmentBytesMax: 400 };

type Op =
  | { kind: 'append'; records: KeyedRecord[]; gzip: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'clean'; mapKeys: number; hwCut: number; retentionMs: number; crashAtYield: number };

const keyArb = fc.constantFrom('a', 'b', 'c', 'd', 'e');
const recordArb: fc.Arbitrary<KeyedRecord> = fc.record({
  key: keyArb,
  value: fc.option(
    fc.integer({ min: 0, max: 100 }).map((n) => `${n}`.padEnd(20 + n, '.')),
    { freq: 4 },
  ),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      records: fc.array(recordArb, { minLength: 1, maxLength: 3 }),
      gzip: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(3000) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('clean' as const),
      mapKeys: fc.constantFrom(3, 4, 1000),
      hwCut: fc.oneof(fc.constant(0), fc.nat(5)),
      retentionMs: fc.constantFrom(0, 1000, 10 ** 9),
      crashAtYield: fc.oneof(fc.constant(-1), fc.nat(2)),
    }),
  },
);

interface Model {
  /** What was written at each offset. */
  readonly written: Map<number, KeyedRecord>;
}

function checkAgainstModel(records: readonly ReadRecord[], model: Model): void {
  const lastByKey = new Map<string, ReadRecord>();
  records.forEach((record, i) => {
    expect(model.written.get(record.offset)).toEqual({ key: record.key, value: record.value });
    if (i > 0) expect(record.offset).toBeGreaterThan(records[i - 1]?.offset ?? -1);
    lastByKey.set(record.key, record);
  });
  const latest = new Map<string, number>();
  for (const [offset, record] of model.written) latest.set(record.key, offset);
  for (const [key, offset] of latest) {
    const found = lastByKey.get(key);
    const isTombstone = model.written.get(offset)?.value === null;
    if (isTombstone && found === undefined) continue; // Removed after delete.retention.ms.
    expect(found?.offset, `key ${key}`).toBe(offset);
  }
}

function checkOncePerKeyBelow(records: readonly ReadRecord[], point: number): void {
  const keys = records.filter((r) => r.offset < point).map((r) => r.key);
  expect(new Set(keys).size).toBe(keys.length);
}

interface Run {
  log: PartitionLog;
  dir: string;
  generation: number;
}

/** What the runs exercised, printed at the end so a vacuous run shows. */
const seen = { cleans: 0, cleaned: 0, crashes: 0, segmentsRewritten: 0, tombstonesGone: 0 };

async function runClean(run: Run, root: string, clock: HandClock, op: Op & { kind: 'clean' }) {
  const before = await readAllRecords(run.log);
  const end = run.log.logEndOffset;
  const highWatermark = Math.max(0, end - op.hwCut);
  let yields = 0;
  let crashDir: string | null = null;
  const result = await run.log.clean({
    nowMs: clock.nowMs,
    highWatermark,
    minCompactionLagMs: 0,
    deleteRetentionMs: op.retentionMs,
    offsetMap: new OffsetMap(24 * Math.ceil(op.mapKeys / 0.9 + 1)),
    yieldNow: () => {
      if (yields === op.crashAtYield) {
        crashDir = join(root, `crash-${run.generation}`);
        cpSync(run.dir, crashDir, { recursive: true });
      }
      yields += 1;
      return Promise.resolve();
    },
  });
  run.log.checkInvariants();
  expect(run.log.logEndOffset).toBe(end);
  seen.cleans += 1;
  if (result.outcome === 'cleaned') seen.cleaned += 1;
  seen.segmentsRewritten += result.segmentsRewritten;
  const after = await readAllRecords(run.log);
  if (result.outcome === 'cleaned') {
    checkOncePerKeyBelow(after, result.firstDirtyOffset);
    expect(result.firstDirtyOffset).toBeLessThanOrEqual(highWatermark);
  }
  const untouched = (all: readonly ReadRecord[]) =>
    all.filter((r) => r.offset >= result.firstDirtyOffset);
  expect(untouched(after)).toEqual(untouched(before));
  if (crashDir !== null) {
    // kill -9 at that yield: the node restarts from what the directory held then.
    seen.crashes += 1;
    await run.log.close();
    rmSync(run.dir, { recursive: true, force: true });
    run.generation += 1;
    run.dir = crashDir;
    run.log = await PartitionLog.open(crashDir, compactedLogConfig, { clock });
    run.log.checkInvariants();
    expect(run.log.logEndOffset).toBe(end);
  }
  return after;
}

async function settleTombstones(run: Run, clock: HandClock, model: Model): Promise<void> {
  // Roll everything written into closed segments, clean (first-clean times are set), wait
  // past delete.retention.ms, dirty the log again and clean: every old tombstone must go.
  const filler = (i: number) => ({ key: 'filler', value: `${i}`.padEnd(400, '-') });
  const retentionMs = 1000;
  const clean = () =>
    run.log.clean({
      nowMs: clock.nowMs,
      highWatermark: run.log.logEndOffset,
      minCompactionLagMs: 0,
      deleteRetentionMs: retentionMs,
      offsetMap: new OffsetMap(64 * 1024),
      yieldNow: () => Promise.resolve(),
    });
  for (let i = 0; i < 4; i += 1) await appendFiller(run, clock, model, filler(i));
  const first = await clean();
  const tombstonesBefore = (await readAllRecords(run.log)).filter((r) => r.value === null);
  clock.nowMs += retentionMs + 1;
  for (let i = 4; i < 8; i += 1) await appendFiller(run, clock, model, filler(i));
  await clean();
  const records = await readAllRecords(run.log);
  checkAgainstModel(records, model);
  const oldTombstones = records.filter(
    (r) => r.value === null && r.offset < first.firstDirtyOffset,
  );
  expect(oldTombstones).toEqual([]);
  seen.tombstonesGone += tombstonesBefore.length - records.filter((r) => r.value === null).length;
}

async function appendFiller(run: Run, clock: HandClock, model: Model, record: KeyedRecord) {
  const { baseOffset } = await appendKeyed(run.log, [record], clock.nowMs);
  model.written.set(baseOffset, record);
}

test('compaction keeps the latest record per key through cleans and crashes', async () => {
  const seed = Number(process.env.CLEANER_PROPERTY_SEED ?? Date.now() % 2 ** 31);
  console.log(`cleaner property seed: ${seed} (CLEANER_PROPERTY_SEED=${seed} to replay)`);
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), async (ops) => {
      const root = mkdtempSync(join(tmpdir(), 'rill-cleaner-prop-'));
      const clock = new HandClock();
      const dir = join(root, 'log');
      const run: Run = {
        log: await PartitionLog.open(dir, compactedLogConfig, { clock }),
        dir,
        generation: 0,
      };
      const model: Model = { written: new Map() };
      try {
        for (const op of ops) {
          if (op.kind === 'append') {
            const compression = op.gzip ? 'gzip' : 'none';
            const { baseOffset } = await appendKeyed(run.log, op.records, clock.nowMs, compression);
            op.records.forEach((r, i) => model.written.set(baseOffset + i, r));
          } else if (op.kind === 'advance') {
            clock.nowMs += op.ms;
          } else {
            await runClean(run, root, clock, op);
            checkAgainstModel(await readAllRecords(run.log), model);
          }
        }
        await settleTombstones(run, clock, model);
      } finally {
        await run.log.close();
        rmSync(root, { recursive: true, force: true });
      }
    }),
    { seed, numRuns: 10, endOnFailure: process.env.CLEANER_PROPERTY_SHRINK === undefined },
  );
  console.log(`cleaner property exercised: ${JSON.stringify(seen)}`);
  expect(seen.segmentsRewritten).toBeGreaterThan(0);
}, 60_000);
