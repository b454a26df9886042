// The real Clock for tests that run on real time (h2c servers, LevelDB, child processes):
// performance.now() and setTimeout. Simulated tests use their own virtual clocks instead.
import type { Clock } from '../../src/common/index.ts';

export const realClock: Clock = {
  nowMs: () => performance.now(),
  schedule(delayMs, run) {
    const timer = setTimeout(run, delayMs);
    return () => clearTimeout(timer);
  },
};
