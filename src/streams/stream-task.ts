// One task: a subtopology's processors for one partition number, fed from that partition of
// every topic the subtopology reads. Pure and synchronous: records come in with add(), leave as
// output records and changelog records. Records are processed in timestamp order across the
// task's input partitions, waiting while an input with nothing buffered may still hold an
// earlier record (next-record.ts decides), and stream time is the largest timestamp
// processed, so it never goes back. Each input buffers at most bufferedMax records, so a full
// input never keeps another input's records out.
import { AssertionError, assert } from '../common/index.ts';
import { StreamsError } from './errors.ts';
import type { DropReason, Processor, ProcessorContext, StreamRecord } from './processor.ts';
import { InMemoryKeyValueStore, type ChangelogRecord, type KeyValueStore } from './state-store.ts';
import type { StoreDef, Subtopology, Topology } from './topology.ts';
import { originText, taskKey, type StoredChange, type TaskCheckpoint } from './checkpoint.ts';
import { bytesToId } from './store-key.ts';
import { nextRecord, type InputPending, type NextRecord } from './next-record.ts';
import type { Serdes } from './serdes.ts';

export interface InputRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly timestampMs: number;
}

export interface OutputRecord {
  readonly topic: string;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly timestampMs: number;
  /**
   * The producing task's key and the record's origin: the input record being processed (topic
   * and offset) and the output's index among that record's outputs; see checkpoint.ts
   * (`originText`). Numbers, not text: the runtime writes the header's bytes directly.
   */
  readonly task?: string;
  readonly originTopic?: string;
  readonly originOffset?: number;
  readonly originIndex?: number;
  /**
   * A task with several inputs: each input's position (list order, comma-separated) once the
   * origin record was processed — the `rill.positions` header, read by a restore's fence.
   */
  readonly positions?: string | undefined;
  /** Extra headers (dead-letter records name their error). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/** What a task resumes from: its checkpoint and the changelog records it covers. */
export interface TaskRestore {
  readonly checkpoint: TaskCheckpoint | null;
  /** Store → the changelog records to apply, in offset order. */
  readonly apply: ReadonlyMap<string, readonly StoredChange[]>;
  /** Store → keys written after the covered offset: the next commit rewrites them. */
  readonly repair: ReadonlyMap<string, readonly Uint8Array[]>;
  /** Origins of outputs this task wrote after its checkpoint: a replay does not resend them. */
  readonly written: Iterable<string>;
  /** The positions those outputs carry (tasks with several inputs): the replay's fence. */
  readonly positions?: Iterable<string>;
}

export interface TaskMetrics {
  processed: number;
  lateDropped: number;
  nullKeyDropped: number;
  streamTimeMs: number;
  /** Outputs a replay produced again and did not resend (they were written before a crash). */
  suppressed: number;
  /** Changelog records applied by the last restore. */
  restored: number;
  /** Records skipped to the dead-letter topic (onError). */
  deadLettered: number;
  /** Records processed after waiting taskIdleMsMax for an input whose end was not known. */
  enforced: number;
  /** Changelog records the last restore held in memory at once (≤ restoreChunkRecordsMax). */
  restoreBufferedPeak: number;
  /** Commits made because the next record would have been processed out of replay order. */
  reorderCommits: number;
}

export class StreamTask {
  readonly id: string;
  readonly partition: number;
  readonly subtopology: Subtopology;
  readonly metrics: TaskMetrics = {
    processed: 0,
    lateDropped: 0,
    nullKeyDropped: 0,
    streamTimeMs: -1,
    suppressed: 0,
    restored: 0,
    deadLettered: 0,
    enforced: 0,
    restoreBufferedPeak: 0,
    reorderCommits: 0,
  };
  /** Stable across topology changes that keep the source topics: see checkpoint.ts. */
  readonly key: string;
  readonly #topology: Topology;
  /** Per input topic, its buffered records, its source node, and its view for next(). */
  readonly #inputs = new Map<string, TaskInput>();
  /** The inputs in the subtopology's topic order (next-record.ts breaks ties by it). */
  readonly #inputList: TaskInput[] = [];
  readonly #views: MutableInputView[] = [];
  readonly #processors = new Map<string, Processor>();
  readonly #stores = new Map<string, KeyValueStore>();
  readonly #nextOffsets = new Map<string, number>();
  /** Per input topic, the offset after the last record added (buffered or processed). */
  readonly #nextAdd = new Map<string, number>();
  #output: OutputRecord[] = [];
  /** Origins written before a crash and not yet produced again by the replay. */
  readonly #written = new Set<string>();
  /** The input record being processed (the origin of its outputs), and its outputs so far. */
  #originTopic = '';
  #originOffset = 0;
  #originIndex = 0;
  /** Records buffered at most per input. */
  readonly #bufferedMax: number;
  #buffered = 0;
  /** The checkpoint a restore started from (beginRestore). */
  #restoredFrom: TaskCheckpoint | null = null;
  /** When the task began waiting for an input whose end is not known (null: not waiting). */
  #waitSinceMs: number | null = null;
  /**
   * Several inputs only (see "Replay order" in docs/streams.md). Per input (list order), the
   * largest timestamp processed from it since the last commit (-Infinity: none).
   */
  readonly #intervalMaxMs: number[] = [];
  /** The next record would be taken before one processed since the last commit: commit first. */
  #reorderCommit = false;
  /** After a restore: per input, the position the first run had reached when it wrote its
   * last output (null: none); until every input is there, no record beyond it is taken. */
  #fence: number[] | null = null;
  /** Several inputs only: the positions header of the current input record's outputs. */
  #positions: string | undefined = undefined;

