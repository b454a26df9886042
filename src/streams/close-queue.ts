// Items waiting for stream time to reach their close time (windows to emit or purge, join
// records to expire), kept sorted by close time so each advance of stream time pops only what
// is due. Its size mirrors store entries, so the store's entriesMax bounds it too.

interface Due<T> {
  readonly closeAtMs: number;
  readonly item: T;
}

export class CloseQueue<T> {
  readonly #items: Due<T>[] = [];
  /** Orders items due at the same time (default: insertion order). */
  readonly #tieBreak: ((a: T, b: T) => number) | null;

  constructor(tieBreak: ((a: T, b: T) => number) | null = null) {
    this.#tieBreak = tieBreak;
  }

  get size(): number {
    return this.#items.length;
  }

  add(closeAtMs: number, item: T): void {
    let low = 0;
    let high = this.#items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const at = this.#items[mid] as Due<T>;
      const before =
        at.closeAtMs < closeAtMs ||
        (at.closeAtMs === closeAtMs && (this.#tieBreak?.(at.item, item) ?? -1) <= 0);
      if (before) low = mid + 1;
      else high = mid;
    }
    this.#items.splice(low, 0, { closeAtMs, item });
  }

  /** Removes and returns, oldest close time first, every item with closeAtMs ≤ nowMs. */
  popDue(nowMs: number): T[] {
    let count = 0;
    while (count < this.#items.length && (this.#items[count] as Due<T>).closeAtMs <= nowMs) {
      count += 1;
    }
    return this.#items.splice(0, count).map((due) => due.item);
  }
}
