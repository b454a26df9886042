// The cluster simulator's loop: SteppedSim's, but each step is awaited, because the production
// Raft path it drives (RaftMetadataLog, RaftDriver) continues in promise callbacks. The seam:
// the simulated storage completes every save synchronously, nothing does real I/O, and after
// each event the step waits until the microtask queue has drained completely: every round the
// event caused has run to its end. Microtasks run in a deterministic order, so a run is still
// a pure function of its seed.

/**
 * Resolves after every microtask queued so far (and every one they queue) has run. From inside
 * a microtask, a process.nextTick callback runs only once V8 has emptied the microtask queue
 * (Node runs its tick queue between microtask checkpoints), so no event-loop turn is needed
 * (setImmediate cost a turn, an epoll_wait, per step). Exact while the code under simulation
 * queues no nextTick of its own (src/ has none on the simulated paths).
 */
export async function drainMicrotasks(): Promise<void> {
  await Promise.resolve(); // Now inside a microtask, whatever the caller was.
  await new Promise<void>((resolve) => process.nextTick(resolve));
}

export abstract class AsyncSteppedSim<
  O extends { readonly seed: number; followerFactory: unknown },
> {
  readonly options: O;
  /** One line per event, for failure messages. */
  readonly trace: string[] = [];
  nowMs = 0;

  constructor(options: O) {
    this.options = options;
  }

  /** Runs the next event, drains microtasks, then runs the invariant checks. */
  abstract step(): Promise<void>;

  /** The seed and options (without the follower factory): enough to replay the run. */
  describe(): string {
    const { followerFactory: _f, ...rest } = this.options;
    return `seed=${this.options.seed} options=${JSON.stringify(rest)}`;
  }

  /** Runs events for `durationMs` of virtual time. */
  async runFor(durationMs: number): Promise<void> {
    await this.runUntil(() => false, durationMs);
  }

  /** Runs until `done()` holds or `durationMsMax` passes; returns whether it held. */
  async runUntil(done: () => boolean, durationMsMax: number): Promise<boolean> {
    const endMs = this.nowMs + durationMsMax;
    while (this.nowMs <= endMs) {
      if (done()) return true;
      await this.step();
    }
    return done();
  }

  /** Like runUntil, but a timeout throws naming `what`, with the run and its last events. */
  async must(done: () => boolean, what: string, durationMsMax = 3000): Promise<void> {
    if (await this.runUntil(done, durationMsMax)) return;
    throw new Error(
      `timed out waiting for ${what}; ${this.describe()}\n${this.trace.slice(-25).join('\n')}`,
    );
  }
}
