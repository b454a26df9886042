// The real implementations of the Clock, WallClock and Random ports for client programs (the
// CLI, the benchmark, applications). Tests pass simulated twins instead.
import { randomInt } from 'node:crypto';
import { SeededRandom, type Clock, type Random, type WallClock } from '../../common/index.ts';

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  schedule(delayMs, run) {
    // setTimeout waits at least 1 ms: a due wake-up (linger.ms 0, a flush) runs after I/O.
    if (delayMs <= 0) {
      const immediate = setImmediate(run);
      return () => clearImmediate(immediate);
    }
    const timer = setTimeout(run, delayMs);
    return () => clearTimeout(timer);
  },
};

export const systemWallClock: WallClock = { wallMs: () => Date.now() };

/** A generator seeded from the OS: clients need spread, not replay. */
export function systemRandom(): Random {
  return new SeededRandom(randomInt(2 ** 31));
}
