// A FIFO with a fixed capacity: every queue has a number. When full, the caller answers a
// retriable *_BUSY code instead of buffering.
import { assert } from './assert.ts';

export class BoundedQueue<T> {
  readonly #items: (T | undefined)[];
  readonly #countMax: number;
  #head = 0;
  #count = 0;
  constructor(countMax: number) {
    assert(Number.isInteger(countMax), 'countMax must be an integer');
    assert(countMax > 0, 'countMax must be positive');
    this.#countMax = countMax;
    this.#items = new Array<T | undefined>(countMax);
  }
  get length(): number {
    return this.#count;
  }
  get isFull(): boolean {
    return this.#count === this.#countMax;
  }
  /** Returns false when full. */
  tryPush(item: T): boolean {
    if (this.#count === this.#countMax) return false;
    this.#items[(this.#head + this.#count) % this.#countMax] = item;
    this.#count += 1;
    return true;
  }
  shift(): T | undefined {
    if (this.#count === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#countMax;
    this.#count -= 1;
    return item;
  }
  peek(): T | undefined {
    return this.#count === 0 ? undefined : this.#items[this.#head];
  }
}
