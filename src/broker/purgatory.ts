// Requests parked until a condition holds or their deadline passes (Kafka's purgatory): consumer
// fetches waiting for the high watermark to pass their offset (acks=all produces park in the
// leader core instead, follower sessions in ReplicaService). Waiters are keyed by partition and
// woken by the event that can satisfy them, never by polling. At most `waitersMax` wait; a
// waiter whose signal aborts (its client reset the stream) leaves at once and frees its slot.
import { assert, type Clock } from '../common/index.ts';

export type WaitOutcome = 'satisfied' | 'expired' | 'cancelled';

interface Waiter {
  readonly isSatisfied: () => boolean;
  /** Settles the wait once: stops its timer and abort listener, then resolves. */
  readonly settle: (outcome: WaitOutcome) => void;
}

export class Purgatory {
  readonly #waitersMax: number;
  readonly #clock: Clock;
  readonly #waitersByKey = new Map<string, Set<Waiter>>();
  #count = 0;

  constructor(config: { readonly waitersMax: number }, deps: { readonly clock: Clock }) {
    assert(Number.isInteger(config.waitersMax) && config.waitersMax > 0, 'waitersMax > 0');
    this.#waitersMax = config.waitersMax;
    this.#clock = deps.clock;
  }

  get size(): number {
    return this.#count;
  }

  /**
   * Parks until `isSatisfied()` is true at a wake of `key`, `timeoutMs` passes or `signal`
   * aborts ('cancelled', its slot freed at once). Resolves at once when it already holds.
   * Returns null when the purgatory is full: the caller answers BROKER_BUSY instead of parking.
   */
  wait(
    key: string,
    timeoutMs: number,
    isSatisfied: () => boolean,
    signal?: AbortSignal,
  ): Promise<WaitOutcome> | null {
    if (signal?.aborted === true) return Promise.resolve('cancelled');
    if (isSatisfied()) return Promise.resolve('satisfied');
    if (timeoutMs <= 0) return Promise.resolve('expired');
    if (this.#count >= this.#waitersMax) return null;
    return new Promise((resolve) => {
      let cancelTimer = (): void => undefined;
      const onAbort = (): void => waiter.settle('cancelled');
      const waiter: Waiter = {
        isSatisfied,
        settle: (outcome) => {
          if (!this.#remove(key, waiter)) return;
          cancelTimer();
          signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
      };
      let waiters = this.#waitersByKey.get(key);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waitersByKey.set(key, waiters);
      }
      waiters.add(waiter);
      this.#count += 1;
      cancelTimer = this.#clock.schedule(timeoutMs, () => waiter.settle('expired'));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Re-checks the waiters of `key`; the satisfied ones resume. */
  wake(key: string): void {
    const waiters = this.#waitersByKey.get(key);
    if (waiters === undefined) return;
    for (const waiter of waiters) {
      if (waiter.isSatisfied()) waiter.settle('satisfied');
    }
  }

  /** Resumes every waiter of `key` whatever its condition (partition moved, deleted, closing). */
  release(key: string): void {
    const waiters = this.#waitersByKey.get(key);
    if (waiters === undefined) return;
    for (const waiter of waiters) waiter.settle('satisfied');
  }

  releaseAll(): void {
    for (const key of [...this.#waitersByKey.keys()]) this.release(key);
  }

  /** False when the waiter had already left. */
  #remove(key: string, waiter: Waiter): boolean {
    const waiters = this.#waitersByKey.get(key);
    if (waiters?.delete(waiter) !== true) return false;
    this.#count -= 1;
    if (waiters.size === 0) this.#waitersByKey.delete(key);
    return true;
  }
}
