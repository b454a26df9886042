// Durable local state: one database per instance (level on disk; a Map in the test driver)
// holding every task's stores under a key prefix, and per task a meta record naming the
// checkpoint (seq, changelog coverage) the data matches, written in the same batch as the data
// and only after that checkpoint is durable. A restart restores from it plus the changelog
// from that coverage on; planRestore() wipes it and restores cold whenever it could be wrong.
import { Level } from 'level';
import { assert } from '../common/index.ts';
import type { TaskCheckpoint } from './checkpoint.ts';
import { StreamsError } from './errors.ts';
import type { ChangelogRecord, KeyValueStore, StoreConfig, StoreEntry } from './state-store.ts';
import { bytesToId, idToBytes } from './store-key.ts';

/** What the task's local data matches: a checkpoint's seq and changelog coverage. */
export interface LocalMeta {
  readonly seq: number;
  readonly changelogs: Readonly<Record<string, number>>;
}

export interface LocalOp {
  readonly type: 'put' | 'del';
  readonly key: string;
  readonly value?: Uint8Array;
}

/** The local database as a store reads it: synchronously (level's getSync). */
export interface LocalReader {
  getSync(key: string): Uint8Array | undefined;
}

const sep = '\u0000';
/** Every key of one task's data (all its stores). */
export const taskDataPrefix = (task: string): string => `s${sep}${task}${sep}`;
export const storeDataPrefix = (task: string, store: string): string =>
  `${taskDataPrefix(task)}${store}${sep}`;
export const metaKey = (task: string): string => `m${sep}${task}`;
/** The upper bound of keys under a prefix (ids are chars 0..255; utf8 keeps code point order). */
export const prefixEnd = (prefix: string): string => `${prefix}\uffff`;

/** The task's meta record, or null when absent or unreadable (the caller then wipes). */
export function readMeta(reader: LocalReader, task: string): LocalMeta | null {
  const bytes = reader.getSync(metaKey(task));
  if (bytes === undefined) return null;
  try {
    const meta = JSON.parse(new TextDecoder().decode(bytes)) as Partial<LocalMeta> | null;
    if (typeof meta?.seq !== 'number' || typeof meta.changelogs !== 'object') return null;
    return meta as LocalMeta;
  } catch {
    return null;
  }
}

export function metaOf(stores: readonly string[], checkpoint: TaskCheckpoint | null): LocalMeta {
  const changelogs: Record<string, number> = {};
  for (const store of stores) changelogs[store] = checkpoint?.changelogs[store] ?? 0;
  return { seq: checkpoint?.seq ?? 0, changelogs };
}

export interface RestorePlan {
  /** Drop the task's local data first (cold restore from every changelog's start). */
  readonly wipe: boolean;
  /** Store → the changelog offset to read from (the local coverage, or 0). */
  readonly from: Readonly<Record<string, number>>;
  /** Why: `warm`, or the reason for a cold restore (for the progress line). */
  readonly reason: string;
}

/**
 * How a task restores given its checkpoint, its local meta and each changelog's log start.
 * Warm (read each changelog from the local coverage) only when the local data provably matches
 * an earlier-or-equal checkpoint of this task: meta present, seq ≤ the checkpoint's (equal seq:
 * equal coverage), every store covered no further than the checkpoint, and no changelog record
 * in the gap compacted or deleted away (log start ≤ coverage). Anything else wipes: cold.
 */
export function planRestore(
  stores: readonly string[],
  checkpoint: TaskCheckpoint | null,
  local: LocalMeta | null,
  logStart: (store: string) => number,
): RestorePlan {
  const cold = (reason: string): RestorePlan => ({
    wipe: true,
    from: Object.fromEntries(stores.map((s) => [s, 0])),
    reason,
  });
  if (local === null) return cold('no-local-state');
  if (checkpoint === null) return cold('no-checkpoint');
  if (local.seq > checkpoint.seq) return cold('local-ahead');
  const from: Record<string, number> = {};
  for (const store of stores) {
    const covered = local.changelogs[store];
    const committed = checkpoint.changelogs[store] ?? 0;
    if (covered === undefined) return cold('store-not-local');
    if (covered > committed) return cold('local-ahead');
    if (local.seq === checkpoint.seq && covered !== committed) return cold('local-diverged');
    if (logStart(store) > covered) return cold('changelog-gap');
    from[store] = covered;
  }
  return { wipe: false, from, reason: 'warm' };
}

/**
 * A store over the local database with a bounded read cache (cacheEntriesMax entries, least
 * recently used out). In memory: every live id (keys only), the read cache, changes not yet
 * flushed (bounded by changelogCacheEntriesMax, which asks for a commit) and changes flushed to
 * the changelog but not yet persisted (until the commit's checkpoint is durable).
 */
