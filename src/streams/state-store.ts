// A task's key-value state store, in memory (the local, level-backed one is in local-state.ts),
// with the two bounds every store has: entriesMax
// (a put of a new key beyond it fails with STREAMS_STORE_FULL) and changelogCacheEntriesMax
// (changes are kept per key until the task flushes them as changelog records, so a hot key
// writes one changelog record per flush, not one per update). Keys are binary strings: the
// key's serialized bytes, one char per byte (see ./store-key.ts), so equal bytes are one key.
import { assert } from '../common/index.ts';
import { StreamsError } from './errors.ts';
import type { Serde } from './serdes.ts';
import { bytesToId, idToBytes } from './store-key.ts';

/** One change of a store, to be appended to its compacted changelog topic. */
export interface ChangelogRecord {
  readonly store: string;
  readonly key: Uint8Array;
  /** null: the key was deleted (a tombstone, which compaction keeps until delete.retention). */
  readonly value: Uint8Array | null;
}

export interface StoreEntry {
  /** The typed key (for windowed stores, a Windowed key); kept so readers need no serde. */
  readonly key: unknown;
  readonly value: unknown;
}

export interface StoreConfig {
  readonly name: string;
  readonly entriesMax: number;
  readonly changelogCacheEntriesMax: number;
  /** Entries a local (level-backed) store keeps decoded in memory, least recently used out. */
  readonly cacheEntriesMax: number;
  readonly valueSerde: Serde<unknown>;
  /** The typed key of a store id (the inverse of how the operator built the id): restore. */
  readonly keyOfId: (id: string) => unknown;
}

export interface KeyValueStore {
  readonly name: string;
  readonly size: number;
  get(id: string): StoreEntry | undefined;
  /** Codes: STREAMS_STORE_FULL when `id` is new and the store holds entriesMax keys. */
  put(id: string, key: unknown, value: unknown): void;
  delete(id: string): void;
  entries(): IterableIterator<[string, StoreEntry]>;
  /** Every id, without reading values (a local store reads a value only on get()). */
  ids(): IterableIterator<string>;
  /** Whether the changelog cache holds changelogCacheEntriesMax keys and must be flushed. */
  isCacheFull(): boolean;
  /** Whether any change awaits the next flush. */
  hasChanges(): boolean;
  /** The changelog records since the last flush, the last change per key, in change order. */
  flushChangelog(): ChangelogRecord[];
  /** Applies one changelog record on restore (no changelog record results). */
  restore(key: Uint8Array, value: Uint8Array | null): void;
  /** Makes the next flush write `id`'s current value (or a tombstone): repairs a changelog. */
  markChanged(id: string): void;
}

export class InMemoryKeyValueStore implements KeyValueStore {
  readonly name: string;
  readonly #config: StoreConfig;
  readonly #entries = new Map<string, StoreEntry>();
  /** id → whether its last change was a put (true) or a delete (false), not yet flushed. */
  readonly #dirty = new Map<string, boolean>();

  constructor(config: StoreConfig) {
    assert(config.entriesMax > 0, 'entriesMax must be positive');
    assert(config.changelogCacheEntriesMax > 0, 'changelogCacheEntriesMax must be positive');
    this.name = config.name;
    this.#config = config;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(id: string): StoreEntry | undefined {
    return this.#entries.get(id);
  }

  put(id: string, key: unknown, value: unknown): void {
    assert(value !== null && value !== undefined, 'put a value; delete() removes a key');
    if (!this.#entries.has(id) && this.#entries.size >= this.#config.entriesMax) {
      throw new StreamsError(
        'STREAMS_STORE_FULL',
        `store ${this.name} holds entriesMax=${this.#config.entriesMax} keys`,
        { details: { store: this.name, entriesMax: this.#config.entriesMax } },
      );
    }
    this.#entries.set(id, { key, value });
    this.#markDirty(id, true);
  }

  delete(id: string): void {
    if (!this.#entries.delete(id)) return;
    this.#markDirty(id, false);
  }

  entries(): IterableIterator<[string, StoreEntry]> {
    return this.#entries.entries();
  }

  ids(): IterableIterator<string> {
    return this.#entries.keys();
  }

  isCacheFull(): boolean {
    return this.#dirty.size >= this.#config.changelogCacheEntriesMax;
  }

  hasChanges(): boolean {
    return this.#dirty.size > 0;
  }

  flushChangelog(): ChangelogRecord[] {
    const records: ChangelogRecord[] = [];
    for (const [id, present] of this.#dirty) {
      const entry = present ? this.#entries.get(id) : undefined;
      const value = entry === undefined ? null : this.#config.valueSerde.serialize(entry.value);
      records.push({ store: this.name, key: idToBytes(id), value });
    }
    this.#dirty.clear();
    return records;
  }

  restore(key: Uint8Array, value: Uint8Array | null): void {
    const id = bytesToId(key);
    if (value === null) {
      this.#entries.delete(id);
      return;
    }
    const typed = this.#config.valueSerde.deserialize(value);
    this.#entries.set(id, { key: this.#config.keyOfId(id), value: typed });
  }

  markChanged(id: string): void {
    this.#markDirty(id, this.#entries.has(id));
  }

  #markDirty(id: string, present: boolean): void {
    // Delete first so the map's order is the order of last changes.
    this.#dirty.delete(id);
    this.#dirty.set(id, present);
  }
}
