// Goal: keyed records follow murmur2; null-key records stick to one partition until its batch
// is sent, then move to a different one. Method: a seeded Random port, printed seed.
import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import { partitionForKey } from '../../../src/api/murmur2.ts';
import { StickyPartitioner } from '../../../src/api/client/sticky-partitioner.ts';

const seed = Date.now() % 1_000_000;
console.log(`sticky partitioner seed ${seed}`);

function partitioner(topicsMax = 100): StickyPartitioner {
  return new StickyPartitioner({ topicsMax }, { random: new SeededRandom(seed) });
}

describe('StickyPartitioner', () => {
  test('a keyed record goes where murmur2 puts it, whatever the sticky partition', () => {
    const p = partitioner();
    for (const key of ['a', 'b', 'user-42', 'foobar']) {
      const bytes = Buffer.from(key);
      expect(p.partition('t', bytes, 12)).toBe(partitionForKey(bytes, 12));
    }
  });

  test('null keys stick until the batch is sent, then move to another partition', () => {
    const p = partitioner();
    const first = p.partition('t', null, 8);
    for (let i = 0; i < 100; i += 1) expect(p.partition('t', null, 8)).toBe(first);
    p.onBatchComplete('t', (first + 1) % 8, 8); // Another partition's batch: no switch.
    expect(p.partition('t', null, 8)).toBe(first);
    let previous = first;
    const seen = new Set<number>([first]);
    for (let i = 0; i < 200; i += 1) {
      p.onBatchComplete('t', previous, 8);
      const next = p.partition('t', null, 8);
      expect(next, `seed ${seed}`).not.toBe(previous);
      seen.add(next);
      previous = next;
    }
    expect(seen.size, `seed ${seed}: null keys spread over all partitions`).toBe(8);
  });

  test('one partition stays on it; topics are independent and bounded', () => {
    const p = partitioner(2);
    expect(p.partition('one', null, 1)).toBe(0);
    p.onBatchComplete('one', 0, 1);
    expect(p.partition('one', null, 1)).toBe(0);
    p.partition('a', null, 1000);
    const b = p.partition('b', null, 1000); // Evicts 'one' (topicsMax 2).
    const c = p.partition('c', null, 1000); // Evicts 'a'.
    expect(p.partition('b', null, 1000)).toBe(b);
    expect(p.partition('c', null, 1000)).toBe(c);
  });

  test('a sticky partition beyond a shrunk partition count is replaced', () => {
    const p = partitioner();
    for (let i = 0; i < 50; i += 1) {
      p.onBatchComplete('t', p.partition('t', null, 100), 100);
      expect(p.partition('t', null, 3)).toBeLessThan(3);
    }
  });
});