export class LocalKeyValueStore implements KeyValueStore {
  readonly name: string;
  readonly #config: StoreConfig;
  readonly #reader: LocalReader;
  readonly #prefix: string;
  readonly #ids: Set<string>;
  readonly #cache = new Map<string, StoreEntry>();
  /** Changed since the last flush: id → entry, or null (deleted); in change order. */
  readonly #pending = new Map<string, StoreEntry | null>();
  /** Flushed (or restored) and not yet persisted: id → entry and bytes, or null. */
  readonly #staged = new Map<string, { entry: StoreEntry; bytes: Uint8Array } | null>();

  constructor(config: StoreConfig, reader: LocalReader, prefix: string, ids: Iterable<string>) {
    assert(config.entriesMax > 0, 'entriesMax must be positive');
    assert(config.cacheEntriesMax > 0, 'cacheEntriesMax must be positive');
    this.name = config.name;
    this.#config = config;
    this.#reader = reader;
    this.#prefix = prefix;
    this.#ids = new Set(ids);
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Values held decoded in memory: the read cache plus unpersisted changes. */
  get cached(): number {
    return this.#cache.size + this.#pending.size + this.#staged.size;
  }

  get(id: string): StoreEntry | undefined {
    if (!this.#ids.has(id)) return undefined;
    const pending = this.#pending.get(id);
    if (pending !== undefined && pending !== null) return pending;
    const staged = this.#staged.get(id);
    if (staged !== undefined && staged !== null) return staged.entry;
    const cached = this.#cache.get(id);
    if (cached !== undefined) {
      this.#cache.delete(id);
      this.#cache.set(id, cached);
      return cached;
    }
    const bytes = this.#reader.getSync(this.#prefix + id);
    assert(bytes !== undefined, `store ${this.name} lost a key of its local database`);
    const entry = this.#decode(id, bytes);
    this.#remember(id, entry);
    return entry;
  }

  put(id: string, key: unknown, value: unknown): void {
    assert(value !== null && value !== undefined, 'put a value; delete() removes a key');
    if (!this.#ids.has(id) && this.#ids.size >= this.#config.entriesMax) {
      throw new StreamsError(
        'STREAMS_STORE_FULL',
        `store ${this.name} holds entriesMax=${this.#config.entriesMax} keys`,
        { details: { store: this.name, entriesMax: this.#config.entriesMax } },
      );
    }
    this.#ids.add(id);
    this.#cache.delete(id);
    this.#change(id, { key, value });
  }

  delete(id: string): void {
    if (!this.#ids.delete(id)) return;
    this.#cache.delete(id);
    this.#change(id, null);
  }

  ids(): IterableIterator<string> {
    return [...this.#ids][Symbol.iterator]();
  }

  *entries(): IterableIterator<[string, StoreEntry]> {
    for (const id of [...this.#ids]) {
      const entry = this.get(id);
      if (entry !== undefined) yield [id, entry];
    }
  }

  isCacheFull(): boolean {
    return this.#pending.size >= this.#config.changelogCacheEntriesMax;
  }

  hasChanges(): boolean {
    return this.#pending.size > 0;
  }

  flushChangelog(): ChangelogRecord[] {
    const records: ChangelogRecord[] = [];
    for (const [id, entry] of this.#pending) {
      const bytes = entry === null ? null : this.#config.valueSerde.serialize(entry.value);
      records.push({ store: this.name, key: idToBytes(id), value: bytes });
      this.#stage(id, entry === null || bytes === null ? null : { entry, bytes });
    }
    this.#pending.clear();
    return records;
  }

  restore(key: Uint8Array, value: Uint8Array | null): void {
    const id = bytesToId(key);
    this.#cache.delete(id);
    this.#pending.delete(id);
    if (value === null) {
      this.#ids.delete(id);
      this.#stage(id, null);
      return;
    }
    this.#ids.add(id);
    this.#stage(id, { entry: this.#decode(id, value), bytes: value });
  }

  markChanged(id: string): void {
    this.#change(id, this.get(id) ?? null);
  }

  /** The writes that bring the local database up to what was flushed (see persistOps). */
  stagedOps(): LocalOp[] {
    const ops: LocalOp[] = [];
    for (const [id, staged] of this.#staged) {
      const key = this.#prefix + id;
      ops.push(staged === null ? { type: 'del', key } : { type: 'put', key, value: staged.bytes });
    }
    return ops;
  }

  /** After stagedOps() were written: they are read from the database (and the cache) now. */
  persisted(): void {
    for (const [id, staged] of this.#staged) if (staged !== null) this.#remember(id, staged.entry);
    this.#staged.clear();
  }

  #change(id: string, entry: StoreEntry | null): void {
    // Delete first so the map's order is the order of last changes.
    this.#pending.delete(id);
    this.#pending.set(id, entry);
  }

  #stage(id: string, staged: { entry: StoreEntry; bytes: Uint8Array } | null): void {
    this.#staged.delete(id);
    this.#staged.set(id, staged);
  }

  #remember(id: string, entry: StoreEntry): void {
    this.#cache.delete(id);
    this.#cache.set(id, entry);
    while (this.#cache.size > this.#config.cacheEntriesMax) {
      const oldest = this.#cache.keys().next().value as string;
      this.#cache.delete(oldest);
    }
  }

  #decode(id: string, bytes: Uint8Array): StoreEntry {
    return { key: this.#config.keyOfId(id), value: this.#config.valueSerde.deserialize(bytes) };
  }
}

/** One batch making the task's local data match `meta`: every store's staged writes + meta. */
export function persistOps(
  task: string,
  stores: readonly LocalKeyValueStore[],
  meta: LocalMeta,
): LocalOp[] {
  const ops = stores.flatMap((store) => store.stagedOps());
  const value = new TextEncoder().encode(JSON.stringify(meta));
  ops.push({ type: 'put', key: metaKey(task), value });
  return ops;
}

/** The local database of the test driver: a Map, synchronous, surviving driver.crash(). */
export class MemoryLocalDb implements LocalReader {
  readonly #data = new Map<string, Uint8Array>();

  getSync(key: string): Uint8Array | undefined {
    return this.#data.get(key);
  }

  write(ops: readonly LocalOp[]): void {
    for (const op of ops) {
      if (op.type === 'del') this.#data.delete(op.key);
      else this.#data.set(op.key, op.value as Uint8Array);
    }
  }

  /** Ids under `prefix` (the prefix stripped). */
  ids(prefix: string): string[] {
    return [...this.#data.keys()]
      .filter((k) => k.startsWith(prefix))
      .map((k) => k.slice(prefix.length));
  }

  /** Deletes a task's data and meta. */
  wipe(task: string): void {
    for (const key of [...this.#data.keys()]) {
      if (key.startsWith(taskDataPrefix(task)) || key === metaKey(task)) this.#data.delete(key);
    }
  }

  /** Drops everything: the machine's disk is gone (the task moves to a fresh instance). */
  clear(): void {
    this.#data.clear();
  }
}

/** The runtime's local database: level (LevelDB) in `path`, one per instance. */
export class LevelLocalDb implements LocalReader {
  readonly #db: Level<string, Uint8Array>;

  private constructor(db: Level<string, Uint8Array>) {
    this.#db = db;
  }

  /** Opens `path`; STREAMS_STATE_DIR_LOCKED when another process or instance holds it. */
  static async open(path: string): Promise<LevelLocalDb> {
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (error) {
      const cause = (error as { cause?: { code?: unknown } }).cause;
      if (cause?.code !== 'LEVEL_LOCKED') throw error;
      throw new StreamsError(
        'STREAMS_STATE_DIR_LOCKED',
        `the state directory ${path} is in use by another instance (give each its own --state-dir)`,
        { cause: error, details: { path } },
      );
    }
    return new LevelLocalDb(db);
  }

  getSync(key: string): Uint8Array | undefined {
    return this.#db.getSync(key);
  }

  async write(ops: readonly LocalOp[]): Promise<void> {
    await this.#db.batch(
      ops.map((op) =>
        op.type === 'del'
          ? { type: 'del' as const, key: op.key }
          : { type: 'put' as const, key: op.key, value: op.value as Uint8Array },
      ),
    );
  }

  async ids(prefix: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const key of this.#db.keys({ gte: prefix, lt: prefixEnd(prefix) })) {
      ids.push(key.slice(prefix.length));
    }
    return ids;
  }

  async wipe(task: string): Promise<void> {
    const prefix = taskDataPrefix(task);
    await this.#db.clear({ gte: prefix, lt: prefixEnd(prefix) });
    await this.#db.del(metaKey(task));
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

/** A task's local stores as the runtime opens them: the plan, and the factory for StreamTask. */
export interface OpenedTaskStores {
  readonly plan: RestorePlan;
  readonly stores: LocalKeyValueStore[];
  readonly create: (def: StoreConfig) => KeyValueStore;
}

/**
 * Plans a task's restore from `db` (wiping its data when cold) and loads the ids of its
 * stores; `logStart` gives a store's changelog partition's log start offset.
 */
export async function openTaskStores(
  db: LevelLocalDb,
  task: string,
  storeNames: readonly string[],
  checkpoint: TaskCheckpoint | null,
  logStart: (store: string) => Promise<number>,
): Promise<OpenedTaskStores> {
  const starts = new Map<string, number>();
  for (const store of storeNames) starts.set(store, await logStart(store));
  const plan = planRestore(storeNames, checkpoint, readMeta(db, task), (s) => starts.get(s) ?? 0);
  if (plan.wipe) await db.wipe(task);
  const ids = new Map<string, string[]>();
  for (const store of storeNames) {
    ids.set(store, await db.ids(storeDataPrefix(task, store)));
  }
  const stores: LocalKeyValueStore[] = [];
  const create = (def: StoreConfig): KeyValueStore => {
    const prefix = storeDataPrefix(task, def.name);
    const store = new LocalKeyValueStore(def, db, prefix, ids.get(def.name) ?? []);
    stores.push(store);
    return store;
  };
  return { plan, stores, create };
}
