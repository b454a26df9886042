// The in-memory Raft log of one node: the latest snapshot (meta and image) followed by the
// entries after it, plus which suffix is not yet durable. Invariants: entries[i].index ===
// snapshot.index + 1 + i; terms never decrease along the log; stableIndex ≤ lastIndex; the
// membership in force is the last config entry's, else the snapshot's (thesis §4.1).
import { assert } from '../../common/index.ts';
import type { Entry, Index, Membership, Snapshot, SnapshotMeta, Term } from '../types.ts';
import { applyConfigChange, decodeConfigChange } from './membership.ts';

interface ConfigPoint {
  readonly index: Index;
  readonly membership: Membership;
}

export class RaftLog {
  #snapshotMeta: SnapshotMeta;
  /** The image at #snapshotMeta.index, kept to send to followers behind the first index. */
  #snapshot: Snapshot | null;
  #entries: Entry[] = [];
  /** Memberships after each config entry still in #entries, in index order. */
  #configs: ConfigPoint[] = [];
  /** Every entry up to here is durable in the driver's storage. */
  #stableIndex: Index;
  /** The first entry not yet handed to the driver in a Ready. */
  #unstableFrom: Index;
  /** checkInvariants() verified the entries up to here. */
  #checkedThrough: Index = 0;

  constructor(snapshotMeta: SnapshotMeta, snapshot: Snapshot | null, entries: readonly Entry[]) {
    this.#snapshotMeta = snapshotMeta;
    this.#snapshot = snapshot;
    for (const entry of entries) this.#push(entry);
    this.#stableIndex = this.lastIndex;
    this.#unstableFrom = this.lastIndex + 1;
  }

  get snapshotMeta(): SnapshotMeta {
    return this.#snapshotMeta;
  }
  get snapshot(): Snapshot | null {
    return this.#snapshot;
  }
  get firstIndex(): Index {
    return this.#snapshotMeta.index + 1;
  }
  get lastIndex(): Index {
    return this.#snapshotMeta.index + this.#entries.length;
  }
  get lastTerm(): Term {
    return this.#entries.at(-1)?.term ?? this.#snapshotMeta.term;
  }
  get stableIndex(): Index {
    return this.#stableIndex;
  }
  get membership(): Membership {
    return this.#configs.at(-1)?.membership ?? this.#snapshotMeta.membership;
  }
  /** The index of the last config entry in the log, or the snapshot index. */
  get lastConfigIndex(): Index {
    return this.#configs.at(-1)?.index ?? this.#snapshotMeta.index;
  }

