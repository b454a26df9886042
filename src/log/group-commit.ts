// Group commit: many appends, one fsync. A caller asks for a sync after its write; if a sync
// is already running, the caller waits for the next one, which then serves every caller that
// queued meanwhile. So N concurrent appends cost about two syncs, not N, and each caller is
// resolved only by a sync that began after its request (and so after its write).

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommit {
  readonly #sync: () => Promise<void>;
  #running = false;
  #waiting: Waiter[] = [];
  /** Syncs started so far; tests and the benchmark read it to see the grouping. */
  syncCount = 0;

  constructor(sync: () => Promise<void>) {
    this.#sync = sync;
  }

  /** Resolves after a sync that started after this call has completed. */
  request(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#maybeStart();
    });
  }

  get isIdle(): boolean {
    return !this.#running && this.#waiting.length === 0;
  }

  #maybeStart(): void {
    if (this.#running || this.#waiting.length === 0) return;
    const group = this.#waiting;
    this.#waiting = [];
    this.#running = true;
    this.syncCount += 1;
    const settle = (): void => {
      this.#running = false;
      this.#maybeStart();
    };
    void this.#sync().then(
      () => {
        for (const waiter of group) waiter.resolve();
        settle();
      },
      (error: unknown) => {
        for (const waiter of group) waiter.reject(error);
        settle();
      },
    );
  }
}
