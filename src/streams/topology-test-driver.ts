// The deterministic test driver: the real engine (tasks, stores, repartitioning) over in-memory
// multi-partition topics and a virtual wall clock. pipe() appends a record to a topic and runs
// every task until no record is left anywhere, so a test sees the complete effect of each input
// at once; nothing depends on real time. Output, repartition and changelog records are kept in
// memory topics that tests read back.
import { assert } from '../common/index.ts';
import { partitionForKey } from '../api/client/index.ts';
import { StreamsError } from './errors.ts';
import { resolvePartitionCounts } from './partitioning.ts';
import type { Serdes } from './serdes.ts';
import type { ChangelogRecord, StoreEntry } from './state-store.ts';
import {
  originText,
  splitChangelog,
  taskKey,
  type StoredChange,
  type TaskCheckpoint,
} from './checkpoint.ts';
import {
  LocalKeyValueStore,
  MemoryLocalDb,
  metaOf,
  persistOps,
  planRestore,
  readMeta,
  storeDataPrefix,
  type RestorePlan,
} from './local-state.ts';
import {
  StreamTask,
  type TaskRestore,
  type InputRecord,
  type OutputRecord,
  type TaskMetrics,
} from './stream-task.ts';
import type { Subtopology, Topology } from './topology.ts';
import type { InputPending } from './next-record.ts';

/** Subtopologies followed upstream at most when asking whether an input has more to come. */
const pendingDepthMax = 8;

export interface TestDriverConfig {
  /** Partition count per topic; topics not listed get defaultPartitions. */
  readonly partitions?: Readonly<Record<string, number>>;
  readonly defaultPartitions?: number;
  /** The virtual wall clock's start (ms since the epoch): default record timestamps. */
  readonly startWallMs?: number;
  /** Records a task buffers at most per input before the driver stops feeding that input. */
  readonly taskBufferedMax?: number;
  /**
   * `auto` (default): every pipe() ends with a commit of every task. `manual`: tasks commit when
   * a changelog cache fills or on commit(), so crash() has uncommitted work to lose.
   */
  readonly commit?: 'auto' | 'manual';
  /**
   * Local stores (local-state.ts) over an in-memory database that survives crash(), as the
   * runtime's `stateDir` does on disk: a restart restores warm from it. Default: off.
   */
  readonly localState?: boolean;
}

export interface CrashOptions {
  readonly partialCommit?: boolean;
  readonly beforeLocalWrite?: boolean;
  readonly loseLocalState?: boolean;
  readonly commitAfterSteps?: number;
}

export interface TestRecord<K, V> {
  readonly key: K | null;
  readonly value: V | null;
  readonly timestampMs: number;
  readonly partition: number;
  /** Headers beyond the task and origin stamps (dead-letter records name their error). */
  readonly headers: Readonly<Record<string, string>>;
}

interface MemoryTopic {
  readonly partitions: OutputRecord[][];
}

export class TopologyTestDriver {
  readonly #topology: Topology;
  readonly #config: TestDriverConfig;
  readonly #topics = new Map<string, MemoryTopic>();
  #tasks: StreamTask[] = [];
  readonly #counts: ReadonlyMap<string, number>;
  /** Task key → its last checkpoint (one record: atomic). */
  readonly #checkpoints = new Map<string, TaskCheckpoint>();
  /** Store → partition → its changelog partition's records (offset = index). */
  readonly #changelogParts = new Map<string, StoredChange[][]>();
  /** task id → topic → next offset to feed it. */
  readonly #fed = new Map<string, Map<string, number>>();
  readonly #changelog = new Map<string, ChangelogRecord[]>();
  readonly #readPositions = new Map<string, number[]>();
  #wallMs: number;
  #closed = false;
  /** The local database (config.localState), and task key → its local stores. */
  readonly #local: MemoryLocalDb | null;
  readonly #localStores = new Map<string, LocalKeyValueStore[]>();
  /** Task key → how its last restore went (tests look at warm vs cold). */
  readonly #restorePlans = new Map<string, RestorePlan>();
  /** Steps left before the commit a crash() asked for mid-replay (null: none asked). */
  #commitAfterSteps: number | null = null;

