// Rill Streams applications as the cluster shows them: an application is a compacted topic
// `<app>-checkpoints` (one record per task: input offsets, stream time, changelog coverage),
// its instances' statuses in `<app>-status`, and the consumer group `<app>`. CheckpointWatcher
// follows both topics through the public fetch route (of the partition's leader) from where it
// stopped; streamsView() joins them with the topics' high watermarks and the group (pure).
import type { GroupDescriptionBody, HttpExchange, TopicDescriptionBody } from '../wire.ts';
import type { RillApp } from '../server/route-context.ts';
import {
  applyStatuses,
  emptyStatusCursor,
  statusSuffix,
  type InstanceStatusView,
  type StatusCursor,
} from './console-streams-status.ts';

/** Streams applications followed; the rest are counted in streamsLeftOut. */
export const consoleStreamsAppsMax = 16;
/**
 * Tasks remembered per application; checkpoints of further tasks are counted, not kept. Every
 * event carries the tasks, so this bounds the event's size too (~0.4 KB a task).
 */
export const consoleStreamsTasksMax = 256;
/** Bytes of checkpoint records one fetch asks for. */
export const checkpointFetchBytesMax = 256 * 1024;
/** Fetches per application per read (a long backlog is caught up over several reads). */
const checkpointFetchesPerReadMax = 8;
const checkpointAnswerBytesMax = 2 * checkpointFetchBytesMax + 64 * 1024;
const checkpointAskTimeoutMs = 1_000;
export const checkpointSuffix = '-checkpoints';

/** What the console keeps of one task's latest checkpoint. */
export interface CheckpointSummary {
  readonly task: string;
  readonly seq: number;
  readonly offsets: Readonly<Record<string, number>>;
  readonly streamTimeMs: number;
  readonly changelogs: Readonly<Record<string, number>>;
  /** When the checkpoint was written (the record's timestamp). */
  readonly writtenMs: number;
}

/** How far one application's checkpoint topic has been read, and its latest checkpoints. */
export interface CheckpointCursor {
  readonly nextOffset: number;
  readonly highWatermark: number | null;
  readonly tasks: ReadonlyMap<string, CheckpointSummary>;
  /** Checkpoints of tasks beyond consoleStreamsTasksMax (not kept). */
  readonly tasksLeftOut: number;
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

function countsOf(value: unknown): Record<string, number> | null {
  if (typeof value !== 'object' || value === null) return null;
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(value)) if (isCount(n)) out[key] = n;
  return out;
}

/** A checkpoint record's value (JSON text); null when it is not one. */
export function parseCheckpoint(value: string, writtenMs: number): CheckpointSummary | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return null;
  }
  const c = parsed as Record<string, unknown> | null;
  if (typeof c !== 'object' || c === null || typeof c['task'] !== 'string') return null;
  const offsets = countsOf(c['offsets']);
  const changelogs = countsOf(c['changelogs']);
  if (!isCount(c['seq']) || !isCount(c['streamTimeMs']) || offsets === null) return null;
  const task = c['task'].slice(0, 500);
  return {
    task,
    seq: c['seq'],
    offsets,
    streamTimeMs: c['streamTimeMs'],
    changelogs: changelogs ?? {},
    writtenMs,
  };
}

interface FetchedRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: string | null;
  readonly value: string | null;
}

