// The runtime against a cluster (issue 11 items 5 and 6). Instances of an application join one
// consumer group (the application id) subscribed to the topology's source topics; a task runs
// where all of its input partitions are assigned. A task restores from its checkpoint and
// changelogs before it reads, commits every commitIntervalMs (changelog, outputs acknowledged,
// then its checkpoint record), and commits and closes when its partitions are revoked, so the
// next owner resumes exactly there. Offsets live in checkpoints, not in the group's commits.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  ClientError,
  partitionForKey,
  type Admin,
  type Consumer,
  type ConsumerRecord,
  type GroupConsumer,
  type Producer,
  type RecordHeader,
  type RecordMetadata,
  type RillClient,
  type TopicPartition,
} from '../api/client/index.ts';
import {
  originBytes,
  originHeader,
  positionsHeader,
  taskHeader,
  taskKey,
  type TaskCheckpoint,
} from './checkpoint.ts';
import { resolvePartitionCounts } from './partitioning.ts';
import { StatusThrottle, StatusWriter, statusIntervalMsDefault, statusTopicOf } from './status.ts';
import {
  LevelLocalDb,
  metaOf,
  openTaskStores,
  persistOps,
  type LocalKeyValueStore,
  type OpenedTaskStores,
} from './local-state.ts';
import { StreamTask, type OutputRecord, type TaskMetrics } from './stream-task.ts';
import {
  CheckpointIndex,
  OutputEnds,
  commitTask,
  restoreTask,
  type RestoreProgress,
  type TaskIoDeps,
} from './task-io.ts';
import type { Subtopology, Topology } from './topology.ts';
import type { InputPending } from './next-record.ts';

/** Subtopologies followed upstream at most when asking whether an input has more to come. */
const pendingDepthMax = 8;

export interface RuntimeConfig {
  /** Replication factor of the topics the runtime creates. */
  readonly replicationFactor: number;
  /** Partitions of a missing output topic; default: the largest input partition count. */
  readonly outputPartitions?: number;
  /** Records a task buffers at most per input; a full input is paused until it has room. */
  readonly taskBufferedMax: number;
  /**
   * How long a task waits, with records buffered, for an empty input whose end is not known
   * (a repartition topic written by tasks of another instance) before it processes anyway
   * (Kafka's max.task.idle.ms). An input known to hold earlier records is always waited for.
   */
  readonly taskIdleMsMax: number;
  /** How often every task commits (changelog, outputs, checkpoint). */
  readonly commitIntervalMs: number;
  /**
   * Outputs sent and not yet acknowledged, at most: processing goes on while they are in
   * flight and pauses at this bound until half of them are acknowledged.
   */
  readonly unackedOutputsMax: number;
  /** How often `metrics` lines are logged (0: never). */
  readonly metricsIntervalMs: number;
  /**
   * This instance's stable name (group.instance.id, and the producer's name, which fences an
   * older producer of the same name): a restart with the same name takes its tasks back at
   * once instead of after the group's session timeout.
   */
  readonly instanceId?: string;
  /**
   * This instance's local state directory: stores live in level there (a bounded cache in
   * memory, `storeCacheEntriesMax`) and a restart restores from them plus the changelogs from
   * what they covered. One instance per directory. Without it stores are in memory and every
   * start restores from the changelogs' start.
   */
  readonly stateDir?: string;
  /**
   * Restore progress goes to the `<app>-status` topic at most this often (state changes at
   * once); restore progress lines are logged at the same rate.
   */
  readonly statusIntervalMs: number;
  /**
   * Changelog records a restore holds in memory at most: it applies (and, with a stateDir,
   * writes to level) each chunk of this many before reading on. The reader's polls are bounded
   * by the same number, so no restore holds a whole changelog range.
   */
  readonly restoreChunkRecordsMax: number;
  /** Progress and metrics lines; default: nothing. */
  readonly log: (line: string) => void;
}

export const defaultRuntimeConfig: RuntimeConfig = {
  replicationFactor: 1,
  taskBufferedMax: 10_000,
  taskIdleMsMax: 100,
  commitIntervalMs: 200,
  unackedOutputsMax: 20_000,
  restoreChunkRecordsMax: 1_000,
  metricsIntervalMs: 0,
  statusIntervalMs: statusIntervalMsDefault,
  log: () => {},
};

