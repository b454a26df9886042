// The replicas this node hosts, kept in line with the metadata image: reconcile opens the
// partitions the image assigns here, closes and deletes those it no longer does (or that
// belong to an older incarnation of a topic), reopens a log whose config changed, and hands
// each replica its role. Reconciles run one at a time; requests during one coalesce into one
// more. A request may name the topic or partition one command touched (a topic created or
// deleted, an ISR or leader change): then only those are looked at, so a metadata record costs
// O(what it names), not O(partitions hosted). Invariant: after whenReconciled(), every applied
// image change has reached the replicas.
import type { PartitionLogConfig } from '../log/index.ts';
import type { Clock, WallClock } from '../common/index.ts';
import type { BrokerLogger } from './broker-logger.ts';
import type { MetadataImage, PartitionImage, TopicImage } from './metadata-image.ts';
import { Partition, type ReplicationSettings } from './partition.ts';
import { actionableRecord } from './partition-record.ts';
import { partitionDirectoryName, type PartitionStore } from './partition-store.ts';
import { partitionLogConfig } from './topic-config.ts';

export interface LocalReplicasDeps {
  readonly nodeId: number;
  readonly image: MetadataImage;
  readonly store: PartitionStore;
  readonly logger: BrokerLogger;
  readonly clock: Clock;
  readonly replication: ReplicationSettings;
  /** Producer-state expiry counts in wall time (it survives restarts); else `clock`. */
  readonly wallClock?: WallClock;
  /**
   * After a replica's role, HW or existence may have changed: `lostLeadership` is true when
   * requests parked on it must resume (and fail), false when they should only be re-checked.
   */
  readonly onReplicaChanged: (key: string, lostLeadership: boolean) => void;
}

export class LocalReplicas {
  readonly #deps: LocalReplicasDeps;
  /** By `<topic>-<partition>`. */
  readonly #replicas = new Map<string, Partition>();
  /** The log config each open log was opened with (JSON), to detect changes. */
  readonly #logConfigs = new Map<string, string>();
  #enabled = false;
  /** A whole reconcile is due. */
  #wantedAll = false;
  /**
   * Scoped reconciles due, by topic: the partitions named, or null for the whole topic. Keyed
   * by applied metadata (topics are bounded by the image's topic limit), emptied by each pass.
   */
  readonly #wantedTopics = new Map<string, Set<number> | null>();
  #running: Promise<void> | null = null;

  constructor(deps: LocalReplicasDeps) {
    this.#deps = deps;
  }