interface FetchAnswer {
  readonly records: readonly FetchedRecord[];
  readonly nextOffset: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

/** The cursor after the records of one fetch (a null value deletes its task). */
export function applyCheckpoints(cursor: CheckpointCursor, answer: FetchAnswer): CheckpointCursor {
  const tasks = new Map(cursor.tasks);
  let tasksLeftOut = cursor.tasksLeftOut;
  for (const record of answer.records) {
    if (record.key === null) continue;
    if (record.value === null) {
      tasks.delete(record.key);
      continue;
    }
    const checkpoint = parseCheckpoint(record.value, record.timestamp);
    if (checkpoint === null) continue;
    if (!tasks.has(checkpoint.task) && tasks.size >= consoleStreamsTasksMax) tasksLeftOut += 1;
    else tasks.set(checkpoint.task, checkpoint);
  }
  return {
    nextOffset: Math.max(cursor.nextOffset, answer.nextOffset),
    highWatermark: answer.highWatermark,
    tasks,
    tasksLeftOut,
  };
}

/** What every followed topic's cursor has. */
interface Followed {
  readonly nextOffset: number;
  readonly highWatermark: number | null;
}

const emptyCursor: CheckpointCursor = {
  nextOffset: 0,
  highWatermark: null,
  tasks: new Map(),
  tasksLeftOut: 0,
};

export interface CheckpointWatcherDeps {
  readonly app: RillApp;
  readonly forwarder: HttpExchange;
  readonly nodeId: () => number;
}

/**
 * Follows the checkpoint topics: each read fetches only what was appended since the last one
 * (nothing when the HW has not moved), at most checkpointFetchesPerReadMax fetches per topic.
 * Cursors of applications that disappeared are dropped; at most consoleStreamsAppsMax are kept.
 */
export class CheckpointWatcher {
  readonly #deps: CheckpointWatcherDeps;
  readonly #cursors = new Map<string, CheckpointCursor>();
  /** Status topic → its cursor (only of the applications followed). */
  readonly #statuses = new Map<string, StatusCursor>();

  constructor(deps: CheckpointWatcherDeps) {
    this.#deps = deps;
  }

  get size(): number {
    return this.#cursors.size;
  }

  /** Forgets every cursor (nobody watches any more); the next read starts from the log start. */
  clear(): void {
    this.#cursors.clear();
    this.#statuses.clear();
  }