interface RunningTask {
  readonly task: StreamTask;
  checkpoint: TaskCheckpoint | null;
  /** Input topic/partition → the partition's high watermark at its last fetch. */
  readonly highWatermarks: Map<string, number>;
  /** Sends one of the task's outputs (made once per task). */
  readonly send: (out: OutputRecord) => void;
}

export class StreamsRuntime {
  readonly #topology: Topology;
  readonly #client: RillClient;
  readonly #config: RuntimeConfig;
  readonly #counts: Map<string, number>;
  readonly #admin: Admin;
  readonly #group: GroupConsumer;
  readonly #reader: Consumer;
  readonly #producer: Producer;
  readonly #checkpoints: CheckpointIndex;
  readonly #ends = new OutputEnds();
  /** Task key → the running task; `topic/partition` → the task reading it. */
  readonly #tasks = new Map<string, RunningTask>();
  readonly #byInput = new Map<string, RunningTask>();
  readonly #owned = new Set<string>();
  /** Serializes processing, commits and task changes (rebalance listeners run concurrently). */
  #chain: Promise<unknown> = Promise.resolve();
  #failure: unknown = null;
  #running: Promise<void> | null = null;
  #timers: ReturnType<typeof setInterval>[] = [];
  #lastMetrics = { atMs: Date.now(), processed: 0 };
  /** Topic → outputs sent to it and not yet acknowledged (a topic at 0 has no entry). */
  readonly #inFlight = new Map<string, number>();
  /** Task key → its task header (the same bytes on every output of the task). */
  readonly #taskHeaders = new Map<string, RecordHeader>();
  /** Input topic → the bytes of `<topic>@`, the start of its outputs' origin headers. */
  readonly #originPrefixes = new Map<string, Uint8Array>();
  /** Outputs sent and not yet acknowledged (or failed), over every topic. */
  #unacked = 0;
  /** Woken when at most `atMost` outputs are unacknowledged. */
  #ackWaiters: { readonly atMost: number; readonly wake: () => void }[] = [];
  /**
   * Input partition → the rest of a fetched batch its task had no room for, kept in order
   * while the partition is paused (so at most one batch per input: pollRecordsMax records).
   */
  readonly #overflow = new Map<string, Overflow>();
  /** The local database (config.stateDir), and task key → its local stores. */
  #local: LevelLocalDb | null = null;
  readonly #localStores = new Map<string, LocalKeyValueStore[]>();
  /** This instance's status in `<app>-status`, sent by its own producer (never fails a task). */
  readonly #status: StatusWriter;
  readonly #statusProducer: Producer;
  readonly #restoreLines: StatusThrottle;

