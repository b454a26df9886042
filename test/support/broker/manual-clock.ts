// A clock twin that moves only when the test says so: `advance(ms)` runs the timers that fall
// due, in time order. No global fake timers, no sleeping.
import type { Clock } from '../../../src/common/index.ts';

interface Timer {
  readonly atMs: number;
  readonly seq: number;
  readonly run: () => void;
}

export class ManualClock implements Clock {
  #nowMs = 0;
  #seq = 0;
  #timers: Timer[] = [];

  nowMs(): number {
    return this.#nowMs;
  }

  schedule(delayMs: number, run: () => void): () => void {
    const timer = { atMs: this.#nowMs + delayMs, seq: this.#seq++, run };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  get pendingTimers(): number {
    return this.#timers.length;
  }

  advance(ms: number): void {
    const until = this.#nowMs + ms;
    for (;;) {
      const due = this.#timers
        .filter((t) => t.atMs <= until)
        .sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#nowMs = due.atMs;
      due.run();
    }
    this.#nowMs = until;
  }
}
