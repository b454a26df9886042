// A binary min-heap of simulator events ordered by (time, seq): equal times run in the order
// they were scheduled, so a run is a pure function of its seed (KRaft's EventScheduler idea).
export interface Scheduled<T> {
  readonly time: number;
  readonly seq: number;
  readonly event: T;
}

export class EventQueue<T> {
  readonly #heap: Scheduled<T>[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(time: number, event: T): void {
    this.#heap.push({ time, seq: this.#seq++, event });
    let i = this.#heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  /** Removes and returns the earliest event due at or before `time`. */
  popDue(time: number): Scheduled<T> | undefined {
    const top = this.#heap[0];
    if (top === undefined || top.time > time) return undefined;
    const last = this.#heap.pop();
    if (last !== undefined && this.#heap.length > 0) {
      this.#heap[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  clear(): void {
    this.#heap.length = 0;
  }

  #siftDown(start: number): void {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < this.#heap.length && this.#less(left, smallest)) smallest = left;
      if (right < this.#heap.length && this.#less(right, smallest)) smallest = right;
      if (smallest === i) return;
      this.#swap(i, smallest);
      i = smallest;
    }
  }

  #less(a: number, b: number): boolean {
    const x = this.#heap[a];
    const y = this.#heap[b];
    if (x === undefined || y === undefined) return false;
    return x.time < y.time || (x.time === y.time && x.seq < y.seq);
  }

  #swap(a: number, b: number): void {
    const x = this.#heap[a];
    const y = this.#heap[b];
    if (x === undefined || y === undefined) return;
    this.#heap[a] = y;
    this.#heap[b] = x;
  }
}