  /** The term at `index`, or null when it is compacted away or beyond the last index. */
  termAt(index: Index): Term | null {
    if (index === this.#snapshotMeta.index) return this.#snapshotMeta.term;
    return this.entryAt(index)?.term ?? null;
  }

  entryAt(index: Index): Entry | undefined {
    if (index < this.firstIndex) return undefined;
    return this.#entries[index - this.firstIndex];
  }

  /** Entries in [from, to], at least one when any, and at most bytesMax of data beyond it. */
  slice(from: Index, to: Index, bytesMax = Number.POSITIVE_INFINITY): Entry[] {
    assert(from >= this.firstIndex, `slice from ${from} below first index ${this.firstIndex}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let index = from; index <= Math.min(to, this.lastIndex); index += 1) {
      const entry = this.entryAt(index);
      assert(entry !== undefined, `entry ${index} missing`);
      bytes += entry.data.byteLength;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(entry);
    }
    return out;
  }

  /** The first index of the run of `term` that contains `index` (fast back-off, §5.3). */
  firstIndexOfTerm(index: Index, term: Term): Index {
    let first = index;
    while (first - 1 >= this.firstIndex && this.termAt(first - 1) === term) first -= 1;
    return first;
  }

  /** The last index holding `term`, or null when the log has no entry of that term. */
  lastIndexOfTerm(term: Term): Index | null {
    for (let index = this.lastIndex; index >= this.firstIndex; index -= 1) {
      const at = this.termAt(index);
      if (at === term) return index;
      if (at !== null && at < term) return null;
    }
    return null;
  }

  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  append(entry: Entry): void {
    this.#push(entry);
  }

  /**
   * Appends a leader's entries that follow prevIndex, truncating at the first conflict. Returns
   * the truncation index, or null when nothing was truncated. The caller checks the match.
   */
  appendFromLeader(entries: readonly Entry[]): Index | null {
    let truncatedAt: Index | null = null;
    for (const entry of entries) {
      if (entry.index < this.firstIndex) continue;
      const existing = this.termAt(entry.index);
      if (existing === entry.term) continue;
      if (existing !== null) {
        this.truncateFrom(entry.index);
        truncatedAt = entry.index;
      }
      assert(entry.index === this.lastIndex + 1, `gap before entry ${entry.index}`);
      this.#push(entry);
    }
    return truncatedAt;
  }

  truncateFrom(index: Index): void {
    assert(index >= this.firstIndex, `truncate at ${index} below first index ${this.firstIndex}`);
    this.#entries.length = index - this.firstIndex;
    while ((this.#configs.at(-1)?.index ?? 0) >= index) this.#configs.pop();
    this.#stableIndex = Math.min(this.#stableIndex, index - 1);
    this.#unstableFrom = Math.min(this.#unstableFrom, index);
    this.#checkedThrough = Math.min(this.#checkedThrough, index - 1);
  }

  /** Drops entries up to `index` (≤ applied) behind a snapshot the state machine produced. */
  compact(index: Index, data: Uint8Array): Snapshot {
    const term = this.termAt(index);
    assert(term !== null, `compact at ${index}: entry not in the log`);
    assert(index > this.#snapshotMeta.index, `compact at ${index}: not past the snapshot`);
    assert(index <= this.#stableIndex, `compact at ${index}: entry not durable`);
    const meta: SnapshotMeta = { index, term, membership: this.membershipAt(index) };
    this.#entries = this.#entries.slice(index - this.firstIndex + 1);
    this.#configs = this.#configs.filter((config) => config.index > index);
    this.#snapshotMeta = meta;
    this.#snapshot = { meta, data };
    return this.#snapshot;
  }

  /** Replaces the whole log with a leader's snapshot that the log does not contain. */
  restore(snapshot: Snapshot): void {
    this.#snapshotMeta = snapshot.meta;
    this.#snapshot = snapshot;
    this.#entries = [];
    this.#configs = [];
    this.#stableIndex = snapshot.meta.index;
    this.#unstableFrom = snapshot.meta.index + 1;
    this.#checkedThrough = snapshot.meta.index;
  }

  membershipAt(index: Index): Membership {
    let membership = this.#snapshotMeta.membership;
    for (const config of this.#configs) if (config.index <= index) membership = config.membership;
    return membership;
  }

  /** Entries not yet handed to the driver; marks them handed. */
  takeUnstable(): Entry[] {
    const entries =
      this.#unstableFrom <= this.lastIndex ? this.slice(this.#unstableFrom, this.lastIndex) : [];
    this.#unstableFrom = this.lastIndex + 1;
    return entries;
  }

  hasUnstable(): boolean {
    return this.#unstableFrom <= this.lastIndex;
  }

  /** The driver made `entries` durable. A later truncation may have replaced them: check. */
  markStable(entries: readonly Entry[]): void {
    const first = entries[0];
    const last = entries.at(-1);
    if (first === undefined || last === undefined) return;
    if (first.index > this.#stableIndex + 1) return;
    if (this.termAt(last.index) !== last.term) return;
    this.#stableIndex = Math.max(this.#stableIndex, last.index);
  }

  /** Entries are immutable once appended, so only those past #checkedThrough are checked. */
  checkInvariants(): void {
    const from = Math.max(this.#checkedThrough + 1, this.firstIndex);
    let previousTerm = this.termAt(from - 1);
    assert(previousTerm !== null, `term before ${from} unknown`);
    for (let index = from; index <= this.lastIndex; index += 1) {
      const entry = this.entryAt(index);
      assert(entry !== undefined && entry.index === index, `entry ${index} out of place`);
      assert(entry.term >= previousTerm, `term goes down at ${index}`);
      previousTerm = entry.term;
    }
    this.#checkedThrough = this.lastIndex;
    assert(this.#stableIndex <= this.lastIndex, 'stable index beyond the last index');
    assert(this.#stableIndex >= this.#snapshotMeta.index, 'stable index below the snapshot');
    assert(this.#unstableFrom <= this.lastIndex + 1, 'unstable start beyond the log');
  }

  #push(entry: Entry): void {
    assert(entry.index === this.lastIndex + 1, `entry ${entry.index} after ${this.lastIndex}`);
    assert(entry.term >= this.lastTerm, `entry ${entry.index} term ${entry.term} goes down`);
    // A config entry that does not apply throws before the log changes: no half-appended entry.
    const membership =
      entry.kind === 'config'
        ? applyConfigChange(this.membership, decodeConfigChange(entry.data))
        : null;
    this.#entries.push(entry);
    if (membership !== null) this.#configs.push({ index: entry.index, membership });
  }
}
