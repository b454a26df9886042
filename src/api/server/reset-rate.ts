// How fast one HTTP/2 connection resets its streams, over a sliding window: the pure core of
// the rapid-reset guard (CVE-2023-44487). It keeps the times of the last `resetsMax` resets in
// a ring; one more within `windowMs` of the oldest of them is over the rate.
import { assert } from '../../common/index.ts';

export class ResetRate {
  readonly #resetsMax: number;
  readonly #windowMs: number;
  /** Times of the latest resets, oldest at #next once the ring is full. */
  readonly #atMs: number[] = [];
  #next = 0;

  constructor(config: { readonly resetsMax: number; readonly windowMs: number }) {
    assert(Number.isInteger(config.resetsMax), 'resetsMax must be an integer');
    assert(config.resetsMax > 0, 'resetsMax must be positive');
    assert(config.windowMs > 0, 'windowMs must be positive');
    this.#resetsMax = config.resetsMax;
    this.#windowMs = config.windowMs;
  }

  /** Records a reset at nowMs; true when it is more than resetsMax within one window. */
  onReset(nowMs: number): boolean {
    if (this.#atMs.length < this.#resetsMax) {
      this.#atMs.push(nowMs);
      return false;
    }
    const oldest = this.#atMs[this.#next] as number;
    this.#atMs[this.#next] = nowMs;
    this.#next = (this.#next + 1) % this.#resetsMax;
    return nowMs - oldest < this.#windowMs;
  }
}
