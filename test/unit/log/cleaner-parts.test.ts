// Goal: the cleaner's pure parts, case by case — the cleanable range and dirty ratio, the
// checkpoint text, the bounded key map, the choice of the partition to clean — and the
// discard of stray staged files at open. Method: table tests; one temporary directory.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import {
  defaultTopicConfig,
  pickCandidate,
  resolveTopicConfig,
  type TopicConfig,
} from '../../../src/broker/index.ts';
import {
  formatCleanerCheckpoint,
  parseCleanerCheckpoint,
} from '../../../src/log/cleaner-checkpoint.ts';
import { finishInterruptedCleans } from '../../../src/log/cleaner-swap.ts';
import { cleanerStatus } from '../../../src/log/cleaner.ts';
import { OffsetMap, type CleanerStatus } from '../../../src/log/index.ts';

const segments = [
  { baseOffset: 0, nextOffset: 10, sizeBytes: 1000, maxTimestampMs: 100 },
  { baseOffset: 10, nextOffset: 20, sizeBytes: 1000, maxTimestampMs: 200 },
  { baseOffset: 20, nextOffset: 30, sizeBytes: 1000, maxTimestampMs: 300 },
  { baseOffset: 30, nextOffset: 35, sizeBytes: 500, maxTimestampMs: 400 }, // Active.
];
const point = (firstDirtyOffset: number) => ({ firstDirtyOffset, firstCleanedAtMs: new Map() });

test.each([
  // [cleaner point, HW, now, min lag] → [cleanable end, clean bytes, dirty bytes]
  [0, 35, 1000, 0, 30, 0, 3000],
  [10, 35, 1000, 0, 30, 1000, 2000],
  [30, 35, 1000, 0, 30, 3000, 0],
  [0, 25, 1000, 0, 20, 0, 2000], // The HW cuts the third segment out.
  [0, 35, 1000, 750, 20, 0, 2000], // So does min.compaction.lag.ms (300 is too young).
  [0, 35, 1000, 10_000, 0, 0, 0],
])(
  'point %i, HW %i, now %i, lag %i: end %i, clean %i, dirty %i',
  (firstDirty, hw, nowMs, lagMs, end, clean, dirty) => {
    const status = cleanerStatus(segments, point(firstDirty), 0, {
      nowMs,
      highWatermark: hw,
      minCompactionLagMs: lagMs,
    });
    expect(status).toMatchObject({ cleanableEndOffset: end, cleanBytes: clean, dirtyBytes: dirty });
    const total = clean + dirty;
    expect(status.dirtyRatio).toBe(total === 0 ? 0 : dirty / total);
  },
);

test('the dirty timestamp is the first dirty segment newest one; the active never counts', () => {
  const limits = { nowMs: 1000, highWatermark: 35, minCompactionLagMs: 0 };
  expect(cleanerStatus(segments, point(10), 0, limits).firstDirtyTimestampMs).toBe(200);
  expect(cleanerStatus(segments, point(30), 0, limits).firstDirtyTimestampMs).toBeNull();
  // A log start past the checkpoint moves the point up with it.
  expect(cleanerStatus(segments, point(0), 20, limits).firstDirtyOffset).toBe(20);
});

test('the cleaner checkpoint round-trips and refuses malformed text', () => {
  const checkpoint = {
    firstDirtyOffset: 4213,
    firstCleanedAtMs: new Map([
      [0, 1_700_000_000_000],
      [2100, 1_700_000_001_000],
    ]),
  };
  const text = formatCleanerCheckpoint(checkpoint);
  expect(parseCleanerCheckpoint(text)).toEqual(checkpoint);
  for (const bad of [
    '',
    '1\n0\n0\n',
    '0\nx\n0\n',
    '0\n5\n2\n0 1\n',
    '0\n5\n1\n0\n',
    text.slice(0, -1),
  ]) {
    expect(parseCleanerCheckpoint(bad), JSON.stringify(bad)).toBeNull();
  }
  expect(parseCleanerCheckpoint(null)).toBeNull();
});

test('the key map keeps the last offset per key and refuses new keys when full', () => {
  const map = new OffsetMap(24 * 4); // 4 slots, 3 keys.
  expect(map.entriesMax).toBe(3);
  const key = (k: string) => Buffer.from(k);
  expect(map.put(key('a'), 1)).toBe(true);
  expect(map.put(key('b'), 2)).toBe(true);
  expect(map.put(key('a'), 7)).toBe(true);
  expect(map.put(key('c'), 3)).toBe(true);
  expect(map.put(key('d'), 4)).toBe(false);
  expect(map.put(key('b'), 9)).toBe(true); // A known key still updates.
  expect([map.get(key('a')), map.get(key('b')), map.get(key('c')), map.get(key('d'))]).toEqual([
    7, 9, 3, -1,
  ]);
  expect(map.free).toBe(0);
  map.clear();
  expect([map.size, map.get(key('a'))]).toEqual([0, -1]);
  expect(() => new OffsetMap(10)).toThrow();
});

function config(overrides: Record<string, string>): TopicConfig {
  const resolved = resolveTopicConfig(overrides);
  if (!resolved.ok) throw new Error(resolved.message);
  return resolved.config;
}

function status(dirtyRatio: number, firstDirtyTimestampMs: number | null = 0): CleanerStatus {
  return {
    firstDirtyOffset: 0,
    cleanableEndOffset: 10,
    cleanBytes: 100,
    dirtyBytes: dirtyRatio === 0 ? 0 : 100,
    dirtyRatio,
    firstDirtyTimestampMs,
  };
}

test('the cleaner picks the dirtiest compacted partition over the ratio, or one overdue', () => {
  const compact = config({ 'cleanup.policy': 'compact' });
  const lagged = config({ 'cleanup.policy': 'compact', 'max.compaction.lag.ms': '1000' });
  const pick = (...candidates: [TopicConfig, CleanerStatus][]) =>
    pickCandidate(
      candidates.map(([c, s], i) => ({ key: `t-${i}`, config: c, status: s })),
      5000,
    );
  expect(pick([compact, status(0.4)], [compact, status(0.6)], [compact, status(0.55)])).toBe(1);
  expect(pick([compact, status(0.4)])).toBeNull(); // Below min.cleanable.dirty.ratio 0.5.
  expect(pick([defaultTopicConfig, status(0.9)])).toBeNull(); // Not compacted.
  expect(pick([compact, status(0)])).toBeNull();
  expect(pick([compact, status(0.6)], [lagged, status(0.1, 3000)])).toBe(1); // Overdue wins.
  expect(pick([lagged, status(0.1, 4500)])).toBeNull(); // Not yet overdue.
});

test('stray staged files are discarded and a committed swap completed at open', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rill-swap-'));
  try {
    const base = (n: number) => String(n).padStart(20, '0');
    for (const name of [
      `${base(0)}.log.cleaned`,
      `${base(0)}.index.swap`, // Uncommitted: no .log.swap beside it.
      `${base(7)}.log`,
      `${base(7)}.index`,
      `${base(7)}.timeindex.swap`,
      `${base(7)}.log.swap`, // Committed.
    ]) {
      writeFileSync(join(dir, name), name);
    }
    expect(finishInterruptedCleans(dir)).toEqual([7]);
    expect(readdirSync(dir).sort()).toEqual([`${base(7)}.log`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