  constructor(
    topology: Topology,
    subtopology: Subtopology,
    partition: number,
    bufferedMax: number,
    /** Makes the task's stores (default: in memory); the runtime passes local ones. */
    createStore: (def: StoreDef) => KeyValueStore = (def) => new InMemoryKeyValueStore(def),
  ) {
    this.id = `${subtopology.id}_${partition}`;
    this.key = taskKey(subtopology.sourceTopics, partition);
    this.partition = partition;
    this.subtopology = subtopology;
    this.#topology = topology;
    this.#bufferedMax = bufferedMax;
    for (const topic of subtopology.sourceTopics) {
      const source = this.#sourceFor(topic);
      const serdes = topology.node(source).serdes;
      assert(serdes !== null, `source ${source} has no serdes`);
      const input: TaskInput = { topic, queue: new RecordQueue(), source, serdes };
      this.#inputs.set(topic, input);
      this.#inputList.push(input);
      this.#views.push({ topic, headTimestampMs: null, pending: 'none' });
      this.#intervalMaxMs.push(-Infinity);
    }
    for (const name of subtopology.stores) {
      const def = topology.stores.get(name);
      assert(def !== undefined, `no store ${name}`);
      this.#stores.set(name, createStore(def));
    }
    for (const name of subtopology.nodes) {
      this.#processors.set(name, topology.node(name).create(this.#contextFor(name)));
    }
  }

