// The runtime's durable side of a task: restore (read its checkpoint, its changelog partitions
// up to the covered offsets, and the outputs it wrote after the checkpoint) and commit (write
// the changelog changes, wait for every output to be acknowledged, then write the checkpoint
// record — the one write that makes a commit count). See checkpoint.ts for the record.
import type { Admin, Consumer, Producer, TopicPartition } from '../api/client/index.ts';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  originHeader,
  positionsHeader,
  taskHeader,
  type StoredChange,
  type TaskCheckpoint,
} from './checkpoint.ts';
import type { StreamTask } from './stream-task.ts';
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
  }) => void | Promise<void>,
): Promise<number> {
  const { highWatermark: end, logStartOffset } = await deps.admin.offsets(tp.topic, tp.partition);
  const start = Math.max(from, logStartOffset);
  if (start >= end) return end;
  deps.reader.assign([tp]);
  deps.reader.seek(tp, start);
  for (let position = start; position < end;) {
    for (const record of await deps.reader.poll({ maxWaitMs: 500 })) {
      if (record.offset >= end) continue;
      const applying = each(record);
      if (applying !== undefined) await applying;
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

/** What one restore did: changelog records held at once at most, and chunks applied. */
export interface RestoreStats {
  bufferedPeak: number;
  chunks: number;
}

/**
 * Restores `task` from `checkpoint` (null: it never committed), streaming: each store's
 * changelog is read from `from[store]` (its local store's coverage; default 0, the whole
 * changelog) and applied in chunks of at most `chunkRecordsMax` records, so a restore never
 * holds more of a changelog than that (plus the reader's one poll, which the runtime bounds the
 * same). After each chunk, `onChunk` gets every store's coverage so far (the runtime persists a
 * local store there). Records after the checkpoint's coverage are repaired (their keys are
 * rewritten by the next commit), then the outputs written after the checkpoint are collected.
 */
export async function restoreTask(
  deps: TaskIoDeps,
  task: StreamTask,
  checkpoint: TaskCheckpoint | null,
  options: {
    readonly from?: Readonly<Record<string, number>>;
    readonly chunkRecordsMax: number;
    readonly onChunk?: (coverage: Readonly<Record<string, number>>) => Promise<void>;
  },
): Promise<RestoreStats> {
  const from = options.from ?? {};
  const stats: RestoreStats = { bufferedPeak: 0, chunks: 0 };
  const coverage: Record<string, number> = { ...from };
  task.beginRestore(checkpoint);
  for (const store of task.subtopology.stores) {
    const topic = deps.topology.stores.get(store)?.changelogTopic ?? store;
    const covered = checkpoint?.changelogs[store] ?? 0;
    let chunk: StoredChange[] = [];
    const applyChunk = async (): Promise<void> => {
      if (chunk.length === 0) return;
      task.restoreChanges(store, chunk);
      coverage[store] = (chunk.at(-1) as StoredChange).offset + 1;
      chunk = [];
      stats.chunks += 1;
      await options.onChunk?.(coverage);
    };
    const { highWatermark, logStartOffset } = await deps.admin.offsets(topic, task.partition);
    const tp = { topic, partition: task.partition };
    const start = Math.min(highWatermark, Math.max(from[store] ?? 0, logStartOffset));
    const progress = { task: task.key, store, start, total: highWatermark };
    deps.onRestoreProgress({ ...progress, read: start });
    let read = 0;
    await readToEnd(deps, tp, from[store] ?? 0, async (r) => {
      read += 1;
      if (read % restoreProgressEveryRecords === 0) {
        deps.onRestoreProgress({ ...progress, read: r.offset + 1 });
      }
      if (r.key === null) return;
      if (r.offset >= covered) {
        // Written by a commit that never finished: every covered record is applied by now.
        await applyChunk();
        task.repairKey(store, r.key);
        return;
      }
      chunk.push({ offset: r.offset, key: r.key, value: r.value });
      stats.bufferedPeak = Math.max(stats.bufferedPeak, chunk.length);
      if (chunk.length >= options.chunkRecordsMax) await applyChunk();
    });
    await applyChunk();
    deps.onRestoreProgress({ ...progress, read: highWatermark });
  }
  const after = checkpoint === null ? null : await writtenAfter(deps, task, checkpoint);
  task.finishRestore(after?.written ?? [], after?.positions ?? []);
  return stats;
}

/**
 * Origins of the outputs `task` wrote after `checkpoint` (a crash after sending them), and the
 * positions they carry (tasks with several inputs).
 */
async function writtenAfter(
  deps: TaskIoDeps,
  task: StreamTask,
  checkpoint: TaskCheckpoint,
): Promise<{ written: string[]; positions: string[] }> {
  const written: string[] = [];
  const positions: string[] = [];
  for (const topic of new Set(task.subtopology.sinkTopics)) {
    for (let partition = 0; partition < deps.partitionCount(topic); partition += 1) {
      const from = checkpoint.outputs[`${topic}/${partition}`] ?? 0;
      await readToEnd(deps, { topic, partition }, from, (r) => {
        const header = (name: string): string | undefined => {
          const value = r.headers.find((h) => h.key === name)?.value;
          return value === undefined || value === null ? undefined : decoder.decode(value);
        };
        const origin = header(originHeader);
        if (header(taskHeader) !== task.key || origin === undefined) return;
        written.push(origin);
        const at = header(positionsHeader);
        if (at !== undefined) positions.push(at);
      });
    }
  }
  return { written, positions };
}

const decoder = new TextDecoder();

/** Where each output partition ends: the largest acknowledged offset + 1 this process saw. */
export class OutputEnds {
  /** Topic → per partition its end (no string key per acknowledgement: this runs per output). */
  readonly #ends = new Map<string, number[]>();

  note(topic: string, partition: number, offset: number): void {
    let ends = this.#ends.get(topic);
    if (ends === undefined) {
      ends = [];
      this.#ends.set(topic, ends);
    }
    const end = ends[partition];
    if (end === undefined || offset + 1 > end) ends[partition] = Math.max(0, offset + 1);
  }

  /** Seeds the ends of `topic`'s partitions from the broker (when a task starts). */
  async load(admin: Admin, topic: string, partitions: number): Promise<void> {
    for (let partition = 0; partition < partitions; partition += 1) {
      const { highWatermark } = await admin.offsets(topic, partition);
      this.note(topic, partition, highWatermark - 1);
    }
  }

  end(topic: string, partition: number): number {
    return this.#ends.get(topic)?.[partition] ?? 0;
  }

  /** `topic/partition` → end, for the partitions of `topics` with an end noted. */
  of(topics: Iterable<string>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const topic of new Set(topics)) {
      this.#ends.get(topic)?.forEach((end, partition) => {
        out[`${topic}/${partition}`] = end;
      });
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
  task.committed();
  return checkpoint;
}
