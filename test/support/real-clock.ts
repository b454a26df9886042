// The real clocks for tests and scripts that run on real time (h2c servers, LevelDB, files,
// child processes): performance.now(), Date.now() and setTimeout. Simulated tests use their own
// virtual clocks instead.
import type { Clock, WallClock } from '../../src/common/index.ts';

export const realClock: Clock = {
  nowMs: () => performance.now(),
  schedule(delayMs, run) {
    const timer = setTimeout(run, delayMs);
    return () => clearTimeout(timer);
  },
};

export const realWallClock: WallClock = { wallMs: () => Date.now() };

/** What PartitionLog takes: record timestamps and timers for interval flushes. */
export const realLogClock: WallClock & Pick<Clock, 'schedule'> = {
  wallMs: realWallClock.wallMs,
  schedule: realClock.schedule,
};
