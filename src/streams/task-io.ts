// The runtime's durable side of a task: restore (read its checkpoint, its changelog partitions
// up to the covered offsets, and the outputs it wrote after the checkpoint) and commit (write
// the changelog changes, wait for every output to be acknowledged, then write the checkpoint
// record — the one write that makes a commit count). See checkpoint.ts for the record.
import type { Admin, Consumer, Producer, TopicPartition } from '../api/client/index.ts';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  originHeader,
  splitChangelog,
  taskHeader,
  type StoredChange,
  type TaskCheckpoint,
} from './checkpoint.ts';
import type { StreamTask, TaskRestore } from './stream-task.ts';
import type { Topology } from './topology.ts';

/** Progress of one restore: changelog offsets from `start`, `read` so far, up to `total`. */
export interface RestoreProgress {
  readonly task: string;
  readonly store: string;
  readonly start: number;
  readonly read: number;
  readonly total: number;
}

export interface TaskIoDeps {
  readonly topology: Topology;
  readonly admin: Admin;
  /** A plain consumer used only to read ranges (changelogs, checkpoints, outputs). */
  readonly reader: Consumer;
  readonly producer: Producer;
  readonly partitionCount: (topic: string) => number;
  readonly onRestoreProgress: (progress: RestoreProgress) => void;
}

export const checkpointTopicOf = (applicationId: string): string => `${applicationId}-checkpoints`;

/** Records read at most between two restore progress reports. */
export const restoreProgressEveryRecords = 500;

/** Reads `tp` from `from` up to its current end; `each` sees every record. */
export async function readToEnd(
  deps: Pick<TaskIoDeps, 'admin' | 'reader'>,
  tp: TopicPartition,
  from: number,
  each: (record: {
    offset: number;
    key: Uint8Array | null;
    value: Uint8Array | null;
    headers: readonly { key: string; value: Uint8Array | null }[];
  }) => void,
): Promise<number> {
  const { highWatermark: end, logStartOffset } = await deps.admin.offsets(tp.topic, tp.partition);
  const start = Math.max(from, logStartOffset);
  if (start >= end) return end;
  deps.reader.assign([tp]);
  deps.reader.seek(tp, start);
  for (let position = start; position < end;) {
    for (const record of await deps.reader.poll({ maxWaitMs: 500 })) {
      if (record.offset >= end) continue;
      each(record);
    }
    position = deps.reader.position(tp) ?? position;
  }
  return end;
}

/** The latest checkpoint of every task, read from the whole checkpoint topic. */
export class CheckpointIndex {
  readonly #topic: string;
  readonly #latest = new Map<string, TaskCheckpoint>();
  #readTo = 0;

  constructor(applicationId: string) {
    this.#topic = checkpointTopicOf(applicationId);
  }

  get topic(): string {
    return this.#topic;
  }

  /** Catches up with checkpoints written since the last call (by any instance). */
  async refresh(deps: Pick<TaskIoDeps, 'admin' | 'reader'>): Promise<void> {
    const tp = { topic: this.#topic, partition: 0 };
    this.#readTo = await readToEnd(deps, tp, this.#readTo, (record) => {
      if (record.value === null) return;
      const checkpoint = decodeCheckpoint(record.value);
      this.#latest.set(checkpoint.task, checkpoint);
    });
  }

  get(task: string): TaskCheckpoint | null {
    return this.#latest.get(task) ?? null;
  }

  set(checkpoint: TaskCheckpoint): void {
    this.#latest.set(checkpoint.task, checkpoint);
  }
}

/**
 * Reads what `task` needs to resume from `checkpoint` (null: it never committed); each store's
 * changelog from `from[store]` (its local store's coverage; default 0: the whole changelog).
 */