  /**
   * Buffers one input record; false when its input holds bufferedMax records already (the
   * caller stops reading that input until hasRoom()).
   */
  add(record: InputRecord): boolean {
    const queue = this.#inputs.get(record.topic)?.queue;
    // Messages are built only on failure: this runs for every record.
    if (queue === undefined) assert(false, `task ${this.id} does not read ${record.topic}`);
    if (record.partition !== this.partition) {
      assert(false, `record of partition ${record.partition} in task ${this.id}`);
    }
    // A record handed out again (a re-fetch after a seek) was taken already: skip it.
    if (record.offset < (this.#nextAdd.get(record.topic) ?? 0)) return true;
    if (queue.length >= this.#bufferedMax) return false;
    queue.push(record);
    this.#nextAdd.set(record.topic, record.offset + 1);
    this.#buffered += 1;
    return true;
  }

  hasPending(): boolean {
    return this.#buffered > 0;
  }

  /** Whether input `topic` may buffer another record. */
  hasRoom(topic: string): boolean {
    return (this.#inputs.get(topic)?.queue.length ?? 0) < this.#bufferedMax;
  }

  /**
   * What to do next (see next-record.ts): `pending` says, for an input, what may still come
   * before its buffered records. Pure: the caller passes the time.
   */
  next(pending: (topic: string) => InputPending, nowMs: number, taskIdleMsMax: number): NextRecord {
    const inputs = this.#inputList;
    const views = this.#views;
    const fence = this.#fence;
    let fenced = false;
    for (let i = 0; i < inputs.length; i += 1) {
      const { queue, topic } = inputs[i] as TaskInput;
      const view = views[i] as MutableInputView;
      const head = queue.peek();
      if (fence !== null) {
        const at = head?.offset ?? this.#nextOffsets.get(topic) ?? 0;
        if (at >= (fence[i] as number)) {
          // Replaying: this input has reached where the first run was; nothing beyond it yet.
          view.headTimestampMs = null;
          view.pending = 'none';
          continue;
        }
        fenced = true;
        if (head === undefined) {
          // Below its fence an input surely has more: the first run processed it.
          view.headTimestampMs = null;
          view.pending = 'known';
          continue;
        }
      }
      view.headTimestampMs = head === undefined ? null : head.timestampMs;
      view.pending = head === undefined ? pending(topic) : 'none';
    }
    if (fence !== null && !fenced) {
      this.#fence = null;
      return this.next(pending, nowMs, taskIdleMsMax);
    }
    const decision = nextRecord(views, this.#waitSinceMs, nowMs, taskIdleMsMax);
    if (decision.kind === 'wait' && decision.untilMs !== null) this.#waitSinceMs ??= nowMs;
    else this.#waitSinceMs = null;
    return decision;
  }

  /**
   * Processes one record if next() allows it; false when the task is idle or waits. `pending`
   * is called only for inputs with nothing buffered.
   */
  step(pending: (topic: string) => InputPending, nowMs: number, taskIdleMsMax: number): boolean {
    if (this.#reorderCommit) return false;
    const decision = this.next(pending, nowMs, taskIdleMsMax);
    if (decision.kind !== 'process') return false;
    if (this.#inputList.length > 1 && this.#inverts(decision.topic)) {
      this.#reorderCommit = true;
      this.metrics.reorderCommits += 1;
      return false;
    }
    if (decision.enforced) this.metrics.enforced += 1;
    this.#processHeadOf(decision.topic);
    return true;
  }

  /** The offset after the last record of `topic` added (buffered or processed). */
  nextAddOffset(topic: string): number {
    return this.#nextAdd.get(topic) ?? 0;
  }

  #processHeadOf(topic: string): void {
    const input = this.#inputs.get(topic);
    const record = input?.queue.shift();
    if (input === undefined || record === undefined) {
      assert(false, `task ${this.id} has nothing buffered for ${topic}`);
    }
    this.#buffered -= 1;
    this.#process(input, record);
  }

  /** Hands each output record produced since the last call to `each`, in production order. */
  drainOutput(each: (record: OutputRecord) => void): void {
    const output = this.#output;
    if (output.length === 0) return;
    for (let i = 0; i < output.length; i += 1) each(output[i] as OutputRecord);
    output.length = 0;
  }

  /** Output records produced since the last call, in production order. */
  takeOutput(): OutputRecord[] {
    const output = this.#output;
    this.#output = [];
    return output;
  }

  /** Whether some store's changelog cache is full, so the caller should commit now. */
  needsCommit(): boolean {
    if (this.#reorderCommit) return true;
    for (const store of this.#stores.values()) if (store.isCacheFull()) return true;
    return false;
  }

  /** Whether some store has changes its changelog has not received. */
  needsFlush(): boolean {
    for (const store of this.#stores.values()) if (store.hasChanges()) return true;
    return false;
  }

  /** The changelog records to write with this commit, store by store. */
  flushChangelog(): ChangelogRecord[] {
    return [...this.#stores.values()].flatMap((store) => store.flushChangelog());
  }

  /**
   * A checkpoint of position() was just made durable (the caller commits): a new interval of
   * processing starts, whose order a crash replays (see #inverts).
   */
  committed(): void {
    this.#intervalMaxMs.fill(-Infinity);
    this.#reorderCommit = false;
  }

  /**
   * Whether taking the head of `topic` now would put it after a record of another input,
   * processed since the last commit, that the replay order (by timestamp, ties to the input
   * listed first: what nextRecord gives when every record is there) puts after it. A crash
   * before the next commit would then replay the two the other way round; so the task commits
   * first, and every interval a replay can meet is processed in replay order.
   */
  #inverts(topic: string): boolean {
    const inputs = this.#inputList;
    let j = 0;
    while ((inputs[j] as TaskInput).topic !== topic) j += 1;
    const t = (inputs[j] as TaskInput).queue.peek()?.timestampMs ?? -Infinity;
    for (let i = 0; i < inputs.length; i += 1) {
      if (i === j) continue;
      const max = this.#intervalMaxMs[i] as number;
      if (max > t || (max === t && i > j)) return true;
    }
    return false;
  }

  /** Per input topic, the offset after the last record processed. */
  nextOffsets(): ReadonlyMap<string, number> {
    return this.#nextOffsets;
  }

  /** Resumes from a checkpoint: call once, before the first add(). */
  restore(from: TaskRestore): void {
    this.beginRestore(from.checkpoint);
    for (const [name, changes] of from.apply) this.restoreChanges(name, changes);
    for (const [name, keys] of from.repair) for (const key of keys) this.repairKey(name, key);
    this.finishRestore(from.written, from.positions ?? []);
  }

  /**
   * A restore in parts, for a caller that streams the changelogs (the runtime, in bounded
   * chunks): beginRestore, then restoreChanges and repairKey per store in changelog order,
   * then finishRestore. First: the checkpoint's input positions and stream time.
   */
  beginRestore(checkpoint: TaskCheckpoint | null): void {
    assert(this.metrics.processed === 0 && this.#buffered === 0, 'restore a fresh task');
    this.#restoredFrom = checkpoint;
    if (checkpoint === null) return;
    for (const [topic, offset] of Object.entries(checkpoint.offsets)) {
      this.#nextOffsets.set(topic, offset);
      this.#nextAdd.set(topic, offset);
    }
    this.metrics.streamTimeMs = checkpoint.streamTimeMs;
  }

  /** Applies changelog records the checkpoint covers to `store`, in offset order. */
  restoreChanges(name: string, changes: readonly StoredChange[]): void {
    const store = this.store(name);
    for (const change of changes) store.restore(change.key, change.value);
    this.metrics.restored += changes.length;
  }

  /** A key written after the checkpoint's coverage: the next commit rewrites it. */
  repairKey(name: string, key: Uint8Array): void {
    this.store(name).markChanged(bytesToId(key));
  }

  /**
   * Last: the origins written after the checkpoint, and (several inputs) the positions those
   * outputs carry; processors rebuild their indexes. The replay takes no record beyond the
   * furthest positions until every input has reached them: it meets the first run's records
   * in the first run's order (each interval is processed in replay order, see #inverts), and
   * none that arrived after the first run wrote its last output.
   */
  finishRestore(written: Iterable<string>, positions: Iterable<string> = []): void {
    const checkpoint = this.#restoredFrom;
    for (const text of positions) {
      const at = text.split(',').map(Number);
      if (at.length !== this.#inputList.length || at.some((n) => !Number.isSafeInteger(n)))
        continue;
      const fence = this.#fence ?? at.map(() => 0);
      this.#fence = fence.map((n, i) => Math.max(n, at[i] as number));
    }
    // An origin whose input record lies before the checkpoint is never produced again.
    for (const origin of written) {
      const at = origin.lastIndexOf('@');
      const offset = Number.parseInt(origin.slice(at + 1), 10);
      if (offset >= (checkpoint?.offsets[origin.slice(0, at)] ?? 0)) this.#written.add(origin);
    }
    for (const processor of this.#processors.values()) processor.onRestored?.();
  }

  /**
   * Whether outputs written before a crash still await their replay. A commit meanwhile keeps
   * the previous checkpoint's output ends, so a second crash scans them again (and the
   * replay after it does not send them twice).
   */
  hasUnreplayedOutputs(): boolean {
    return this.#written.size > 0;
  }

  /** The checkpoint of what was processed so far (the caller adds changelog and output ends). */
  position(): { offsets: Record<string, number>; streamTimeMs: number } {
    return {
      offsets: Object.fromEntries(this.#nextOffsets),
      streamTimeMs: this.metrics.streamTimeMs,
    };
  }

  store(name: string): KeyValueStore {
    const store = this.#stores.get(name);
    assert(store !== undefined, `task ${this.id} has no store ${name}`);
    return store;
  }

  #process(input: TaskInput, record: InputRecord): void {
    this.#originTopic = record.topic;
    this.#originOffset = record.offset;
    this.#originIndex = 0;
    if (this.#inputList.length > 1) this.#noteInterval(input, record);
    try {
      const decoded = this.#decode(input.serdes, record);
      const advanced = record.timestampMs > this.metrics.streamTimeMs;
      if (advanced) this.metrics.streamTimeMs = record.timestampMs;
      this.#run(input.source, record, decoded, advanced);
    } catch (error) {
      const policy = this.#topology.onError;
      if (!(error instanceof StreamsError) || policy === 'fail') throw error;
      if (error.code !== 'STREAMS_DESERIALIZATION' && error.code !== 'STREAMS_HANDLER') throw error;
      this.#deadLetter(policy.deadLetterTopic, record, error);
    }
    this.metrics.processed += 1;
    this.#nextOffsets.set(record.topic, record.offset + 1);
  }

  /** Several inputs: the record's timestamp goes into its input's interval maximum. */
  #noteInterval(input: TaskInput, record: InputRecord): void {
    this.#positions = undefined;
    const i = this.#inputList.indexOf(input);
    if (record.timestampMs > (this.#intervalMaxMs[i] as number)) {
      this.#intervalMaxMs[i] = record.timestampMs;
    }
  }

  /**
   * Several inputs: the positions the current record's outputs carry — every input's position
   * once the record is processed, in list order — from which a restore knows how far the
   * first run had got (the fence). Made at its first output (most join records have none).
   */
  #positionsNow(): string | undefined {
    const inputs = this.#inputList;
    if (inputs.length === 1 || this.#positions !== undefined) return this.#positions;
    let positions = '';
    for (let i = 0; i < inputs.length; i += 1) {
      const { topic } = inputs[i] as TaskInput;
      const at =
        topic === this.#originTopic ? this.#originOffset + 1 : (this.#nextOffsets.get(topic) ?? 0);
      positions += i === 0 ? `${at}` : `,${at}`;
    }
    this.#positions = positions;
    return positions;
  }

  #run(source: string, record: InputRecord, decoded: StreamRecord, advanced: boolean): void {
    try {
      this.#processors.get(source)?.process(decoded);
      if (advanced) {
        for (const processor of this.#processors.values()) {
          processor.onStreamTime?.(this.metrics.streamTimeMs);
        }
      }
    } catch (error) {
      if (error instanceof StreamsError || error instanceof AssertionError) throw error;
      throw new StreamsError('STREAMS_HANDLER', `a handler threw in task ${this.id}`, {
        cause: error,
        details: { task: this.id, topic: record.topic, offset: record.offset },
      });
    }
  }

  /** Skips `record`: it goes to the dead-letter topic, with headers naming why. */
  #deadLetter(topic: string, record: InputRecord, error: StreamsError): void {
    this.metrics.deadLettered += 1;
    const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
    const headers = {
      'rill.error.code': error.code,
      'rill.error.message': `${error.message}: ${cause}`.slice(0, 1000),
      'rill.error.topic': record.topic,
      'rill.error.partition': String(record.partition),
      'rill.error.offset': String(record.offset),
    };
    this.#sendOut(
      { topic, key: record.key, value: record.value, timestampMs: record.timestampMs },
      headers,
    );
  }

  #sourceFor(topic: string): string {
    for (const name of this.subtopology.nodes) {
      const node = this.#topology.node(name);
      if (node.kind === 'source' && node.topics.includes(topic)) return name;
    }
    throw new AssertionError(`no source of ${topic} in task ${this.id}`);
  }

  #decode(serdes: Serdes<unknown, unknown>, record: InputRecord): StreamRecord {
    try {
      return {
        key: record.key === null ? null : serdes.key.deserialize(record.key),
        value: record.value === null ? null : serdes.value.deserialize(record.value),
        timestampMs: record.timestampMs,
      };
    } catch (error) {
      const where = `${record.topic}/${record.partition}@${record.offset}`;
      throw new StreamsError('STREAMS_DESERIALIZATION', `cannot decode record ${where}`, {
        cause: error,
        details: { topic: record.topic, partition: record.partition, offset: record.offset },
      });
    }
  }

  /** Stamps an output's origin; one written before a crash is not sent again. */
  #sendOut(record: OutputRecord, headers?: Readonly<Record<string, string>>): void {
    const originTopic = this.#originTopic;
    const originOffset = this.#originOffset;
    const originIndex = this.#originIndex;
    this.#originIndex += 1;
    if (
      this.#written.size > 0 &&
      this.#written.delete(originText(originTopic, originOffset, originIndex))
    ) {
      this.metrics.suppressed += 1;
      return;
    }
    const { topic, key, value, timestampMs } = record;
    const task = this.key;
    this.#output.push({
      topic,
      key,
      value,
      timestampMs,
      task,
      originTopic,
      originOffset,
      originIndex,
      positions: this.#positionsNow(),
      headers,
    });
  }

  #contextFor(name: string): ProcessorContext {
    // Resolved at the first forward: children are created after their parents.
    let children: Processor[] | null = null;
    return {
      taskId: this.id,
      partition: this.partition,
      forward: (record) => {
        children ??= this.#topology
          .children(name)
          .map((child) => this.#processors.get(child) as Processor);
        for (const child of children) child.process(record);
      },
      send: (topic, key, value, timestampMs) => this.#sendOut({ topic, key, value, timestampMs }),
      store: (store) => this.store(store),
      streamTimeMs: () => this.metrics.streamTimeMs,
      countDrop: (reason: DropReason) => {
        if (reason === 'late') this.metrics.lateDropped += 1;
        else this.metrics.nullKeyDropped += 1;
      },
    };
  }
}

interface TaskInput {
  readonly topic: string;
  readonly queue: RecordQueue;
  /** The source node reading the topic, and its serdes. */
  readonly source: string;
  readonly serdes: Serdes<unknown, unknown>;
}

interface MutableInputView {
  readonly topic: string;
  headTimestampMs: number | null;
  pending: InputPending;
}

/** A FIFO of records: taking the head costs O(1); the array is compacted as it drains. */
class RecordQueue {
  #items: InputRecord[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(record: InputRecord): void {
    this.#items.push(record);
  }

  peek(): InputRecord | undefined {
    return this.#items[this.#head];
  }

  shift(): InputRecord | undefined {
    const record = this.#items[this.#head];
    if (record === undefined) return undefined;
    this.#head += 1;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return record;
  }
}
