// The simulator's pending events: a binary min-heap ordered by (atMs, seq), so events due at
// the same virtual time run in the order they were scheduled (KRaft's EventScheduler tie-break).
import { assert } from '../../../src/common/index.ts';

export interface Scheduled {
  readonly atMs: number;
  readonly seq: number;
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

export class EventQueue<E extends Scheduled> {
  readonly #heap: E[] = [];

  get length(): number {
    return this.#heap.length;
  }

  peek(): E | undefined {
    return this.#heap[0];
  }

  push(event: E): void {
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const up = heap[parent];
      assert(up !== undefined, 'heap parent');
      if (!before(event, up)) break;
      heap[i] = up;
      i = parent;
    }
    heap[i] = event;
  }

  pop(): E | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const leftEvent = heap[left];
      const rightEvent = heap[right];
      assert(leftEvent !== undefined, 'heap child');
      const child = rightEvent !== undefined && before(rightEvent, leftEvent) ? right : left;
      const childEvent = heap[child];
      assert(childEvent !== undefined, 'heap child');
      if (!before(childEvent, last)) break;
      heap[i] = childEvent;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}
