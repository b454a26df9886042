// Goal: retry delays grow exponentially to a cap and spread by jitter within their bounds.
import { describe, expect, test } from 'vitest';
import { SeededRandom, type Random } from '../../../src/common/index.ts';
import { backoffDelayMs } from '../../../src/api/client/backoff.ts';

const fixed = (value: number): Random => ({ int: (max) => Math.min(max - 1, value) });

describe('backoffDelayMs', () => {
  const config = { backoffMs: 100, backoffMaxMs: 1000, jitter: 0.2 };

  test('without jitter spread it doubles up to the cap', () => {
    const mid = fixed(500_000); // factor exactly 1
    const delays = [0, 1, 2, 3, 4, 10, 60].map((a) => backoffDelayMs(config, a, mid));
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  test('jitter stays within ±20% and varies', () => {
    const seed = Date.now() % 1_000_000;
    const random = new SeededRandom(seed);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i += 1) {
      const delay = backoffDelayMs(config, 2, random);
      expect(delay, `seed ${seed}`).toBeGreaterThanOrEqual(320);
      expect(delay, `seed ${seed}`).toBeLessThanOrEqual(480);
      seen.add(delay);
    }
    expect(seen.size).toBeGreaterThan(50);
  });
});
