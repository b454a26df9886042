// The loop both replication simulators (this one and ../cluster-sim) share: a virtual clock
// that the subclass's step() advances by one event (a delivery or a tick), runs bounded in
// virtual time, and failure texts that name the seed, the options and the last events.

export abstract class SteppedSim<O extends { readonly seed: number; followerFactory: unknown }> {
  readonly options: O;
  /** One line per event, for failure messages. */
  readonly trace: string[] = [];
  nowMs = 0;

  constructor(options: O) {
    this.options = options;
  }

  /** Runs the next event, then the invariant checks. */
  abstract step(): void;

  /** The seed and options (without the follower factory): enough to replay the run. */
  describe(): string {
    const { followerFactory: _f, ...rest } = this.options;
    return `seed=${this.options.seed} options=${JSON.stringify(rest)}`;
  }

  /** Runs events for `durationMs` of virtual time. */
  runFor(durationMs: number): void {
    this.runUntil(() => false, durationMs);
  }

  /** Runs until `done()` holds or `durationMsMax` passes; returns whether it held. */
  runUntil(done: () => boolean, durationMsMax: number): boolean {
    const endMs = this.nowMs + durationMsMax;
    while (this.nowMs <= endMs) {
      if (done()) return true;
      this.step();
    }
    return done();
  }

  /** Like runUntil, but a timeout throws naming `what`, with the run and its last events. */
  must(done: () => boolean, what: string, durationMsMax = 3000): void {
    if (this.runUntil(done, durationMsMax)) return;
    throw new Error(
      `timed out waiting for ${what}; ${this.describe()}\n${this.trace.slice(-25).join('\n')}`,
    );
  }
}
