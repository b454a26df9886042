// Goal: index entry codecs round-trip and the binary search finds the floor entry.
// Method: fixed cases and a seeded comparison against a linear scan.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  decodeOffsetIndexEntry,
  decodeTimeIndexEntry,
  encodeOffsetIndexEntry,
  encodeTimeIndexEntry,
  largestAtMost,
} from '../../../src/log/offset-index.ts';

describe('offset and time index entries', () => {
  test('round-trip big-endian', () => {
    const entry = encodeOffsetIndexEntry({ relativeOffset: 258, position: 65_536 });
    expect(entry.toString('hex')).toBe('0000010200010000');
    expect(decodeOffsetIndexEntry(entry)).toEqual({ relativeOffset: 258, position: 65_536 });
    const time = encodeTimeIndexEntry({ timestampMs: 1_700_000_000_000, relativeOffset: 7 });
    expect(decodeTimeIndexEntry(time)).toEqual({
      timestampMs: 1_700_000_000_000,
      relativeOffset: 7,
    });
  });

  test('largestAtMost agrees with a linear scan', () => {
    const seed = Date.now() % 1_000_000;
    console.log(`offset-index search seed ${seed}`);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat(1000)),
        fc.integer({ min: -5, max: 1005 }),
        (keys, target) => {
          keys.sort((a, b) => a - b);
          let want = -1;
          keys.forEach((key, i) => {
            if (key <= target) want = i;
          });
          expect(largestAtMost(keys.length, (i) => keys[i] ?? 0, target)).toBe(want);
        },
      ),
      { seed, numRuns: 200 },
    );
  });
});
