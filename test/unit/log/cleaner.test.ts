// Goal: the log cleaner keeps the latest record per key with its offset, removes tombstones
// only after delete.retention.ms past their segment's first clean, never touches the active
// segment or anything above the HW, keeps every batch's offset span, and a clean interrupted
// at any step of its swap is finished or discarded at the next open without losing a record.
// Method: real PartitionLogs in temporary directories with a hand-driven clock.
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { swapPlan, runSwapStep, CLEANED_SUFFIX } from '../../../src/log/cleaner-swap.ts';
import { OffsetMap, PartitionLog, segmentFileName } from '../../../src/log/index.ts';
import {
  HandClock,
  appendKeyed,
  cleanNow,
  compactedLogConfig,
  liveValues,
  readAllBatches,
  readAllRecords,
  type KeyedRecord,
} from '../../support/log/compacted-log.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'rill-cleaner-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

async function fill(dir: string, clock: HandClock, rounds: number): Promise<KeyedRecord[]> {
  const log = await PartitionLog.open(dir, compactedLogConfig, { clock });
  const written: KeyedRecord[] = [];
  for (let i = 0; i < rounds; i += 1) {
    const batch: KeyedRecord[] = [
      { key: `k${i % 5}`, value: `v${i}-${'x'.repeat(40)}` },
      { key: `k${(i * 3) % 7}`, value: i % 11 === 10 ? null : `w${i}` },
    ];
    await appendKeyed(log, batch, clock.nowMs, i % 4 === 0 ? 'gzip' : 'none');
    written.push(...batch);
  }
  await log.close();
  return written;
}

function latestFromRead(records: readonly { key: string; value: string | null }[]) {
  return liveValues(records.map((r) => ({ key: r.key, value: r.value })));
}

test('a clean keeps the latest value per key and the offsets, and shrinks the log', async () => {
  const clock = new HandClock();
  const dir = join(root, 'log');
  const written = await fill(dir, clock, 120);
  const log = await PartitionLog.open(dir, compactedLogConfig, { clock });
  const before = await readAllRecords(log);
  const sizeBefore = log.sizeBytes;
  const end = log.logEndOffset;
  const result = await cleanNow(log, clock);
  expect(result.outcome).toBe('cleaned');
  log.checkInvariants();
  const after = await readAllRecords(log);
  expect(latestFromRead(after)).toEqual(liveValues(written));
  expect(log.logEndOffset).toBe(end);
  expect(log.sizeBytes).toBeLessThan(sizeBefore / 2);
  // Every record left is the original at its offset; offsets strictly increase.
  const original = new Map(before.map((r) => [r.offset, r]));
  after.forEach((r, i) => {
    expect(original.get(r.offset)).toEqual(r);
    if (i > 0) expect(r.offset).toBeGreaterThan(after[i - 1]?.offset ?? -1);
  });
  // Batches still tile the offsets: each starts where the one before ended.
  const batches = await readAllBatches(log);
  for (let i = 1; i < batches.length; i += 1) {
    const previous = batches[i - 1]?.header;
    const header = batches[i]?.header;
    expect(header?.baseOffset).toBe(
      (previous?.baseOffset ?? 0) + (previous?.lastOffsetDelta ?? 0) + 1,
    );
  }
  // The active segment is untouched: everything from its base is as before.
  const activeBase = result.firstDirtyOffset;
  expect(after.filter((r) => r.offset >= activeBase)).toEqual(
    before.filter((r) => r.offset >= activeBase),
  );
  await log.close();
  const reopened = await PartitionLog.open(dir, compactedLogConfig, { clock });
  expect(await readAllRecords(reopened)).toEqual(after);
  expect((await cleanNow(reopened, clock)).outcome).toBe('nothing-to-clean');
  await reopened.close();
});

test('tombstones survive until delete.retention.ms after their segment was first cleaned', async () => {
  const clock = new HandClock();
  const log = await PartitionLog.open(join(root, 'log'), compactedLogConfig, { clock });
  const filler = 'f'.repeat(300);
  await appendKeyed(
    log,
    [
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ],
    clock.nowMs,
  );
  await appendKeyed(log, [{ key: 'a', value: null }], clock.nowMs);
  for (let i = 0; i < 8; i += 1) await appendKeyed(log, [{ key: 'c', value: filler }], clock.nowMs);
  await cleanNow(log, clock, { deleteRetentionMs: 1000 });
  let records = await readAllRecords(log);
  expect(records.filter((r) => r.key === 'a')).toEqual([{ offset: 2, key: 'a', value: null }]);
  clock.nowMs += 1000; // Not yet more than delete.retention.ms.
  for (let i = 0; i < 8; i += 1) await appendKeyed(log, [{ key: 'd', value: filler }], clock.nowMs);
  await cleanNow(log, clock, { deleteRetentionMs: 1000 });
  records = await readAllRecords(log);
  expect(records.filter((r) => r.key === 'a')).toHaveLength(1);
  clock.nowMs += 1;
  for (let i = 0; i < 8; i += 1) await appendKeyed(log, [{ key: 'e', value: filler }], clock.nowMs);
  await cleanNow(log, clock, { deleteRetentionMs: 1000 });
  records = await readAllRecords(log);
  expect(records.filter((r) => r.key === 'a')).toEqual([]);
  expect(records.filter((r) => r.key === 'b')).toEqual([{ offset: 1, key: 'b', value: '2' }]);
  log.checkInvariants();
  await log.close();
});