  /** The status cursors as of the last refresh, by status topic (`<app>-status`). */
  statuses(): ReadonlyMap<string, StatusCursor> {
    return new Map(this.#statuses);
  }

  /** Brings every application's cursor up to date with its checkpoint topic's description. */
  async refresh(
    topics: readonly TopicDescriptionBody[],
    brokers: readonly { readonly id: number; readonly url: string }[],
  ): Promise<Map<string, CheckpointCursor>> {
    const wanted = topics
      .filter((t) => t.name.endsWith(checkpointSuffix) && !t.name.startsWith('__'))
      .slice(0, consoleStreamsAppsMax);
    const statusNames = new Set(
      wanted.map((t) => t.name.slice(0, -checkpointSuffix.length) + statusSuffix),
    );
    const statusTopics = topics.filter((t) => statusNames.has(t.name));
    for (const name of [...this.#cursors.keys()]) {
      if (!wanted.some((t) => t.name === name)) this.#cursors.delete(name);
    }
    for (const name of [...this.#statuses.keys()]) {
      if (!statusTopics.some((t) => t.name === name)) this.#statuses.delete(name);
    }
    const urls = new Map(brokers.map((b) => [b.id, b.url]));
    await Promise.all([
      ...wanted.map((topic) =>
        this.#follow(topic, urls, this.#cursors, emptyCursor, applyCheckpoints),
      ),
      ...statusTopics.map((topic) =>
        this.#follow(topic, urls, this.#statuses, emptyStatusCursor, applyStatuses),
      ),
    ]);
    return new Map(this.#cursors);
  }

  async #follow<C extends Followed>(
    topic: TopicDescriptionBody,
    urls: ReadonlyMap<number, string>,
    cursors: Map<string, C>,
    empty: C,
    apply: (cursor: C, answer: FetchAnswer) => C,
  ): Promise<void> {
    const p0 = topic.partitions.find((p) => p.partition === 0);
    let cursor = cursors.get(topic.name) ?? empty;
    if (p0 === undefined || p0.leader === null) return;
    if (p0.highWatermark !== null) {
      const highWatermark = Math.max(cursor.highWatermark ?? 0, p0.highWatermark);
      cursor = { ...cursor, highWatermark };
    }
    for (let i = 0; i < checkpointFetchesPerReadMax; i += 1) {
      if (cursor.highWatermark !== null && cursor.nextOffset >= cursor.highWatermark) break;
      const leaderUrl = urls.get(p0.leader) ?? null;
      const answer = await this.#fetch(topic.name, p0.leader, leaderUrl, cursor.nextOffset);
      if (answer === null) break;
      if ('restartAt' in answer) {
        // Compaction or retention moved the log start past the cursor: start again there.
        cursor = { ...empty, nextOffset: answer.restartAt };
        continue;
      }
      cursor = apply(cursor, answer);
      if (answer.records.length === 0 && answer.nextOffset >= answer.highWatermark) break;
    }
    cursors.set(topic.name, cursor);
  }

  /** GET …/partitions/0/records from the leader; null when it cannot answer now. */
  async #fetch(
    topic: string,
    leader: number,
    leaderUrl: string | null,
    offset: number,
  ): Promise<FetchAnswer | { restartAt: number } | null> {
    const path =
      `/v1/topics/${encodeURIComponent(topic)}/partitions/0/records` +
      `?offset=${offset}&maxBytes=${checkpointFetchBytesMax}`;
    let status: number;
    let body: unknown;
    try {
      if (leader === this.#deps.nodeId()) {
        const response = await this.#deps.app.inject({ method: 'GET', url: path });
        status = response.statusCode;
        body = response.json();
      } else {
        if (leaderUrl === null) return null;
        const response = await this.#deps.forwarder.request(leaderUrl, {
          method: 'GET',
          path,
          responseBytesMax: checkpointAnswerBytesMax,
          timeoutMs: checkpointAskTimeoutMs,
        });
        status = response.status;
        body = JSON.parse(response.body.toString('utf8'));
      }
    } catch {
      return null; // The leader is down or slow: the next read tries again.
    }
    const error = (body as { error?: { code?: string; logStartOffset?: number } }).error;
    if (status === 416 && isCount(error?.logStartOffset) && error.logStartOffset > offset) {
      return { restartAt: error.logStartOffset };
    }
    return status === 200 ? (body as FetchAnswer) : null;
  }
}

/** One input partition of a task: the checkpointed offset against the partition's HW. */
export interface StreamsInputView {
  readonly topic: string;
  readonly partition: number;
  readonly checkpointed: number;
  readonly highWatermark: number | null;
  readonly lag: number | null;
}

/** One store's changelog partition: how much of it the checkpoint covers. */
export interface StreamsStoreView {
  readonly store: string;
  readonly changelog: string;
  readonly covered: number;
  readonly logStartOffset: number | null;
  readonly highWatermark: number | null;
}

export interface StreamsTaskView {
  readonly task: string;
  readonly partition: number | null;
  /** The group member assigned the task's input partitions (memberId), or null. */
  readonly owner: string | null;
  readonly ownerInstance: string | null;
  readonly seq: number;
  readonly streamTimeMs: number;
  readonly checkpointedMs: number;
  readonly lag: number | null;
  readonly inputs: readonly StreamsInputView[];
  readonly stores: readonly StreamsStoreView[];
}

export interface StreamsAppView {
  readonly applicationId: string;
  readonly checkpointTopic: string;
  /** The group's state, or null when the group does not exist (no instance ran yet). */
  readonly groupState: string | null;
  readonly members: number;
  readonly lag: number | null;
  /** Whether the checkpoint topic has been read up to its HW. */
  readonly caughtUp: boolean;
  readonly tasks: readonly StreamsTaskView[];
  readonly tasksLeftOut: number;
  /** Each instance's latest status (`<app>-status`), by instance name. */
  readonly instances: readonly InstanceStatusView[];
  readonly instancesLeftOut: number;
}

/** The task key's partition: the number after its last '#' (`lines#0` → 0). */
export function taskPartition(task: string): number | null {
  const n = Number(task.slice(task.lastIndexOf('#') + 1));
  return task.includes('#') && Number.isSafeInteger(n) && n >= 0 ? n : null;
}

type OffsetsOf = (
  topic: string,
  partition: number,
) => {
  logStartOffset: number | null;
  highWatermark: number | null;
};

function taskView(
  applicationId: string,
  checkpoint: CheckpointSummary,
  group: GroupDescriptionBody | undefined,
  offsetsOf: OffsetsOf,
): StreamsTaskView {
  const partition = taskPartition(checkpoint.task);
  let lag: number | null = null;
  // The key names the task's source topics; one not processed yet starts at 0 (as the runtime).
  const keyed = checkpoint.task.includes('#')
    ? checkpoint.task.slice(0, checkpoint.task.lastIndexOf('#')).split('+')
    : [];
  const topics = [...new Set([...keyed, ...Object.keys(checkpoint.offsets)])].sort();
  const inputs = topics.map((topic) => {
    const checkpointed = checkpoint.offsets[topic] ?? 0;
    const { highWatermark } =
      partition === null ? { highWatermark: null } : offsetsOf(topic, partition);
    const inputLag = highWatermark === null ? null : Math.max(0, highWatermark - checkpointed);
    if (inputLag !== null) lag = (lag ?? 0) + inputLag;
    return { topic, partition: partition ?? -1, checkpointed, highWatermark, lag: inputLag };
  });
  const stores = Object.entries(checkpoint.changelogs).map(([store, covered]) => {
    const changelog = `${applicationId}-${store}-changelog`;
    const offsets =
      partition === null
        ? { logStartOffset: null, highWatermark: null }
        : offsetsOf(changelog, partition);
    return { store, changelog, covered, ...offsets };
  });
  const owner = group?.members.find((m) =>
    inputs.some((input) =>
      m.assignment.some((a) => a.topic === input.topic && a.partitions.includes(input.partition)),
    ),
  );
  return {
    task: checkpoint.task,
    partition,
    owner: owner?.memberId ?? null,
    ownerInstance: owner?.instanceId ?? null,
    seq: checkpoint.seq,
    streamTimeMs: checkpoint.streamTimeMs,
    checkpointedMs: checkpoint.writtenMs,
    lag,
    inputs,
    stores,
  };
}

/** Every followed application: its tasks' owners, lag per input and changelog coverage. */
export function streamsView(
  cursors: ReadonlyMap<string, CheckpointCursor>,
  topics: readonly TopicDescriptionBody[],
  groups: readonly GroupDescriptionBody[],
  statuses: ReadonlyMap<string, StatusCursor> = new Map(),
): StreamsAppView[] {
  const byName = new Map(topics.map((t) => [t.name, t]));
  const offsetsOf: OffsetsOf = (topic, partition) => {
    const p = byName.get(topic)?.partitions.find((q) => q.partition === partition);
    return { logStartOffset: p?.logStartOffset ?? null, highWatermark: p?.highWatermark ?? null };
  };
  return [...cursors]
    .map(([checkpointTopic, cursor]): StreamsAppView => {
      const applicationId = checkpointTopic.slice(0, -checkpointSuffix.length);
      const group = groups.find((g) => g.group === applicationId);
      const tasks = [...cursor.tasks.values()]
        .map((c) => taskView(applicationId, c, group, offsetsOf))
        .sort((a, b) => (a.task < b.task ? -1 : a.task > b.task ? 1 : 0));
      let lag: number | null = null;
      for (const task of tasks) if (task.lag !== null) lag = (lag ?? 0) + task.lag;
      const status = statuses.get(applicationId + statusSuffix) ?? emptyStatusCursor;
      const instances = [...status.instances.values()].sort((a, b) =>
        a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0,
      );
      return {
        applicationId,
        checkpointTopic,
        groupState: group?.state ?? null,
        members: group?.members.length ?? 0,
        lag,
        caughtUp: cursor.highWatermark !== null && cursor.nextOffset >= cursor.highWatermark,
        tasks,
        tasksLeftOut: cursor.tasksLeftOut,
        instances,
        instancesLeftOut: status.instancesLeftOut,
      };
    })
    .sort((a, b) => (a.applicationId < b.applicationId ? -1 : 1));
}
