// The real implementations of the Clock, WallClock and Random ports for client programs (the
// CLI, the benchmark, applications). Tests pass simulated twins instead.
import { randomInt } from 'node:crypto';
import { SeededRandom, type Clock, type Random, type WallClock } from '../../common/index.ts';

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  schedule(delayMs, run) {
    const timer = setTimeout(run, Math.max(0, delayMs));
    return () => clearTimeout(timer);
  },
};

export const systemWallClock: WallClock = { wallMs: () => Date.now() };

/** A generator seeded from the OS: clients need spread, not replay. */
export function systemRandom(): Random {
  return new SeededRandom(randomInt(2 ** 31));
}
