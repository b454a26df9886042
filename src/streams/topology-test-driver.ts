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
  StreamTask,
  type InputRecord,
  type OutputRecord,
  type TaskMetrics,
} from './stream-task.ts';
import type { Topology } from './topology.ts';

export interface TestDriverConfig {
  /** Partition count per topic; topics not listed get defaultPartitions. */
  readonly partitions?: Readonly<Record<string, number>>;
  readonly defaultPartitions?: number;
  /** The virtual wall clock's start (ms since the epoch): default record timestamps. */
  readonly startWallMs?: number;
  /** Records a task buffers at most before the driver stops feeding it. */
  readonly taskBufferedMax?: number;
}

export interface TestRecord<K, V> {
  readonly key: K | null;
  readonly value: V | null;
  readonly timestampMs: number;
  readonly partition: number;
}

interface MemoryTopic {
  readonly partitions: OutputRecord[][];
}

export class TopologyTestDriver {
  readonly #topology: Topology;
  readonly #config: TestDriverConfig;
  readonly #topics = new Map<string, MemoryTopic>();
  readonly #tasks: StreamTask[] = [];
  /** task id → topic → next offset to feed it. */
  readonly #fed = new Map<string, Map<string, number>>();
  readonly #changelog = new Map<string, ChangelogRecord[]>();
  readonly #readPositions = new Map<string, number[]>();
  #wallMs: number;
  #closed = false;

  /** Codes: STREAMS_NOT_COPARTITIONED when a join's inputs differ in partition count. */
  constructor(topology: Topology, config: TestDriverConfig = {}) {
    this.#topology = topology;
    this.#config = config;
    this.#wallMs = config.startWallMs ?? 0;
    const counts = resolvePartitionCounts(topology, (topic) => this.#configuredCount(topic));
    for (const [topic, count] of counts) this.#createTopic(topic, count);
    const bufferedMax = config.taskBufferedMax ?? 10_000;
    for (const sub of topology.subtopologies) {
      const taskCount = Math.max(...sub.sourceTopics.map((t) => counts.get(t) ?? 1));
      for (let partition = 0; partition < taskCount; partition += 1) {
        const task = new StreamTask(topology, sub, partition, bufferedMax);
        this.#tasks.push(task);
        this.#fed.set(task.id, new Map(sub.sourceTopics.map((t) => [t, 0])));
      }
    }
    for (const store of topology.stores.values()) this.#changelog.set(store.name, []);
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
    options: { timestampMs?: number; partition?: number } = {},
  ): void {
    this.#checkOpen();
    const keyBytes = key === null ? null : serdes.key.serialize(key);
    const valueBytes = value === null ? null : serdes.value.serialize(value);
    const record = { topic, key: keyBytes, value: valueBytes };
    this.#append(
      { ...record, timestampMs: options.timestampMs ?? this.#wallMs },
      options.partition,
    );
    this.#runUntilIdle();
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
        while (task.hasPending()) {
          task.processNext();
          progress = true;
          for (const out of task.takeOutput()) this.#append(out, undefined, task.partition);
          if (task.needsCommit()) this.#commit(task);
          this.#feed(task);
        }
      }
    }
    for (const task of this.#tasks) this.#commit(task);
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

  #commit(task: StreamTask): void {
    for (const record of task.flushChangelog()) this.#changelog.get(record.store)?.push(record);
  }

  #checkOpen(): void {
    if (this.#closed) throw new StreamsError('STREAMS_CLOSED', 'the test driver is closed');
  }
}
