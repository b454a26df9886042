// Goal: the leader-epoch cache answers KIP-279 end-offset queries and survives truncation at
// both ends and a round trip through its checkpoint text. Method: fixed cases.
import { describe, expect, test } from 'vitest';
import { LeaderEpochCache } from '../../../src/log/index.ts';

describe('LeaderEpochCache', () => {
  test('endOffsetForEpoch: the largest epoch ≤ asked, ended by the next one or the LEO', () => {
    const cache = new LeaderEpochCache();
    expect(cache.latestEpoch()).toBe(null);
    expect(cache.endOffsetForEpoch(3, 0)).toBe(null);
    cache.assign(1, 0);
    cache.assign(3, 10);
    cache.assign(6, 25);
    expect(cache.latestEpoch()).toBe(6);
    expect(cache.endOffsetForEpoch(0, 40)).toBe(null);
    expect(cache.endOffsetForEpoch(1, 40)).toEqual({ epoch: 1, endOffset: 10 });
    expect(cache.endOffsetForEpoch(2, 40)).toEqual({ epoch: 1, endOffset: 10 });
    expect(cache.endOffsetForEpoch(5, 40)).toEqual({ epoch: 3, endOffset: 25 });
    expect(cache.endOffsetForEpoch(6, 40)).toEqual({ epoch: 6, endOffset: 40 });
    expect(cache.endOffsetForEpoch(9, 40)).toEqual({ epoch: 6, endOffset: 40 });
  });

  test('assign ignores older epochs and replaces an epoch that wrote nothing', () => {
    const cache = new LeaderEpochCache([{ epoch: 2, startOffset: 5 }]);
    expect(cache.assign(2, 9)).toBe(false);
    expect(cache.assign(1, 9)).toBe(false);
    expect(cache.assign(4, 5)).toBe(true);
    expect(cache.entries).toEqual([{ epoch: 4, startOffset: 5 }]);
    expect(() => cache.assign(5, 4)).toThrow(/starts before/);
  });

  test('truncation from the end and from the start', () => {
    const cache = new LeaderEpochCache([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 10 },
      { epoch: 6, startOffset: 25 },
    ]);
    expect(cache.truncateFromEnd(25)).toBe(true);
    expect(cache.latestEpoch()).toBe(3);
    expect(cache.truncateFromStart(12)).toBe(true);
    expect(cache.entries).toEqual([{ epoch: 3, startOffset: 12 }]);
    expect(cache.truncateFromStart(12)).toBe(false);
    cache.checkInvariants();
  });

  test('checkpoint text round-trips and rejects damage', () => {
    const cache = new LeaderEpochCache([
      { epoch: 0, startOffset: 0 },
      { epoch: 7, startOffset: 99 },
    ]);
    expect(cache.serialize()).toBe('0\n2\n0 0\n7 99\n');
    expect(LeaderEpochCache.parse(cache.serialize())?.entries).toEqual(cache.entries);
    expect(LeaderEpochCache.parse('0\n3\n0 0\n7 99\n')).toBe(null);
    expect(LeaderEpochCache.parse('0\n2\n7 0\n3 99\n')).toBe(null);
    expect(LeaderEpochCache.parse('1\n0\n')).toBe(null);
    expect(LeaderEpochCache.parse('0\n1\n1 x\n')).toBe(null);
  });
});