  get size(): number {
    return this.#replicas.size;
  }
  get(key: string): Partition | undefined {
    return this.#replicas.get(key);
  }
  /** A snapshot of the open replicas (safe to iterate across awaits). */
  all(): Partition[] {
    return [...this.#replicas.values()];
  }

  /** Reconciles from now on, and once at once. */
  enable(): void {
    this.#enabled = true;
    this.requestReconcile();
  }

  /** Reconciles everything, or only `scope` (a topic, or one of its partitions). */
  requestReconcile(scope?: { readonly topic: string; readonly partition?: number }): void {
    if (!this.#enabled) return;
    if (scope === undefined) this.#wantedAll = true;
    else if (!this.#wantedAll) {
      const partitions = this.#wantedTopics.get(scope.topic);
      if (scope.partition === undefined) this.#wantedTopics.set(scope.topic, null);
      else if (partitions === undefined)
        this.#wantedTopics.set(scope.topic, new Set([scope.partition]));
      else partitions?.add(scope.partition); // null: the whole topic is due already
    }
    this.#running ??= this.#loop();
  }

  async whenReconciled(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  /** Stops reconciling, waits for the current pass, and closes every log. */
  async closeAll(): Promise<void> {
    this.#enabled = false;
    await this.whenReconciled();
    for (const replica of this.all()) await this.#close(replica);
  }

  /** Deletes replica directories on disk that the image does not assign to this node. */
  async removeOrphans(): Promise<void> {
    for (const ref of await this.#deps.store.list()) {
      const image = this.#deps.image.partition(ref.topic, ref.partition);
      if (image?.replicas.includes(this.#deps.nodeId) === true) continue;
      await this.#removeFiles(ref.topic, ref.partition);
    }
  }

  async #loop(): Promise<void> {
    try {
      while (this.#wantedAll || this.#wantedTopics.size > 0) {
        if (this.#wantedAll) {
          this.#wantedAll = false;
          this.#wantedTopics.clear();
          await this.#reconcileOnce();
          continue;
        }
        const scopes = [...this.#wantedTopics];
        this.#wantedTopics.clear();
        for (const [topic, partitions] of scopes) await this.#reconcileTopic(topic, partitions);
      }
    } catch (error) {
      // Closing or deleting a replica failed (a disk error): the node keeps serving its other
      // partitions; the next metadata change retries the reconcile.
      this.#deps.logger.error({ err: error }, 'reconcile failed');
    } finally {
      this.#running = null;
    }
  }

  async #reconcileOnce(): Promise<void> {
    const wanted = new Map<string, { topic: TopicImage; partition: PartitionImage }>();
    for (const topic of this.#deps.image.topics()) {
      for (const partition of topic.partitions) {
        if (!partition.replicas.includes(this.#deps.nodeId)) continue;
        const key = partitionDirectoryName({ topic: topic.name, ...partition });
        wanted.set(key, { topic, partition });
      }
    }
    for (const [key, replica] of [...this.#replicas]) {
      const want = wanted.get(key);
      if (want === undefined || want.topic.topicId !== replica.topicId) {
        await this.#close(replica);
        await this.#removeFiles(replica.topic, replica.partition);
      }
    }
    if (!this.#enabled) return;
    for (const [key, { topic, partition }] of wanted) {
      try {
        await this.#reconcileReplica(key, topic, partition);
      } catch (error) {
        // The replica stays offline here (clients get LEADER_NOT_AVAILABLE); the next metadata
        // change retries it. The node keeps serving its other partitions.
        this.#deps.logger.error({ err: error, partition: key }, 'could not open replica');
      }
    }
  }

  /** #reconcileOnce for one topic's `partitions` (null: all of them, open or in the image). */
  async #reconcileTopic(name: string, partitions: ReadonlySet<number> | null): Promise<void> {
    const topic = this.#deps.image.topic(name);
    const images = new Map(topic?.partitions.map((p) => [p.partition, p]) ?? []);
    const numbers = new Set(partitions ?? images.keys());
    if (partitions === null) {
      for (const replica of this.#replicas.values()) {
        if (replica.topic === name) numbers.add(replica.partition);
      }
    }
    for (const number of numbers) {
      const key = partitionDirectoryName({ topic: name, partition: number });
      const image = images.get(number);
      const wanted = topic !== undefined && image?.replicas.includes(this.#deps.nodeId) === true;
      const replica = this.#replicas.get(key);
      if (replica !== undefined && (!wanted || topic.topicId !== replica.topicId)) {
        await this.#close(replica);
        await this.#removeFiles(replica.topic, replica.partition);
      }
      if (!wanted || !this.#enabled || image === undefined) continue;
      try {
        await this.#reconcileReplica(key, topic, image);
      } catch (error) {
        this.#deps.logger.error({ err: error, partition: key }, 'could not open replica');
      }
    }
  }

  async #reconcileReplica(key: string, topic: TopicImage, image: PartitionImage): Promise<void> {
    const logConfig = partitionLogConfig(topic.config);
    const logConfigKey = JSON.stringify(logConfig);
    let replica = this.#replicas.get(key);
    if (replica !== undefined && this.#logConfigs.get(key) !== logConfigKey) {
      // The log takes its config at open: a changed segment, retention or flush config
      // reopens it (a clean close makes the reopen cheap).
      await this.#close(replica);
      replica = undefined;
    }
    if (replica === undefined) {
      replica = await this.#open(topic, image.partition, logConfig);
      this.#logConfigs.set(key, logConfigKey);
    }
    replica.setConfig(topic.config, this.#deps.clock.nowMs());
    const wasLeader = replica.role.kind === 'leader';
    // A fenced node does not lead (a restarted incarnation, issue 7): partition-record.ts.
    const own = this.#deps.image.node(this.#deps.nodeId);
    replica.applyImage(actionableRecord(image, this.#deps.nodeId, own), this.#deps.clock.nowMs());
    this.#deps.onReplicaChanged(key, wasLeader && replica.role.kind !== 'leader');
  }

  async #open(topic: TopicImage, partition: number, config: PartitionLogConfig) {
    const ref = { topic: topic.name, partition };
    const log = await this.#deps.store.open(ref, topic.topicId, config);
    const identity = { ...ref, topicId: topic.topicId, nodeId: this.#deps.nodeId };
    const { wallClock, clock, store } = this.#deps;
    const wallMs = (): number => wallClock?.wallMs() ?? clock.nowMs();
    const producerStateFiles = store.producerStateFiles?.(ref) ?? null;
    const deps = { wallMs, producerStateFiles };
    const replica = new Partition(identity, log, topic.config, this.#deps.replication, deps);
    try {
      // Before any role: a leader must know its producers before its first produce.
      await replica.producers.load(wallMs());
    } catch (error) {
      await log.close();
      throw error;
    }
    this.#replicas.set(replica.key, replica);
    this.#deps.logger.info({ partition: replica.key, ...replica.offsets() }, 'replica opened');
    return replica;
  }

  async #close(replica: Partition): Promise<void> {
    this.#replicas.delete(replica.key);
    this.#logConfigs.delete(replica.key);
    replica.close();
    this.#deps.onReplicaChanged(replica.key, true);
    await this.#saveProducerState(replica);
    await replica.log.close();
  }

  /** A clean close leaves a current snapshot, so the reopen replays nothing. */
  async #saveProducerState(replica: Partition): Promise<void> {
    const { wallClock, clock } = this.#deps;
    try {
      await replica.producers.maintain(wallClock?.wallMs() ?? clock.nowMs());
    } catch (error) {
      // Safe: without the snapshot the next open replays the log and rebuilds the same state.
      this.#deps.logger.warn({ err: error, partition: replica.key }, 'producer snapshot failed');
    }
  }

  async #removeFiles(topic: string, partition: number): Promise<void> {
    await this.#deps.store.remove({ topic, partition });
    this.#deps.logger.info({ partition: `${topic}-${partition}` }, 'replica deleted');
  }
}