test('nothing at or above the HW is cleaned', async () => {
  const clock = new HandClock();
  const log = await PartitionLog.open(join(root, 'log'), compactedLogConfig, { clock });
  for (let i = 0; i < 40; i += 1) {
    await appendKeyed(log, [{ key: 'k', value: `${i}-${'y'.repeat(100)}` }], clock.nowMs);
  }
  const before = await readAllRecords(log);
  const result = await log.clean({
    nowMs: clock.nowMs,
    highWatermark: 20,
    minCompactionLagMs: 0,
    deleteRetentionMs: 0,
    offsetMap: new OffsetMap(4096),
    yieldNow: () => Promise.resolve(),
  });
  expect(result.firstDirtyOffset).toBeLessThanOrEqual(20);
  const after = await readAllRecords(log);
  expect(after.filter((r) => r.offset >= 20)).toEqual(before.filter((r) => r.offset >= 20));
  expect(after.filter((r) => r.offset < result.firstDirtyOffset)).toHaveLength(1);
  await log.close();
});

test('a key map smaller than the dirty keys cleans in several passes', async () => {
  const clock = new HandClock();
  const dir = join(root, 'log');
  const written = await fill(dir, clock, 50);
  const log = await PartitionLog.open(dir, compactedLogConfig, { clock });
  const map = new OffsetMap(24 * 6); // Five keys at most.
  const points: number[] = [];
  for (let pass = 0; pass < 200; pass += 1) {
    const result = await cleanNow(log, clock, { map });
    if (result.outcome !== 'cleaned') break;
    points.push(result.firstDirtyOffset);
  }
  expect(points.length).toBeGreaterThan(1);
  expect([...points].sort((a, b) => a - b)).toEqual(points);
  expect(latestFromRead(await readAllRecords(log))).toEqual(liveValues(written));
  await log.close();
});

test('a swap interrupted at any step is finished or discarded at open', async () => {
  const clock = new HandClock();
  const original = join(root, 'original');
  const written = await fill(original, clock, 60);
  const cleaned = join(root, 'cleaned');
  cpSync(original, cleaned, { recursive: true });
  const cleanedLog = await PartitionLog.open(cleaned, compactedLogConfig, { clock });
  await cleanNow(cleanedLog, clock);
  const cleanedRecords = await readAllRecords(cleanedLog);
  await cleanedLog.close();
  const originalLog = await PartitionLog.open(original, compactedLogConfig, { clock });
  const originalRecords = await readAllRecords(originalLog);
  await originalLog.close();
  const names = [0, 1, 2].map((i) => segmentFileName(0, ['.index', '.timeindex', '.log'][i] ?? ''));
  const plan = swapPlan(0);
  const logNames = readdirSync(original)
    .filter((n) => n.endsWith('.log'))
    .sort();
  const segmentOneBase = Number(logNames[1]?.slice(0, 20));
  expect(segmentOneBase).toBeGreaterThan(0);
  for (let steps = 0; steps <= plan.length; steps += 1) {
    const dir = join(root, `crash-${steps}`);
    cpSync(original, dir, { recursive: true });
    for (const name of names) cpSync(join(cleaned, name), join(dir, name + CLEANED_SUFFIX));
    for (const step of plan.slice(0, steps)) runSwapStep(dir, step);
    const log = await PartitionLog.open(dir, compactedLogConfig, { clock });
    log.checkInvariants();
    const records = await readAllRecords(log);
    const committed = steps >= 3; // The log's rename to .swap is the third step.
    // Segment 0 is the original or the cleaned one, whole; the others are the originals.
    const inSegmentZero = (all: typeof records) => all.filter((r) => r.offset < segmentOneBase);
    const expected = committed ? cleanedRecords : originalRecords;
    expect(inSegmentZero(records)).toEqual(inSegmentZero(expected));
    expect(records.filter((r) => r.offset >= segmentOneBase)).toEqual(
      originalRecords.filter((r) => r.offset >= segmentOneBase),
    );
    expect(latestFromRead(records)).toEqual(liveValues(written));
    expect(readdirSync(dir).filter((n) => /\.(cleaned|swap)$/.test(n))).toEqual([]);
    await log.close();
  }
});
