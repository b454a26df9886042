// RaftStorage on LevelDB (`level`): every save is one atomic batch written with sync: true, so
// a kill -9 at any instant leaves either the whole Ready or none of it. Key layout (bytes):
//   'h'                         hard state, JSON {term, vote, commit}
//   's'                         snapshot: u32 BE meta length, meta JSON, then the image bytes
//   'e' + u64 BE index          entry: u8 kind (1 command, 2 noop, 3 config), f64 BE term, data
// Fixed-width big-endian index keys sort numerically, so a range of entries is one scan.
// Memory: a run-length map of terms (one pair per term change) and a bounded tail of entries.
// A save that only moves the commit index writes nothing: commit need not be durable (a node
// re-learns it from the leader), so the new value rides along with the next synced batch.
import { Level } from 'level';
import { assert } from '../common/index.ts';
import type { Entry, EntryKind, HardState, Index, Snapshot, SnapshotMeta, Term } from './types.ts';
import type { RaftStorage, RaftStorageState, RaftStorageUpdate } from './raft-storage.ts';

export interface LevelRaftStorageConfig {
  /** Directory of the LevelDB database; created if absent. */
  readonly directory: string;
  /** Entries kept in memory from the end of the log; older ones are read from disk. */
  readonly cachedEntryCountMax: number;
}

