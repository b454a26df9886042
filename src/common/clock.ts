// Ports for time. The real clock is built in src/main.ts (and the CLI); simulated twins live
// in test/support. Pure cores never see a Clock: they take `nowMs` or count ticks.

export interface Clock {
  /** Milliseconds since an arbitrary epoch; monotonic in the real implementation. */
  nowMs(): number;
  /** Runs `run` after `delayMs`; returns a function that cancels it. */
  schedule(delayMs: number, run: () => void): () => void;
}

/** Wall-clock time for record timestamps (ms since the Unix epoch). */
export interface WallClock {
  wallMs(): number;
}