export async function readRestore(
  deps: TaskIoDeps,
  task: StreamTask,
  checkpoint: TaskCheckpoint | null,
  from: Readonly<Record<string, number>> = {},
): Promise<TaskRestore> {
  const apply = new Map<string, StoredChange[]>();
  const repair = new Map<string, Uint8Array[]>();
  for (const store of task.subtopology.stores) {
    const topic = deps.topology.stores.get(store)?.changelogTopic ?? store;
    const records: StoredChange[] = [];
    const { highWatermark, logStartOffset } = await deps.admin.offsets(topic, task.partition);
    const tp = { topic, partition: task.partition };
    const start = Math.min(highWatermark, Math.max(from[store] ?? 0, logStartOffset));
    const progress = { task: task.key, store, start, total: highWatermark };
    deps.onRestoreProgress({ ...progress, read: start });
    await readToEnd(deps, tp, from[store] ?? 0, (r) => {
      if (r.key === null) return;
      records.push({ offset: r.offset, key: r.key, value: r.value });
      if (records.length % restoreProgressEveryRecords === 0) {
        deps.onRestoreProgress({ ...progress, read: r.offset + 1 });
      }
    });
    deps.onRestoreProgress({ ...progress, read: highWatermark });
    const split = splitChangelog(records, checkpoint?.changelogs[store] ?? 0);
    apply.set(store, split.apply);
    repair.set(store, split.repair);
  }
  const written: string[] = [];
  if (checkpoint !== null) {
    for (const topic of new Set(task.subtopology.sinkTopics)) {
      for (let partition = 0; partition < deps.partitionCount(topic); partition += 1) {
        const from = checkpoint.outputs[`${topic}/${partition}`] ?? 0;
        await readToEnd(deps, { topic, partition }, from, (r) => {
          const header = (name: string): string | undefined => {
            const value = r.headers.find((h) => h.key === name)?.value;
            return value === undefined || value === null ? undefined : decoder.decode(value);
          };
          const origin = header(originHeader);
          if (header(taskHeader) === task.key && origin !== undefined) written.push(origin);
        });
      }
    }
  }
  return { checkpoint, apply, repair, written };
}

const decoder = new TextDecoder();

/** Where each output partition ends: the largest acknowledged offset + 1 this process saw. */
export class OutputEnds {
  readonly #ends = new Map<string, number>();

  note(topic: string, partition: number, offset: number): void {
    const key = `${topic}/${partition}`;
    this.#ends.set(key, Math.max(this.#ends.get(key) ?? 0, offset + 1));
  }

  /** Seeds the ends of `topic`'s partitions from the broker (when a task starts). */
  async load(admin: Admin, topic: string, partitions: number): Promise<void> {
    for (let partition = 0; partition < partitions; partition += 1) {
      const { highWatermark } = await admin.offsets(topic, partition);
      this.note(topic, partition, highWatermark - 1);
    }
  }

  end(topic: string, partition: number): number {
    return this.#ends.get(`${topic}/${partition}`) ?? 0;
  }

  of(topics: Iterable<string>): Record<string, number> {
    const out: Record<string, number> = {};
    const wanted = new Set(topics);
    for (const [key, end] of this.#ends) {
      if (wanted.has(key.slice(0, key.lastIndexOf('/')))) out[key] = end;
    }
    return out;
  }
}

/**
 * Commits `task`: its changelog changes, then (after `outputsAcked`, which waits for every
 * output sent so far) one checkpoint record. Returns the checkpoint written.
 */
export async function commitTask(
  deps: TaskIoDeps,
  task: StreamTask,
  previous: TaskCheckpoint | null,
  outputs: OutputEnds,
  checkpointTopic: string,
): Promise<TaskCheckpoint> {
  const covered: Record<string, number> = { ...(previous?.changelogs ?? {}) };
  const sends = task.flushChangelog().map(async (change) => {
    const topic = deps.topology.stores.get(change.store)?.changelogTopic ?? change.store;
    const meta = await deps.producer.send({
      topic,
      key: change.key,
      value: change.value,
      partition: task.partition,
    });
    covered[change.store] = Math.max(covered[change.store] ?? 0, meta.offset + 1);
  });
  await Promise.all(sends);
  await deps.producer.flush();
  const checkpoint: TaskCheckpoint = {
    task: task.key,
    seq: (previous?.seq ?? 0) + 1,
    ...task.position(),
    changelogs: covered,
    outputs: task.hasUnreplayedOutputs()
      ? { ...(previous?.outputs ?? {}) }
      : outputs.of(task.subtopology.sinkTopics),
  };
  await deps.producer.send({
    topic: checkpointTopic,
    key: task.key,
    value: encodeCheckpoint(checkpoint),
    partition: 0,
  });
  return checkpoint;
}