  /** Codes: STREAMS_NOT_COPARTITIONED when a join's inputs differ in partition count. */
  constructor(topology: Topology, config: TestDriverConfig = {}) {
    this.#topology = topology;
    this.#config = config;
    this.#wallMs = config.startWallMs ?? 0;
    this.#local = config.localState === true ? new MemoryLocalDb() : null;
    const counts = resolvePartitionCounts(topology, (topic) => this.#configuredCount(topic));
    this.#counts = counts;
    for (const [topic, count] of counts) this.#createTopic(topic, count);
    for (const store of topology.stores.values()) {
      this.#changelog.set(store.name, []);
      this.#changelogParts.set(store.name, []);
    }
    this.#startTasks();
  }

  /** Commits every task now: its changelog records, then its checkpoint. */
  commit(): void {
    this.#checkOpen();
    for (const task of this.#tasks) this.#commit(task);
  }

  /**
   * Simulates a kill -9 of the application and its restart: tasks and their uncommitted work
   * are lost (outputs already written stay), then new tasks restore from their checkpoints and
   * the changelogs, and processing resumes. `partialCommit`: the crash hits mid-commit, after
   * the changelog records were written and before the checkpoint. `beforeLocalWrite`: after a
   * commit's checkpoint, before its local batch. `loseLocalState`: the local database is gone
   * (the tasks restart on another machine). `commitAfterSteps`: every task commits once the
   * replay has processed that many records (as the runtime's commit timer may fire mid-replay,
   * where the first run did not commit).
   */
  crash(options: CrashOptions = {}): void {
    this.#checkOpen();
    if (options.partialCommit === true) {
      for (const task of this.#tasks) this.#appendChangelog(task);
    } else if (options.beforeLocalWrite === true) {
      // The commit's checkpoint is durable; the local batch after it was never written.
      for (const task of this.#tasks) this.#commit(task, false);
    }
    if (options.loseLocalState === true) this.#local?.clear();
    this.#commitAfterSteps = options.commitAfterSteps ?? null;
    this.#startTasks();
    this.#runUntilIdle();
  }

  #startTasks(): void {
    this.#tasks = [];
    for (const sub of this.#topology.subtopologies) {
      const taskCount = Math.max(...sub.sourceTopics.map((t) => this.#counts.get(t) ?? 1));
      for (let partition = 0; partition < taskCount; partition += 1) {
        const checkpoint = this.#checkpoints.get(taskKey(sub.sourceTopics, partition)) ?? null;
        const task = this.#newTask(sub, partition, checkpoint);
        task.restore(this.#restoreOf(task, checkpoint));
        this.#persistLocal(task, checkpoint);
        this.#tasks.push(task);
        const offsets = checkpoint?.offsets ?? {};
        this.#fed.set(task.id, new Map(sub.sourceTopics.map((t) => [t, offsets[t] ?? 0])));
      }
    }
  }

  /** A task with in-memory stores, or local ones planned from its local meta (then wiped). */
  #newTask(sub: Subtopology, partition: number, checkpoint: TaskCheckpoint | null): StreamTask {
    const bufferedMax = this.#config.taskBufferedMax ?? 10_000;
    const db = this.#local;
    const key = taskKey(sub.sourceTopics, partition);
    if (db === null || sub.stores.length === 0) {
      return new StreamTask(this.#topology, sub, partition, bufferedMax);
    }
    const plan = planRestore(sub.stores, checkpoint, readMeta(db, key), () => 0);
    this.#restorePlans.set(key, plan);
    if (plan.wipe) db.wipe(key);
    const stores: LocalKeyValueStore[] = [];
    this.#localStores.set(key, stores);
    return new StreamTask(this.#topology, sub, partition, bufferedMax, (def) => {
      const prefix = storeDataPrefix(key, def.name);
      const store = new LocalKeyValueStore(def, db, prefix, db.ids(prefix));
      stores.push(store);
      return store;
    });
  }

  /** Writes a task's staged local changes with the meta of `checkpoint`, in one batch. */
  #persistLocal(task: StreamTask, checkpoint: TaskCheckpoint | null): void {
    const stores = this.#localStores.get(task.key);
    if (this.#local === null || stores === undefined) return;
    this.#local.write(persistOps(task.key, stores, metaOf(task.subtopology.stores, checkpoint)));
    for (const store of stores) store.persisted();
  }

  /** How the last start of task `key` restored (local stores only): warm or why cold. */
  restorePlan(key: string): RestorePlan | undefined {
    return this.#restorePlans.get(key);
  }

  #restoreOf(task: StreamTask, checkpoint: TaskCheckpoint | null): TaskRestore {
    const apply = new Map<string, StoredChange[]>();
    const repair = new Map<string, Uint8Array[]>();
    const plan = this.#restorePlans.get(task.key);
    for (const store of task.subtopology.stores) {
      const from = this.#localStores.has(task.key) ? (plan?.from[store] ?? 0) : 0;
      const records = (this.#changelogParts.get(store)?.[task.partition] ?? []).slice(from);
      const split = splitChangelog(records, checkpoint?.changelogs[store] ?? 0);
      apply.set(store, split.apply);
      repair.set(store, split.repair);
    }
    const written: string[] = [];
    const positions: string[] = [];
    for (const topic of new Set(task.subtopology.sinkTopics)) {
      (this.#topics.get(topic)?.partitions ?? []).forEach((records, partition) => {
        const from = checkpoint?.outputs[`${topic}/${partition}`] ?? 0;
        for (const r of records.slice(from)) {
          const { originTopic, originOffset, originIndex } = r;
          if (r.task !== task.key || originTopic === undefined) continue;
          written.push(originText(originTopic, originOffset ?? 0, originIndex ?? 0));
          if (r.positions !== undefined) positions.push(r.positions);
        }
      });
    }
    return { checkpoint, apply, repair, written, positions };
  }

  get wallClockMs(): number {
    return this.#wallMs;
  }

  advanceWallClockMs(deltaMs: number): void {
    assert(deltaMs >= 0, 'the virtual clock never goes back');
    this.#wallMs += deltaMs;
  }

  /** Appends one record to `topic` (partitioned by key unless given) and processes everything. */
  pipe<K, V>(
    topic: string,
    serdes: Serdes<K, V>,
    key: K | null,
    value: V | null,
    options: { timestampMs?: number; partition?: number; process?: boolean } = {},
  ): void {
    this.#checkOpen();
    const keyBytes = key === null ? null : serdes.key.serialize(key);
    const valueBytes = value === null ? null : serdes.value.serialize(value);
    const record = { topic, key: keyBytes, value: valueBytes };
    this.#append(
      { ...record, timestampMs: options.timestampMs ?? this.#wallMs },
      options.partition,
    );
    // `process: false`: the record waits, unseen, for the next pipe or crash (it arrives while
    // the application is down, say).
    if (options.process !== false) this.#runUntilIdle();
  }

  /** Records of `topic` not read before by this call, decoded, in partition then offset order. */
  readOutput<K, V>(topic: string, serdes: Serdes<K, V>): TestRecord<K, V>[] {
    const partitions = this.#topics.get(topic)?.partitions ?? [];
    const read = this.#readPositions.get(topic) ?? partitions.map(() => 0);
    const out: TestRecord<K, V>[] = [];
    partitions.forEach((records, partition) => {
      for (const r of records.slice(read[partition] ?? 0)) {
        out.push({
          key: r.key === null ? null : serdes.key.deserialize(r.key),
          value: r.value === null ? null : serdes.value.deserialize(r.value),
          timestampMs: r.timestampMs,
          partition,
          headers: r.headers ?? {},
        });
      }
      read[partition] = records.length;
    });
    this.#readPositions.set(topic, read);
    return out;
  }

  partitionCount(topic: string): number {
    return this.#topics.get(topic)?.partitions.length ?? 0;
  }

  /** Every entry of store `name`, across tasks. */
  storeEntries(name: string): StoreEntry[] {
    assert(this.#topology.stores.has(name), `no store ${name}`);
    const entries: StoreEntry[] = [];
    for (const task of this.#tasks) {
      if (!task.subtopology.stores.includes(name)) continue;
      for (const [, entry] of task.store(name).entries()) entries.push(entry);
    }
    return entries;
  }

  /** The changelog records written for store `name` so far, in commit order. */
  changelog(name: string): readonly ChangelogRecord[] {
    return this.#changelog.get(name) ?? [];
  }

  metrics(): Record<string, Readonly<TaskMetrics>> {
    return Object.fromEntries(this.#tasks.map((task) => [task.id, { ...task.metrics }]));
  }

  /** Late records dropped, over all tasks. */
  lateDropped(): number {
    return this.#tasks.reduce((sum, task) => sum + task.metrics.lateDropped, 0);
  }

  describe(): string {
    return this.#topology.describe();
  }

  close(): void {
    this.#closed = true;
  }

  #configuredCount(topic: string): number {
    return this.#config.partitions?.[topic] ?? this.#config.defaultPartitions ?? 1;
  }

  #createTopic(topic: string, count: number): MemoryTopic {
    const existing = this.#topics.get(topic);
    if (existing !== undefined) return existing;
    const created = { partitions: Array.from({ length: count }, (): OutputRecord[] => []) };
    this.#topics.set(topic, created);
    return created;
  }

  #append(record: OutputRecord, partition?: number, fromPartition = 0): void {
    const topic = this.#createTopic(record.topic, this.#configuredCount(record.topic));
    const count = topic.partitions.length;
    const chosen =
      partition ??
      (record.key === null ? fromPartition % count : partitionForKey(record.key, count));
    assert(chosen >= 0 && chosen < count, `partition ${chosen} of ${record.topic} does not exist`);
    (topic.partitions[chosen] as OutputRecord[]).push(record);
  }

  #runUntilIdle(): void {
    for (let progress = true; progress;) {
      progress = false;
      for (const task of this.#tasks) {
        this.#feed(task);
        const pending = (topic: string): InputPending => this.#pendingOf(task, topic, 0);
        // The driver knows every input's end, so no wait is ever `unknown`: idle 0.
        while (task.step(pending, this.#wallMs, 0)) {
          progress = true;
          this.#countReplayStep();
          for (const out of task.takeOutput()) this.#append(out, undefined, task.partition);
          if (task.needsCommit()) this.#commit(task);
          this.#feed(task);
        }
        if (task.needsCommit()) {
          this.#commit(task); // A reorder commit held the next record back.
          progress = true;
        }
      }
    }
    const stuck = this.#tasks.filter((t) => t.hasPending()).map((t) => t.id);
    // Only a cycle of subtopologies (each waiting for the other's output) can leave records.
    assert(stuck.length === 0, `tasks ${stuck.join(', ')} wait for each other`);
    if (this.#config.commit !== 'manual') for (const task of this.#tasks) this.#commit(task);
  }

  #countReplayStep(): void {
    if (this.#commitAfterSteps === null) return;
    this.#commitAfterSteps -= 1;
    if (this.#commitAfterSteps > 0) return;
    this.#commitAfterSteps = null;
    for (const task of this.#tasks) this.#commit(task);
  }

  /**
   * What may still come on input `topic` of `task` before its buffered records: records not
   * fed yet, or records that a task writing `topic` has buffered or has not been fed yet.
   */
  #pendingOf(task: StreamTask, topic: string, depth: number): InputPending {
    const fed = this.#fed.get(task.id)?.get(topic) ?? 0;
    const end = this.#topics.get(topic)?.partitions[task.partition]?.length ?? 0;
    if (fed < end) return 'known';
    if (depth > pendingDepthMax) return 'none';
    for (const upstream of this.#tasks) {
      if (upstream === task || !upstream.subtopology.sinkTopics.includes(topic)) continue;
      if (upstream.hasPending()) return 'known';
      for (const input of upstream.subtopology.sourceTopics) {
        if (this.#pendingOf(upstream, input, depth + 1) === 'known') return 'known';
      }
    }
    return 'none';
  }

  #feed(task: StreamTask): void {
    const fed = this.#fed.get(task.id) as Map<string, number>;
    for (const [topic, next] of fed) {
      const records = this.#topics.get(topic)?.partitions[task.partition] ?? [];
      let offset = next;
      while (offset < records.length) {
        const r = records[offset] as OutputRecord;
        const input: InputRecord = { ...r, topic, partition: task.partition, offset };
        if (!task.add(input)) break;
        offset += 1;
      }
      fed.set(topic, offset);
    }
  }

  #commit(task: StreamTask, persistLocal = true): void {
    this.#appendChangelog(task);
    const changelogs: Record<string, number> = {};
    for (const store of task.subtopology.stores) {
      changelogs[store] = this.#changelogParts.get(store)?.[task.partition]?.length ?? 0;
    }
    const outputs: Record<string, number> = {};
    for (const topic of new Set(task.subtopology.sinkTopics)) {
      (this.#topics.get(topic)?.partitions ?? []).forEach((records, partition) => {
        outputs[`${topic}/${partition}`] = records.length;
      });
    }
    const previous = this.#checkpoints.get(task.key);
    const seq = (previous?.seq ?? 0) + 1;
    const ends = task.hasUnreplayedOutputs() ? { ...(previous?.outputs ?? {}) } : outputs;
    const checkpoint = { task: task.key, seq, ...task.position(), changelogs, outputs: ends };
    this.#checkpoints.set(task.key, checkpoint);
    task.committed();
    // After the checkpoint, as the runtime: local data never runs ahead of a checkpoint.
    if (persistLocal) this.#persistLocal(task, checkpoint);
  }

  #appendChangelog(task: StreamTask): void {
    for (const record of task.flushChangelog()) {
      this.#changelog.get(record.store)?.push(record);
      const parts = this.#changelogParts.get(record.store) as StoredChange[][];
      const part = parts[task.partition] ?? [];
      parts[task.partition] = part;
      part.push({ offset: part.length, key: record.key, value: record.value });
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new StreamsError('STREAMS_CLOSED', 'the test driver is closed');
  }
}