  private constructor(topology: Topology, client: RillClient, config: RuntimeConfig) {
    this.#topology = topology;
    this.#client = client;
    this.#config = config;
    this.#counts = new Map();
    this.#admin = client.admin();
    this.#group = client.consumer({
      groupId: topology.applicationId,
      autoCommit: false,
      autoOffsetReset: 'earliest',
      pollWaitMs: 100,
      groupInstanceId: config.instanceId ?? null,
    });
    this.#reader = client.consumer({
      autoOffsetReset: 'earliest',
      pollRecordsMax: config.restoreChunkRecordsMax,
    });
    this.#producer = client.producer({
      acks: 'all',
      lingerMs: 5,
      ...(config.instanceId === undefined
        ? {}
        : { producerName: `${topology.applicationId}-${config.instanceId}` }),
    });
    this.#checkpoints = new CheckpointIndex(topology.applicationId);
    this.#statusProducer = client.producer({ acks: 'all', lingerMs: 0 });
    const statusTopic = statusTopicOf(topology.applicationId);
    this.#status = new StatusWriter({
      instance: config.instanceId ?? `anonymous-${randomUUID().slice(0, 8)}`,
      intervalMs: config.statusIntervalMs,
      nowMs: () => Date.now(),
      send: (key, value) => this.#statusProducer.send({ topic: statusTopic, key, value }),
      onError: (error) => config.log(`status write failed: ${String(error)}`),
      schedule: (delayMs, run) => {
        const timer = setTimeout(run, delayMs);
        timer.unref();
        return () => clearTimeout(timer);
      },
    });
    this.#restoreLines = new StatusThrottle(config.statusIntervalMs);
  }

  /** Codes: STREAMS_UNKNOWN_TOPIC, STREAMS_NOT_COPARTITIONED, and the admin's codes. */
  static async start(
    topology: Topology,
    client: RillClient,
    config: Partial<RuntimeConfig> = {},
  ): Promise<StreamsRuntime> {
    const runtime = new StreamsRuntime(topology, client, { ...defaultRuntimeConfig, ...config });
    if (config.stateDir !== undefined) {
      runtime.#local = await LevelLocalDb.open(join(config.stateDir, topology.applicationId));
    }
    await runtime.#createTopics();
    runtime.#status.setState('starting');
    await runtime.#checkpoints.refresh(runtime.#io());
    const sources = topology.subtopologies.flatMap((sub) => sub.sourceTopics);
    runtime.#group.subscribe([...new Set(sources)], {
      onAssigned: (tps) => runtime.#serial(() => runtime.#onAssigned(tps)),
      onRevoked: (tps, info) => runtime.#serial(() => runtime.#onRevoked(tps, info.lost)),
    });
    runtime.#running = runtime.#group.run({
      eachBatch: (batch) =>
        runtime.#serial(() => runtime.#onBatch(batch.records, batch.highWatermark)),
    });
    runtime.#running.catch((error: unknown) => {
      runtime.#failure ??= error;
    });
    const commits = setInterval(() => {
      void runtime.#serial(() => runtime.#commitAll()).catch(() => {});
    }, runtime.#config.commitIntervalMs);
    runtime.#timers.push(commits);
    // Records held back for a lagging input are processed once it catches up.
    const ticks = setInterval(() => {
      void runtime.#serial(() => runtime.#processReady()).catch(() => {});
    }, 20);
    runtime.#timers.push(ticks);
    if (runtime.#config.metricsIntervalMs > 0) {
      runtime.#timers.push(setInterval(() => runtime.#logMetrics(), config.metricsIntervalMs));
    }
    return runtime;
  }

  /** Runs until `stopping()` holds (or a task fails: thrown), then shuts down gracefully. */
  async run(stopping: () => boolean): Promise<void> {
    while (!stopping() && this.#failure === null) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (this.#failure !== null) {
      await this.close().catch(() => {});
      throw this.#failure;
    }
  }

  /** The tasks running in this instance, by task key. */
  metrics(): Record<string, Readonly<TaskMetrics> & { lag: number }> {
    const out: Record<string, TaskMetrics & { lag: number }> = {};
    for (const [key, running] of this.#tasks) {
      out[key] = { ...running.task.metrics, lag: this.#lagOf(running) };
    }
    return out;
  }

  taskKeys(): string[] {
    return [...this.#tasks.keys()].sort();
  }

  /** Whether every task of the topology runs in this instance (one instance owns all). */
  allTasksRunning(): boolean {
    return this.#topology.subtopologies.every((sub) => {
      for (let partition = 0; partition < this.#taskCount(sub); partition += 1) {
        if (!this.#tasks.has(taskKey(sub.sourceTopics, partition))) return false;
      }
      return true;
    });
  }

  /**
   * Whether every task running here has processed its input partitions to their current ends,
   * with everything it produced acknowledged (benchmarks and tests wait for this). One serial
   * step: no record is processed between the flush and the last position compared, so a
   * record processed meanwhile cannot count as done while its outputs are still unsent.
   */
  async caughtUp(): Promise<boolean> {
    return this.#serial(async () => {
      await this.#ackedDownTo(0);
      for (const running of this.#tasks.values()) {
        const offsets = running.task.position().offsets;
        for (const tp of this.#inputsOf(running.task.subtopology, running.task.partition)) {
          const { highWatermark } = await this.#admin.offsets(tp.topic, tp.partition);
          if ((offsets[tp.topic] ?? 0) < highWatermark) return false;
        }
      }
      return true;
    });
  }

  /** Graceful shutdown: commit every task, leave the group, close the client. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers = [];
    await this.#serial(async () => {
      if (this.#failure === null) await this.#commitAll();
      for (const key of this.#tasks.keys()) this.#status.closed(key);
      this.#tasks.clear();
      this.#byInput.clear();
    }).catch(() => {});
    this.#status.setState('stopped');
    await this.#status.flush();
    await this.#statusProducer.close().catch(() => {});
    await this.#group.close();
    await this.#running?.catch(() => {});
    await this.#client.close();
    await this.#local?.close();
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(async () => {
      if (this.#failure !== null) throw this.#failure;
      try {
        return await work();
      } catch (error) {
        this.#failure ??= error;
        throw error;
      }
    });
    this.#chain = next.catch(() => {});
    return next;
  }

  #io(): TaskIoDeps {
    return {
      topology: this.#topology,
      admin: this.#admin,
      reader: this.#reader,
      producer: this.#producer,
      partitionCount: (topic) => this.#counts.get(topic) ?? 1,
      onRestoreProgress: (p: RestoreProgress) => {
        const restored = p.read - p.start;
        this.#status.progress(p.task, { store: p.store, restored, total: p.total - p.start });
        const done = p.read >= p.total;
        if (p.total > p.start && this.#restoreLines.due(Date.now(), done)) {
          this.#config.log(`restore task=${p.task} store=${p.store} read=${p.read} of=${p.total}`);
        }
      },
    };
  }

  async #onAssigned(tps: readonly TopicPartition[]): Promise<void> {
    for (const tp of tps) this.#owned.add(`${tp.topic}/${tp.partition}`);
    // Assigned: running (reported as restoring while one of its tasks restores).
    this.#status.setState('running');
    await this.#checkpoints.refresh(this.#io());
    for (const sub of this.#topology.subtopologies) {
      for (let partition = 0; partition < this.#taskCount(sub); partition += 1) {
        const inputs = this.#inputsOf(sub, partition);
        const key = taskKey(sub.sourceTopics, partition);
        if (this.#tasks.has(key) || !inputs.every((tp) => this.#owned.has(tpKey(tp)))) continue;
        await this.#startTask(sub, partition, inputs);
      }
    }
  }

  async #startTask(sub: Subtopology, partition: number, inputs: TopicPartition[]): Promise<void> {
    const startedMs = Date.now();
    const checkpoint = this.#checkpoints.get(taskKey(sub.sourceTopics, partition));
    const local = await this.#openLocal(sub, partition, checkpoint);
    const task = new StreamTask(
      this.#topology,
      sub,
      partition,
      this.#config.taskBufferedMax,
      ...(local === null ? [] : [local.create]),
    );
    for (const topic of new Set(sub.sinkTopics)) {
      await this.#ends.load(this.#admin, topic, this.#counts.get(topic) ?? 1);
    }
    const stats = await restoreTask(this.#io(), task, checkpoint, {
      chunkRecordsMax: this.#config.restoreChunkRecordsMax,
      ...(local === null
        ? {}
        : {
            from: local.plan.from,
            // Chunks go to level as they are applied, with the coverage they reach: local data
            // stays a prefix of the changelog, so a restore interrupted here resumes warm.
            onChunk: (coverage) => this.#persistChunk(task, coverage),
          }),
    });
    task.metrics.restoreBufferedPeak = stats.bufferedPeak;
    this.#status.running(task.key);
    await this.#persistLocal(task, checkpoint);
    const send = (out: OutputRecord): void => this.#send(out, task.partition);
    const running: RunningTask = { task, checkpoint, highWatermarks: new Map(), send };
    for (const tp of inputs) {
      const { highWatermark } = await this.#admin.offsets(tp.topic, tp.partition);
      running.highWatermarks.set(tp.topic, highWatermark);
    }
    this.#tasks.set(task.key, running);
    for (const tp of inputs) {
      this.#byInput.set(tpKey(tp), running);
      this.#group.seek(tp, checkpoint?.offsets[tp.topic] ?? 0);
    }
    // A first checkpoint bounds what a restart scans for outputs already written.
    if (checkpoint === null) await this.#commit(running, true);
    this.#config.log(
      `task ${task.key} started: restored=${task.metrics.restored} ` +
        `local=${local?.plan.reason ?? 'off'} ` +
        `from_checkpoint=${checkpoint?.seq ?? 'none'} in_ms=${Date.now() - startedMs}`,
    );
  }

  /** A task's local stores (null: no stateDir, or a task without stores). */
  async #openLocal(
    sub: Subtopology,
    partition: number,
    checkpoint: TaskCheckpoint | null,
  ): Promise<OpenedTaskStores | null> {
    if (this.#local === null || sub.stores.length === 0) return null;
    const key = taskKey(sub.sourceTopics, partition);
    const opened = await openTaskStores(this.#local, key, sub.stores, checkpoint, async (s) => {
      const topic = this.#topology.stores.get(s)?.changelogTopic ?? s;
      return (await this.#admin.offsets(topic, partition)).logStartOffset;
    });
    this.#localStores.set(key, opened.stores);
    return opened;
  }

  /** Writes a task's staged local changes and `checkpoint`'s coverage in one level batch. */
  async #persistLocal(task: StreamTask, checkpoint: TaskCheckpoint | null): Promise<void> {
    const stores = this.#localStores.get(task.key);
    if (this.#local === null || stores === undefined) return;
    await this.#local.write(
      persistOps(task.key, stores, metaOf(task.subtopology.stores, checkpoint)),
    );
    for (const store of stores) store.persisted();
  }

  /** A restore's applied chunk, persisted with a meta naming the coverage reached so far. */
  async #persistChunk(task: StreamTask, coverage: Readonly<Record<string, number>>): Promise<void> {
    const stores = this.#localStores.get(task.key);
    if (this.#local === null || stores === undefined) return;
    const changelogs: Record<string, number> = {};
    for (const store of task.subtopology.stores) changelogs[store] = coverage[store] ?? 0;
    // seq 0: not a checkpoint's data (planRestore: at most any checkpoint, so warm from here).
    await this.#local.write(persistOps(task.key, stores, { seq: 0, changelogs }));
    for (const store of stores) store.persisted();
  }

  /** `lost`: another member may own them already, so nothing is committed (a zombie's work). */
  async #onRevoked(tps: readonly TopicPartition[], lost: boolean): Promise<void> {
    for (const tp of tps) {
      this.#owned.delete(tpKey(tp));
      const running = this.#byInput.get(tpKey(tp));
      if (running === undefined || !this.#tasks.has(running.task.key)) continue;
      if (!lost) await this.#commit(running);
      this.#tasks.delete(running.task.key);
      this.#status.closed(running.task.key);
      this.#localStores.delete(running.task.key);
      for (const [input, owner] of this.#byInput) {
        if (owner !== running) continue;
        this.#byInput.delete(input);
        const held = this.#overflow.get(input);
        // A partition assigned here again must not come back paused.
        if (held !== undefined) this.#group.resume([held.tp]);
        this.#overflow.delete(input);
      }
      this.#config.log(`task ${running.task.key} closed: committed and handed over`);
    }
  }

  async #onBatch(records: readonly ConsumerRecord[], highWatermark: number): Promise<void> {
    const first = records[0];
    if (first === undefined) return;
    const running = this.#byInput.get(tpKey(first));
    if (running === undefined) return; // Its task is not complete here (yet).
    const known = running.highWatermarks.get(first.topic) ?? -1;
    running.highWatermarks.set(first.topic, Math.max(known, highWatermark));
    const { task } = running;
    const key = tpKey(first);
    const held = this.#overflow.get(key);
    if (held !== undefined) {
      // A batch handed out before the pause took effect goes behind the kept records.
      held.records = [...held.records.slice(held.next), ...records];
      held.next = 0;
    } else {
      for (let i = 0; i < records.length; i += 1) {
        if (task.add(records[i] as ConsumerRecord)) continue;
        // Its buffer for this input is full: never process past the ordering rule to make
        // room; keep the rest, and fetch no more of this partition until the task took it.
        const tp = { topic: first.topic, partition: first.partition };
        this.#group.pause([tp]);
        this.#overflow.set(key, { tp, records, next: i });
        break;
      }
    }
    await this.#processReady();
  }

  /**
   * Processes, in every task, what next-record.ts allows; resumes inputs that have room.
   * Outputs are sent without waiting for their acknowledgements (a commit waits for them),
   * up to unackedOutputsMax in flight.
   */
  async #processReady(): Promise<void> {
    const { taskIdleMsMax, unackedOutputsMax } = this.#config;
    for (let progress = true; progress;) {
      progress = false;
      for (const running of this.#tasks.values()) {
        const pending = (topic: string): InputPending => this.#pendingOf(running, topic, 0);
        while (running.task.step(pending, Date.now(), taskIdleMsMax)) {
          running.task.drainOutput(running.send);
          progress = true;
          if (this.#unacked >= unackedOutputsMax) {
            await this.#ackedDownTo(Math.floor(unackedOutputsMax / 2));
          }
        }
        if (running.task.needsCommit()) {
          await this.#commit(running);
          progress = true; // A reorder commit held the next record back: it may go now.
        }
      }
      if (this.#refill()) progress = true;
    }
  }

  /**
   * Moves kept records into their tasks as room allows, resuming a partition once all of its
   * kept records are in; true when any record moved.
   */
  #refill(): boolean {
    let moved = false;
    for (const [key, held] of this.#overflow) {
      const running = this.#byInput.get(key);
      if (running === undefined) continue; // Revoked: #onRevoked resumes and forgets it.
      const { records } = held;
      while (held.next < records.length && running.task.add(records[held.next] as ConsumerRecord)) {
        held.next += 1;
        moved = true;
      }
      if (held.next < records.length) continue;
      this.#overflow.delete(key);
      this.#group.resume([held.tp]);
    }
    return moved;
  }

  /**
   * What may still come on input `topic` of a task before its buffered records (see
   * next-record.ts). `known`: the task has not read to the input's end as last known (its
   * last fetch's high watermark, or the last offset acknowledged to this process), or, for a
   * repartition topic, a task here that writes it has records buffered, may still read some,
   * or outputs of this process to it are unacknowledged. `unknown`: the end was never learnt,
   * or a task writing the repartition topic does not run here (its progress is not known:
   * Kafka's rule, the partition's end, plus the idle wait).
   */
  #pendingOf(running: RunningTask, topic: string, depth: number): InputPending {
    const { task } = running;
    const end = Math.max(
      running.highWatermarks.get(topic) ?? -1,
      this.#ends.end(topic, task.partition),
    );
    if (end < 0) return 'unknown';
    if (task.nextAddOffset(topic) < end) return 'known';
    if (!this.#topology.repartitionTopics.has(topic) || depth > pendingDepthMax) return 'none';
    if (this.#inFlight.has(topic)) return 'known';
    let pending: InputPending = 'none';
    for (const sub of this.#topology.subtopologies) {
      if (!sub.sinkTopics.includes(topic)) continue;
      for (let partition = 0; partition < this.#taskCount(sub); partition += 1) {
        const upstream = this.#tasks.get(taskKey(sub.sourceTopics, partition));
        if (upstream === running) continue;
        if (upstream === undefined) {
          pending = 'unknown';
          continue;
        }
        if (upstream.task.hasPending()) return 'known';
        for (const input of this.#inputsOf(sub, partition)) {
          const above = this.#pendingOf(upstream, input.topic, depth + 1);
          if (above === 'known') return 'known';
          if (above === 'unknown') pending = 'unknown';
        }
      }
    }
    return pending;
  }

  async #commitAll(): Promise<void> {
    for (const running of this.#tasks.values()) await this.#commit(running);
  }

  async #commit(running: RunningTask, force = false): Promise<void> {
    const { task } = running;
    if (!force && running.checkpoint !== null && !task.hasPending()) {
      const now = task.position();
      const last = running.checkpoint;
      const same = Object.entries(now.offsets).every(([t, o]) => last.offsets[t] === o);
      if (same && now.streamTimeMs === last.streamTimeMs && !task.needsFlush()) {
        task.committed(); // Nothing processed since the checkpoint: an empty interval.
        return;
      }
    }
    // Every output of the records this checkpoint covers is acknowledged, its end noted.
    await this.#ackedDownTo(0);
    running.checkpoint = await commitTask(
      this.#io(),
      task,
      running.checkpoint,
      this.#ends,
      this.#checkpoints.topic,
    );
    this.#checkpoints.set(running.checkpoint);
    // After the checkpoint is durable: local data never runs ahead of a checkpoint.
    await this.#persistLocal(task, running.checkpoint);
  }

  /** Sends one output; its acknowledgement notes the partition's end, a failure fails all. */
  #send(record: OutputRecord, fromPartition: number): void {
    const { topic } = record;
    const count = this.#counts.get(topic) ?? 1;
    const partition =
      record.key === null ? fromPartition % count : partitionForKey(record.key, count);
    this.#inFlight.set(topic, (this.#inFlight.get(topic) ?? 0) + 1);
    this.#unacked += 1;
    const message = {
      topic,
      key: record.key,
      value: record.value,
      timestampMs: record.timestampMs,
      partition,
      headers: this.#headersOf(record),
    };
    // One pair of functions for every output: no promise or closure per record.
    this.#producer.sendWith(message, this.#onAck, this.#onSendError);
  }

  /** An output acknowledged: the end moves before it stops counting as in flight. */
  readonly #onAck = (meta: RecordMetadata): void => {
    this.#ends.note(meta.topic, meta.partition, meta.offset);
    this.#acked(meta.topic);
  };

  /**
   * An output failed: the runtime fails (no checkpoint covers its input). Its topic stays
   * counted as in flight; only the total goes down, to wake whoever waits for acknowledgements.
   */
  readonly #onSendError = (error: unknown): void => {
    this.#failure ??= error;
    this.#acked(null);
  };

  /** The task and origin headers (see checkpoint.ts), after any headers of its own. */
  #headersOf(record: OutputRecord): RecordHeader[] {
    const task = record.task ?? '';
    let taskEntry = this.#taskHeaders.get(task);
    if (taskEntry === undefined) {
      taskEntry = { key: taskHeader, value: Buffer.from(task, 'utf8') };
      this.#taskHeaders.set(task, taskEntry);
    }
    const originTopic = record.originTopic ?? '';
    let prefix = this.#originPrefixes.get(originTopic);
    if (prefix === undefined) {
      prefix = Buffer.from(`${originTopic}@`, 'utf8');
      this.#originPrefixes.set(originTopic, prefix);
    }
    const value = originBytes(prefix, record.originOffset ?? 0, record.originIndex ?? 0);
    const origin = { key: originHeader, value };
    if (record.positions !== undefined) {
      const positions = { key: positionsHeader, value: Buffer.from(record.positions, 'latin1') };
      if (record.headers === undefined) return [taskEntry, origin, positions];
    }
    if (record.headers === undefined) return [taskEntry, origin];
    const own = Object.entries(record.headers).map(([key, value]) => ({
      key,
      value: Buffer.from(value, 'utf8'),
    }));
    if (record.positions === undefined) return [...own, taskEntry, origin];
    const positions = { key: positionsHeader, value: Buffer.from(record.positions, 'latin1') };
    return [...own, taskEntry, origin, positions];
  }

  #acked(topic: string | null): void {
    if (topic !== null) {
      const left = (this.#inFlight.get(topic) ?? 0) - 1;
      if (left > 0) this.#inFlight.set(topic, left);
      else this.#inFlight.delete(topic);
    }
    this.#unacked -= 1;
    if (this.#ackWaiters.length === 0) return;
    const waiters = this.#ackWaiters;
    this.#ackWaiters = [];
    for (const waiter of waiters) {
      if (this.#unacked <= waiter.atMost) waiter.wake();
      else this.#ackWaiters.push(waiter);
    }
  }

  /**
   * Waits until at most `atMost` outputs are unacknowledged (0: sends them at once); throws
   * the first failed send's error.
   */
  async #ackedDownTo(atMost: number): Promise<void> {
    if (atMost === 0 && this.#unacked > 0) await this.#producer.flush();
    while (this.#unacked > atMost) {
      await new Promise<void>((wake) => this.#ackWaiters.push({ atMost, wake }));
    }
    if (this.#failure !== null) throw this.#failure;
  }

  #taskCount(sub: Subtopology): number {
    return Math.max(...sub.sourceTopics.map((t) => this.#counts.get(t) ?? 1));
  }

  #inputsOf(sub: Subtopology, partition: number): TopicPartition[] {
    return sub.sourceTopics
      .filter((topic) => partition < (this.#counts.get(topic) ?? 0))
      .map((topic) => ({ topic, partition }));
  }

  #lagOf(running: RunningTask): number {
    let lag = 0;
    const offsets = running.task.position().offsets;
    for (const [topic, hw] of running.highWatermarks)
      lag += Math.max(0, hw - (offsets[topic] ?? 0));
    return lag;
  }

  #logMetrics(): void {
    const nowMs = Date.now();
    const seconds = Math.max(0.001, (nowMs - this.#lastMetrics.atMs) / 1000);
    let processed = 0;
    for (const [key, running] of this.#tasks) {
      const m = running.task.metrics;
      processed += m.processed;
      this.#config.log(
        `metrics task=${key} processed=${m.processed} lag=${this.#lagOf(running)} ` +
          `late_dropped=${m.lateDropped} suppressed=${m.suppressed} ` +
          `reorder_commits=${m.reorderCommits} stream_time=${m.streamTimeMs}`,
      );
    }
    const rate = Math.max(0, processed - this.#lastMetrics.processed) / seconds;
    this.#config.log(`metrics tasks=${this.#tasks.size} records_per_s=${rate.toFixed(0)}`);
    this.#lastMetrics = { atMs: nowMs, processed };
  }

  async #createTopics(): Promise<void> {
    const topology = this.#topology;
    const known = new Map<string, number>();
    for (const topic of topology.externalSourceTopics()) {
      const count = await describedCount(this.#admin, topic);
      if (count !== undefined) known.set(topic, count);
    }
    const counts = resolvePartitionCounts(topology, (topic) => known.get(topic));
    const inputMax = Math.max(1, ...known.values());
    const wanted = new Map<string, number>(
      [...topology.repartitionTopics].map((t) => [t, counts.get(t) ?? 1]),
    );
    // Changelogs and checkpoints keep the latest value per key: compacted.
    const statusTopic = statusTopicOf(topology.applicationId);
    const compacted = new Set<string>([this.#checkpoints.topic, statusTopic]);
    wanted.set(this.#checkpoints.topic, 1);
    wanted.set(statusTopic, 1);
    for (const sub of topology.subtopologies) {
      const taskCount = Math.max(...sub.sourceTopics.map((t) => counts.get(t) ?? 1));
      for (const store of sub.stores) {
        const changelog = topology.stores.get(store)?.changelogTopic ?? store;
        wanted.set(changelog, taskCount);
        compacted.add(changelog);
      }
      for (const topic of sub.sinkTopics) {
        if (!wanted.has(topic)) wanted.set(topic, this.#config.outputPartitions ?? inputMax);
      }
    }
    for (const [name, partitions] of wanted) {
      const existing = await describedCount(this.#admin, name);
      if (existing === undefined) {
        const configs: Record<string, string> = compacted.has(name)
          ? { 'cleanup.policy': 'compact' }
          : {};
        const { replicationFactor } = this.#config;
        await createIfMissing(this.#admin, { name, partitions, replicationFactor, configs });
        counts.set(name, (await describedCount(this.#admin, name)) ?? partitions);
      } else counts.set(name, existing);
    }
    for (const [topic, count] of counts) this.#counts.set(topic, count);
  }
}

interface Overflow {
  readonly tp: TopicPartition;
  records: readonly ConsumerRecord[];
  /** The first record not yet given to the task. */
  next: number;
}

function tpKey(tp: TopicPartition): string {
  return `${tp.topic}/${tp.partition}`;
}

async function createIfMissing(
  admin: Admin,
  topic: Parameters<Admin['createTopic']>[0],
): Promise<void> {
  try {
    await admin.createTopic(topic);
  } catch (error) {
    // Another instance created it meanwhile.
    if (error instanceof ClientError && error.code === 'TOPIC_ALREADY_EXISTS') return;
    throw error;
  }
}

async function describedCount(admin: Admin, topic: string): Promise<number | undefined> {
  try {
    return (await admin.describeTopic(topic)).partitions.length;
  } catch (error) {
    if (error instanceof ClientError && error.code === 'UNKNOWN_TOPIC_OR_PARTITION') {
      return undefined;
    }
    throw error;
  }
}
