// Requests parked until a condition holds or their deadline passes (Kafka's purgatory): consumer
// fetches waiting for the high watermark to pass their offset (acks=all produces park in the
// leader core instead, follower sessions in ReplicaService). Waiters are keyed by partition and
// woken by the event that can satisfy them, never by polling. At most `waitersMax` wait.
import { assert, type Clock } from '../common/index.ts';

export type WaitOutcome = 'satisfied' | 'expired';

interface Waiter {
  readonly isSatisfied: () => boolean;
  readonly resolve: (outcome: WaitOutcome) => void;
  cancelTimer: () => void;
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
   * Parks until `isSatisfied()` is true at a wake of `key`, or `timeoutMs` passes. Resolves
   * at once when it already holds. Returns null when the purgatory is full: the caller answers
   * BROKER_BUSY instead of parking.
   */
  wait(key: string, timeoutMs: number, isSatisfied: () => boolean): Promise<WaitOutcome> | null {
    if (isSatisfied()) return Promise.resolve('satisfied');
    if (timeoutMs <= 0) return Promise.resolve('expired');
    if (this.#count >= this.#waitersMax) return null;
    return new Promise((resolve) => {
      const waiter: Waiter = { isSatisfied, resolve, cancelTimer: () => undefined };
      let waiters = this.#waitersByKey.get(key);
      if (waiters === undefined) {
        waiters = new Set();
        this.#waitersByKey.set(key, waiters);
      }
      waiters.add(waiter);
      this.#count += 1;
      waiter.cancelTimer = this.#clock.schedule(timeoutMs, () => {
        this.#remove(key, waiter);
        resolve('expired');
      });
    });
  }

  /** Re-checks the waiters of `key`; the satisfied ones resume. */
  wake(key: string): void {
    const waiters = this.#waitersByKey.get(key);
    if (waiters === undefined) return;
    for (const waiter of waiters) {
      if (!waiter.isSatisfied()) continue;
      waiter.cancelTimer();
      this.#remove(key, waiter);
      waiter.resolve('satisfied');
    }
  }

  /** Resumes every waiter of `key` whatever its condition (partition moved, deleted, closing). */
  release(key: string): void {
    const waiters = this.#waitersByKey.get(key);
    if (waiters === undefined) return;
    for (const waiter of waiters) {
      waiter.cancelTimer();
      this.#remove(key, waiter);
      waiter.resolve('satisfied');
    }
  }

  releaseAll(): void {
    for (const key of [...this.#waitersByKey.keys()]) this.release(key);
  }

  #remove(key: string, waiter: Waiter): void {
    const waiters = this.#waitersByKey.get(key);
    if (waiters?.delete(waiter) !== true) return;
    this.#count -= 1;
    if (waiters.size === 0) this.#waitersByKey.delete(key);
  }
}
