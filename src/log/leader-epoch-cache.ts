// The leader-epoch cache of one partition (pure): which leader epoch began at which offset.
// Invariant: entries are strictly increasing in both epoch and start offset. It answers
// KIP-279's question "where did epoch e end?", which a new follower asks before it truncates.
// Persisted as `leader-epoch-checkpoint` in Kafka's text layout: version, count, "epoch offset".
import { assert } from '../common/index.ts';

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

export class LeaderEpochCache {
  #entries: EpochEntry[];

  constructor(entries: readonly EpochEntry[] = []) {
    this.#entries = [...entries];
    this.checkInvariants();
  }

  get entries(): readonly EpochEntry[] {
    return this.#entries;
  }

  latestEpoch(): number | null {
    return this.#entries.at(-1)?.epoch ?? null;
  }

  /** Records that `epoch` starts at `startOffset`; returns false when it is not newer. */
  assign(epoch: number, startOffset: number): boolean {
    assert(Number.isInteger(epoch) && epoch >= 0, `bad epoch ${epoch}`);
    assert(Number.isSafeInteger(startOffset) && startOffset >= 0, `bad offset ${startOffset}`);
    const latest = this.#entries.at(-1);
    if (latest !== undefined && epoch <= latest.epoch) return false;
    if (latest !== undefined) {
      assert(
        startOffset >= latest.startOffset,
        `epoch ${epoch} starts before epoch ${latest.epoch}`,
      );
      // An epoch that wrote nothing is superseded by the newer one at the same offset.
      if (startOffset === latest.startOffset) this.#entries.pop();
    }
    this.#entries.push({ epoch, startOffset });
    return true;
  }

  /** Drops the epochs that start at or after `endOffset` (the log was truncated there). */
  truncateFromEnd(endOffset: number): boolean {
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((entry) => entry.startOffset < endOffset);
    return this.#entries.length !== before;
  }

  /** The log now starts at `startOffset`: the epoch covering it starts there, older ones go. */
  truncateFromStart(startOffset: number): boolean {
    let covering = -1;
    for (let i = 0; i < this.#entries.length; i += 1) {
      if ((this.#entries[i]?.startOffset ?? Infinity) <= startOffset) covering = i;
    }
    const entry = this.#entries[covering];
    if (entry === undefined || (covering === 0 && entry.startOffset === startOffset)) return false;
    this.#entries = [{ epoch: entry.epoch, startOffset }, ...this.#entries.slice(covering + 1)];
    return true;
  }

  /**
   * KIP-279: the largest epoch ≤ `epoch`, and its end offset — the start of the next epoch, or
   * the log end offset for the latest one. Null when every known epoch is newer.
   */
  endOffsetForEpoch(
    epoch: number,
    logEndOffset: number,
  ): { epoch: number; endOffset: number } | null {
    let found = -1;
    for (let i = 0; i < this.#entries.length; i += 1) {
      if ((this.#entries[i]?.epoch ?? Infinity) <= epoch) found = i;
    }
    const entry = this.#entries[found];
    if (entry === undefined) return null;
    const next = this.#entries[found + 1];
    return { epoch: entry.epoch, endOffset: next === undefined ? logEndOffset : next.startOffset };
  }

  checkInvariants(): void {
    for (let i = 1; i < this.#entries.length; i += 1) {
      const previous = this.#entries[i - 1];
      const entry = this.#entries[i];
      assert(previous !== undefined && entry !== undefined, 'dense entries');
      assert(entry.epoch > previous.epoch, 'epochs strictly increase');
      assert(entry.startOffset > previous.startOffset, 'start offsets strictly increase');
    }
  }

  serialize(): string {
    const lines = ['0', String(this.#entries.length)];
    for (const entry of this.#entries) lines.push(`${entry.epoch} ${entry.startOffset}`);
    return `${lines.join('\n')}\n`;
  }

  /** Null when the text is not a well-formed checkpoint. */
  static parse(text: string): LeaderEpochCache | null {
    const lines = text.split('\n').filter((line) => line.length > 0);
    if (lines[0] !== '0' || Number(lines[1]) !== lines.length - 2) return null;
    const entries: EpochEntry[] = [];
    for (const line of lines.slice(2)) {
      const [epoch, startOffset, ...rest] = line.split(' ').map(Number);
      if (epoch === undefined || startOffset === undefined || rest.length > 0) return null;
      if (!Number.isInteger(epoch) || !Number.isSafeInteger(startOffset)) return null;
      const last = entries.at(-1);
      if (epoch < 0 || startOffset < 0) return null;
      if (last !== undefined && (epoch <= last.epoch || startOffset <= last.startOffset))
        return null;
      entries.push({ epoch, startOffset });
    }
    return new LeaderEpochCache(entries);
  }
}