type BatchOp =
  { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

const hardStateKey = Uint8Array.of(0x68); // 'h'
const snapshotKey = Uint8Array.of(0x73); // 's'
const entryPrefix = 0x65; // 'e'
const kindCodes: Record<EntryKind, number> = { command: 1, noop: 2, config: 3 };
const kindsByCode: readonly (EntryKind | undefined)[] = [undefined, 'command', 'noop', 'config'];
const initialHardState: HardState = { term: 0, vote: null, commit: 0 };

/** A term starting at `index` and lasting until the next run (or the end of the log). */
interface TermRun {
  readonly index: Index;
  readonly term: Term;
}

export class LevelRaftStorage implements RaftStorage {
  readonly #config: LevelRaftStorageConfig;
  readonly #db: Level<Uint8Array, Uint8Array>;
  #hardState: HardState = initialHardState;
  #snapshot: Snapshot | null = null;
  #firstIndex: Index = 1;
  #lastIndex: Index = 0;
  /** Sorted by index; covers [firstIndex, lastIndex]. */
  #termRuns: TermRun[] = [];
  /** Entries [tailFirstIndex, lastIndex], at most about 2 × cachedEntryCountMax of them. */
  #tail: Entry[] = [];
  #saving = false;
  #opened = false;
  /** The in-memory hard state differs from the stored one only by its commit index. */
  #hardStateUnwritten = false;
  /** Synced batches written so far (for metrics: an idle group writes none). */
  syncedWriteCount = 0;

  constructor(config: LevelRaftStorageConfig) {
    assert(Number.isInteger(config.cachedEntryCountMax), 'cachedEntryCountMax must be an integer');
    assert(config.cachedEntryCountMax > 0, 'cachedEntryCountMax must be positive');
    this.#config = config;
    this.#db = new Level<Uint8Array, Uint8Array>(config.directory, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
  }

  async open(): Promise<RaftStorageState> {
    assert(!this.#opened, 'storage opened twice');
    await this.#db.open();
    this.#opened = true;
    const hardStateBytes = await this.#db.get(hardStateKey);
    if (hardStateBytes !== undefined) this.#hardState = decodeHardState(hardStateBytes);
    const snapshotBytes = await this.#db.get(snapshotKey);
    if (snapshotBytes !== undefined) this.#snapshot = decodeSnapshot(snapshotBytes);
    const snapshotIndex = this.#snapshot?.meta.index ?? 0;
    this.#firstIndex = snapshotIndex + 1;
    this.#lastIndex = snapshotIndex;
    for await (const [key, value] of this.#db.iterator({
      gt: entryKey(snapshotIndex),
      lt: entryKeyEnd,
    })) {
      const entry = decodeEntry(decodeEntryKey(key), value);
      // One atomic batch per save means a gap can only be a bug or a lying disk.
      assert(entry.index === this.#lastIndex + 1, `raft log gap before index ${entry.index}`);
      this.#pushEntry(entry);
    }
    return this.#state();
  }

  async close(): Promise<void> {
    if (!this.#opened) return;
    this.#opened = false;
    if (this.#hardStateUnwritten)
      await this.#db.put(hardStateKey, encodeHardState(this.#hardState));
    await this.#db.close();
  }

  async save(update: RaftStorageUpdate): Promise<void> {
    assert(this.#opened, 'storage is not open');
    assert(!this.#saving, 'overlapping saves');
    const ops: BatchOp[] = [];
    if (update.snapshot !== null) this.#stageSnapshot(update.snapshot, ops);
    if (update.entries.length > 0) this.#stageEntries(update.entries, ops);
    let mustWrite = ops.length > 0;
    if (update.hardState !== null) {
      const { term, vote } = this.#hardState;
      mustWrite ||= update.hardState.term !== term || update.hardState.vote !== vote;
      this.#hardState = update.hardState;
      this.#hardStateUnwritten = true;
    }
    if (!mustWrite) return;
    if (this.#hardStateUnwritten) {
      ops.push({ type: 'put', key: hardStateKey, value: encodeHardState(this.#hardState) });
      this.#hardStateUnwritten = false;
    }
    this.#saving = true;
    try {
      await this.#db.batch(ops, { sync: true });
      this.syncedWriteCount += 1;
    } finally {
      this.#saving = false;
    }
  }

  async entries(lo: Index, hi: Index): Promise<Entry[]> {
    assert(lo >= this.#firstIndex, `entries from ${lo} are compacted (first ${this.#firstIndex})`);
    assert(hi <= this.#lastIndex + 1, `entries to ${hi} are past the end ${this.#lastIndex}`);
    if (lo >= hi) return [];
    const tailFirst = this.#tailFirstIndex();
    if (lo >= tailFirst) return this.#tail.slice(lo - tailFirst, hi - tailFirst);
    const found: Entry[] = [];
    for await (const [key, value] of this.#db.iterator({ gte: entryKey(lo), lt: entryKey(hi) })) {
      found.push(decodeEntry(decodeEntryKey(key), value));
    }
    assert(found.length === hi - lo, `raft log has ${found.length} of entries [${lo}, ${hi})`);
    return found;
  }

  term(index: Index): Term | null {
    if (this.#snapshot !== null && index === this.#snapshot.meta.index)
      return this.#snapshot.meta.term;
    if (index === 0) return 0;
    if (index < this.#firstIndex || index > this.#lastIndex) return null;
    let low = 0;
    let high = this.#termRuns.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.#termRuns[middle]?.index ?? Infinity) <= index) low = middle;
      else high = middle - 1;
    }
    const run = this.#termRuns[low];
    assert(run !== undefined && run.index <= index, `no term run covers index ${index}`);
    return run.term;
  }

  firstIndex(): Index {
    return this.#firstIndex;
  }

  lastIndex(): Index {
    return this.#lastIndex;
  }

  hardState(): HardState {
    return this.#hardState;
  }

  snapshot(): Snapshot | null {
    return this.#snapshot;
  }

  #state(): RaftStorageState {
    return {
      hardState: this.#hardState,
      snapshot: this.#snapshot,
      firstIndex: this.#firstIndex,
      lastIndex: this.#lastIndex,
    };
  }

  /** Raft §7: keep the suffix only if our log agrees with the snapshot at its index. */
  #stageSnapshot(snapshot: Snapshot, ops: BatchOp[]): void {
    const meta = snapshot.meta;
    const current = this.#snapshot?.meta.index ?? 0;
    assert(meta.index > current, `snapshot ${meta.index} does not advance past ${current}`);
    const keepsSuffix = this.term(meta.index) === meta.term;
    const deleteTo = keepsSuffix ? meta.index : this.#lastIndex;
    for (let index = this.#firstIndex; index <= deleteTo; index += 1) {
      ops.push({ type: 'del', key: entryKey(index) });
    }
    ops.push({ type: 'put', key: snapshotKey, value: encodeSnapshot(snapshot) });
    this.#snapshot = snapshot;
    if (keepsSuffix) {
      this.#dropPrefix(meta.index);
    } else {
      this.#termRuns = [];
      this.#tail = [];
      this.#lastIndex = meta.index;
    }
    this.#firstIndex = meta.index + 1;
  }

  #stageEntries(entries: readonly Entry[], ops: BatchOp[]): void {
    const first = entries[0];
    assert(first !== undefined, 'no entries');
    assert(
      first.index >= this.#firstIndex,
      `append at ${first.index} is before ${this.#firstIndex}`,
    );
    assert(first.index <= this.#lastIndex + 1, `append at ${first.index} leaves a gap`);
    // A conflicting suffix (Raft §5.3) is deleted in the same batch that replaces it.
    for (let index = first.index; index <= this.#lastIndex; index += 1) {
      ops.push({ type: 'del', key: entryKey(index) });
    }
    this.#truncateFrom(first.index);
    for (const entry of entries) {
      assert(entry.index === this.#lastIndex + 1, `entries are not contiguous at ${entry.index}`);
      ops.push({ type: 'put', key: entryKey(entry.index), value: encodeEntry(entry) });
      this.#pushEntry(entry);
    }
  }

  #pushEntry(entry: Entry): void {
    const lastRun = this.#termRuns[this.#termRuns.length - 1];
    assert(lastRun === undefined || lastRun.term <= entry.term, `term goes back at ${entry.index}`);
    if (lastRun === undefined || lastRun.term !== entry.term) {
      this.#termRuns.push({ index: entry.index, term: entry.term });
    }
    this.#lastIndex = entry.index;
    this.#tail.push(entry);
    // Trim in chunks so appends stay amortized O(1).
    if (this.#tail.length >= 2 * this.#config.cachedEntryCountMax) {
      this.#tail = this.#tail.slice(this.#tail.length - this.#config.cachedEntryCountMax);
    }
  }

  /** Forgets entries from `index` on (they are being replaced). */
  #truncateFrom(index: Index): void {
    if (index > this.#lastIndex) return;
    while ((this.#termRuns[this.#termRuns.length - 1]?.index ?? -1) >= index) this.#termRuns.pop();
    const tailFirst = this.#tailFirstIndex();
    this.#tail.length = Math.max(0, index - tailFirst);
    this.#lastIndex = index - 1;
  }

  /** Forgets entries up to and including `index` (they are in the snapshot now). */
  #dropPrefix(index: Index): void {
    const tailFirst = this.#tailFirstIndex();
    if (index >= tailFirst) this.#tail = this.#tail.slice(index - tailFirst + 1);
    while ((this.#termRuns[1]?.index ?? Infinity) <= index + 1) this.#termRuns.shift();
    const firstRun = this.#termRuns[0];
    if (firstRun !== undefined && firstRun.index <= index) {
      this.#termRuns[0] = { index: index + 1, term: firstRun.term };
    }
    if (this.#lastIndex <= index) this.#termRuns = [];
  }

  #tailFirstIndex(): Index {
    return this.#lastIndex - this.#tail.length + 1;
  }
}

const entryKeyEnd = Uint8Array.of(entryPrefix + 1);

function entryKey(index: Index): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = entryPrefix;
  new DataView(key.buffer).setBigUint64(1, BigInt(index));
  return key;
}

function decodeEntryKey(key: Uint8Array): Index {
  assert(key.length === 9 && key[0] === entryPrefix, 'not an entry key');
  return Number(new DataView(key.buffer, key.byteOffset, key.byteLength).getBigUint64(1));
}

function encodeEntry(entry: Entry): Uint8Array {
  const value = new Uint8Array(9 + entry.data.byteLength);
  const view = new DataView(value.buffer);
  view.setUint8(0, kindCodes[entry.kind]);
  view.setFloat64(1, entry.term);
  value.set(entry.data, 9);
  return value;
}

function decodeEntry(index: Index, value: Uint8Array): Entry {
  assert(value.length >= 9, `entry ${index} is truncated`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const kind = kindsByCode[view.getUint8(0)];
  assert(kind !== undefined, `entry ${index} has an unknown kind`);
  const term = view.getFloat64(1);
  assert(Number.isSafeInteger(term) && term > 0, `entry ${index} has a bad term`);
  return { index, term, kind, data: copyBytes(value.subarray(9)) };
}

function encodeHardState(hardState: HardState): Uint8Array {
  const { term, vote, commit } = hardState;
  return new TextEncoder().encode(JSON.stringify({ term, vote, commit }));
}

function decodeHardState(bytes: Uint8Array): HardState {
  const parsed = JSON.parse(new TextDecoder().decode(bytes)) as HardState;
  assert(Number.isSafeInteger(parsed.term), 'hard state term is not an integer');
  assert(Number.isSafeInteger(parsed.commit), 'hard state commit is not an integer');
  return { term: parsed.term, vote: parsed.vote, commit: parsed.commit };
}

function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const meta = new TextEncoder().encode(JSON.stringify(snapshot.meta));
  const value = new Uint8Array(4 + meta.byteLength + snapshot.data.byteLength);
  new DataView(value.buffer).setUint32(0, meta.byteLength);
  value.set(meta, 4);
  value.set(snapshot.data, 4 + meta.byteLength);
  return value;
}

function decodeSnapshot(bytes: Uint8Array): Snapshot {
  assert(bytes.length >= 4, 'snapshot record is truncated');
  const metaLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  assert(bytes.length >= 4 + metaLength, 'snapshot meta is truncated');
  const metaBytes = bytes.subarray(4, 4 + metaLength);
  const meta = JSON.parse(new TextDecoder().decode(metaBytes)) as SnapshotMeta;
  assert(Number.isSafeInteger(meta.index) && meta.index > 0, 'snapshot index is invalid');
  return { meta, data: copyBytes(bytes.subarray(4 + metaLength)) };
}

/** LevelDB hands back Buffers; callers get plain Uint8Arrays they own. */
function copyBytes(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}
