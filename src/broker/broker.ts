// The node's broker: the façade the API calls. It turns topic admin into metadata commands,
// keeps local replicas in line with the applied metadata image (reconcile), serves produce and
// fetch on the partitions this node leads, and parks long-polling fetches and acks=all produces
// in purgatories woken by appends. Nothing here assumes one node: leadership, ISR and placement
// come from the image, and every metadata change goes through the MetadataLog.
import { assert, type Clock, type Random, type WallClock } from '../common/index.ts';
import { isLogError, type BatchHeader, type LogReadResult } from '../log/index.ts';
import type { MetadataLog, MetadataStatus } from '../raft/index.ts';
import { BrokerError, type BrokerErrorCode } from './errors.ts';
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import type { MetadataImage, PartitionImage, TopicImage } from './metadata-image.ts';
import { metadataLimits } from './metadata-image.ts';
import type { PartitionRef } from './controller-core.ts';
import type { LivenessChannel } from './controller-requests.ts';
import { LocalReplicas } from './local-replicas.ts';
import { NodeSession } from './node-session.ts';
import { toPartitionState } from './partition-record.ts';
import {
  defaultReplicationSettings,
  type AppendResult,
  type Partition,
  type ReplicationSettings,
} from './partition.ts';
import { partitionDirectoryName, type PartitionStore } from './partition-store.ts';
import { Purgatory } from './purgatory.ts';
import {
  ReplicaFetcher,
  defaultReplicaFetcherConfig,
  type EpochEndOffsetAnswer,
  type EpochEndOffsetCall,
  type ReplicaFetchCall,
  type ReplicaTransport,
} from './replica-fetcher.ts';
import { assignReplicas } from './replica-placement.ts';
import {
  isrChangeErrorCodes,
  type EpochErrorCode,
  type IsrChangeErrorCode,
  type IsrChangeRequest,
} from './replication/index.ts';
import { describeTopicConfig, resolveTopicConfig, type TopicConfig } from './topic-config.ts';
import { topicNameProblem } from './topic-name.ts';

export interface BrokerConfig {
  readonly nodeId: number;
  /** The URL other nodes and clients reach this node at (registered in metadata). */
  readonly advertisedUrl: string;
  readonly fetchWaitersMax: number;
  readonly produceWaitersMax: number;
  readonly heartbeatIntervalMs: number;
  readonly retentionCheckIntervalMs: number;
  /** Pause between attempts to register with the controller. */
  readonly registrationRetryMs: number;
  /** Replication settings over the defaults (replica.lag.time.max.ms, ...). */
  readonly replication?: Partial<ReplicationSettings>;
  /** The longest a leader holds a follower fetch with nothing new; also the follower's ask. */
  readonly replicaFetchMaxWaitMs?: number;
}

export interface BrokerLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface BrokerDeps {
  readonly clock: Clock;
  readonly wallClock: WallClock;
  readonly random: Random;
  readonly image: MetadataImage;
  readonly metadata: MetadataLog<MetadataCommand>;
  readonly store: PartitionStore;
  readonly logger: BrokerLogger;
  /** How followers reach leaders; without it this node replicates nothing (one-node use). */
  readonly replicaTransport?: ReplicaTransport;
  /** How heartbeats reach the controller; without it this node sends none (one-node use). */
  readonly liveness?: LivenessChannel;
  /** Called when a partition leader refused this node's connection (reported to the controller). */
  readonly onNodeRefused?: (nodeId: number) => void;
}

export type Acks = 0 | 1 | 'all';

export interface ProduceRequest {
  readonly topic: string;
  readonly partition: number;
  /** One or more RecordBatch v2, as a client encoded them. */
  readonly batches: Uint8Array;
  readonly acks: Acks;
  readonly timeoutMs: number;
}

/** acks=0 answers before the append: offsets are then -1, as in Kafka. */
export interface ProduceResult extends AppendResult {
  readonly topic: string;
  readonly partition: number;
}

export interface FetchRequest {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly maxBytes: number;
  readonly maxWaitMs: number;
}

export interface FetchResult {
  /** Whole batches; the first may start before `offset`. Call read.release() once sent. */
  readonly read: LogReadResult;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly leaderEpoch: number;
}

/** A follower fetch as the leader answers it: whole batches below the leader's durable end. */
export type ReplicaFetchResult =
  | Exclude<Awaited<ReturnType<ReplicaTransport['fetch']>>, { kind: 'records' }>
  | {
      readonly kind: 'records';
      readonly read: LogReadResult;
      readonly highWatermark: number;
      readonly logStartOffset: number;
      readonly logEndOffset: number;
      readonly leaderEpoch: number;
    };

export interface CreateTopicRequest {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
}

export interface PartitionDescription {
  readonly partition: number;
  readonly leader: number | null;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** Known where this node leads the partition; null elsewhere. */
  readonly logStartOffset: number | null;
  readonly highWatermark: number | null;
  /** While a reassignment is in progress: the replicas it moves the partition to. */
  readonly targetReplicas?: readonly number[];
}

export interface TopicDescription {
  readonly name: string;
  readonly topicId: string;
  readonly configs: Record<string, string>;
  readonly partitions: readonly PartitionDescription[];
}

export interface ClusterDescription {
  readonly clusterId: string | null;
  readonly controllerId: number | null;
  readonly brokers: readonly { id: number; url: string; status: 'alive' | 'fenced' }[];
}

export interface BrokerGauges {
  readonly localPartitions: number;
  readonly leaderPartitions: number;
  readonly waitingFetches: number;
  readonly waitingProduces: number;
}

type BrokerState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

export class Broker {
  readonly #config: BrokerConfig;
  readonly #deps: BrokerDeps;
  #state: BrokerState = 'new';
  /** Only what the image assigns to this node. */
  readonly #replicas: LocalReplicas;
  readonly #fetchPurgatory: Purgatory;
  readonly #producePurgatory: Purgatory;
  /** Follower fetches parked at the leader's end until an append. */
  readonly #replicaPurgatory: Purgatory;
  readonly #replication: ReplicationSettings;
  readonly #fetcher: ReplicaFetcher | null;
  /** Partitions with an ISR change proposal in flight to the controller. */
  readonly #isrProposals = new Set<string>();
  readonly #session: NodeSession;
  readonly #cancelTimers: (() => void)[] = [];
  #retentionRunning = false;
  /** Set by drain(): no request parks any more (shutdown). */
  #draining = false;

  constructor(config: BrokerConfig, deps: BrokerDeps) {
    assert(config.heartbeatIntervalMs > 0, 'heartbeatIntervalMs must be positive');
    assert(config.retentionCheckIntervalMs > 0, 'retentionCheckIntervalMs must be positive');
    this.#config = config;
    this.#deps = deps;
    this.#fetchPurgatory = new Purgatory({ waitersMax: config.fetchWaitersMax }, deps);
    this.#producePurgatory = new Purgatory({ waitersMax: config.produceWaitersMax }, deps);
    this.#replicaPurgatory = new Purgatory({ waitersMax: config.fetchWaitersMax }, deps);
    this.#replication = { ...defaultReplicationSettings, ...config.replication };
    this.#fetcher = this.#buildFetcher();
    this.#session = this.#buildSession();
    this.#replicas = new LocalReplicas({
      nodeId: config.nodeId,
      image: deps.image,
      store: deps.store,
      logger: deps.logger,
      clock: deps.clock,
      replication: this.#replication,
      onReplicaChanged: (key, lostLeadership) => this.#onReplicaChanged(key, lostLeadership),
    });
    deps.image.onApplied((command, result) => {
      // Only an accepted command is well-formed; a refused one changed nothing.
      if (result.ok && affectsReplicas(command)) this.#replicas.requestReconcile();
    });
    deps.image.onRestored(() => this.#replicas.requestReconcile());
  }

  get nodeId(): number {
    return this.#config.nodeId;
  }

  #buildFetcher(): ReplicaFetcher | null {
    const { replicaTransport, clock, logger, image } = this.#deps;
    if (replicaTransport === undefined) return null;
    const fetchMaxWaitMs =
      this.#config.replicaFetchMaxWaitMs ?? defaultReplicaFetcherConfig.fetchMaxWaitMs;
    return new ReplicaFetcher(
      { ...defaultReplicaFetcherConfig, fetchMaxWaitMs, nodeId: this.#config.nodeId },
      {
        transport: replicaTransport,
        clock,
        logger,
        nodeUrl: (id) => image.node(id)?.url ?? null,
      },
    );
  }

  #buildSession(): NodeSession {
    const config = this.#config;
    return new NodeSession(
      {
        nodeId: config.nodeId,
        advertisedUrl: config.advertisedUrl,
        incarnationId: randomId(this.#deps.random),
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        registrationRetryMs: config.registrationRetryMs,
      },
      {
        clock: this.#deps.clock,
        logger: this.#deps.logger,
        needsClusterId: () =>
          this.#deps.image.clusterId === null && this.#deps.metadata.status().role !== 'observer',
        newClusterId: () => randomId(this.#deps.random),
        propose: (command) => this.#propose(command),
        ...(this.#deps.liveness === undefined ? {} : { liveness: this.#deps.liveness }),
        ineligible: () => this.#ineligiblePartitions(),
      },
    );
  }

  /** Partitions this node follows whose follower core may not lead (a corrupt log catching up). */
  #ineligiblePartitions(): PartitionRef[] {
    const refs: PartitionRef[] = [];
    for (const replica of this.#replicas.all()) {
      if (replica.followerReplica?.eligibleForLeadership === false) {
        refs.push({ topic: replica.topic, partition: replica.partition });
      }
    }
    return refs;
  }

  // ---- lifecycle ------------------------------------------------------------------------

  /** Starts the metadata log, registers, drops replicas the image no longer assigns here. */
  async start(): Promise<void> {
    assert(this.#state === 'new', 'start() called twice');
    this.#state = 'starting';
    const { metadata, image, logger } = this.#deps;
    await metadata.start();
    logger.info({ appliedIndex: image.appliedIndex }, 'metadata log started');
    // Registration is applied here only after every entry committed before it: until then the
    // replayed image may lack topics whose replicas are on disk, which are no orphans.
    await this.#session.register();
    // Heartbeats from now on: opening the replicas may take longer than a session.
    this.#session.startHeartbeats();
    await this.#replicas.removeOrphans();
    this.#replicas.enable();
    await this.#settle();
    this.#state = 'running';
    this.#scheduleRetention();
    this.#scheduleReplicationTick();
  }

  /**
   * Resumes every parked fetch and produce and parks none from now on, so the HTTP/2 sessions
   * can close gracefully before stop() closes the logs.
   */
  drain(): void {
    this.#draining = true;
    this.#fetchPurgatory.releaseAll();
    this.#producePurgatory.releaseAll();
    this.#replicaPurgatory.releaseAll();
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    this.#session.stop();
    for (const cancel of this.#cancelTimers.splice(0)) cancel();
    this.#fetchPurgatory.releaseAll();
    this.#producePurgatory.releaseAll();
    this.#replicaPurgatory.releaseAll();
    // Closing the replicas first ends every follower loop at its next step.
    const stopping = this.#fetcher?.stop();
    for (const replica of this.#replicas.all()) replica.close();
    await stopping;
    await this.#replicas.closeAll();
    await this.#deps.metadata.stop();
    this.#state = 'stopped';
  }

  /** Serving: started, and a metadata leader (controller) is known. */
  isReady(): boolean {
    return this.#state === 'running' && this.#deps.metadata.status().leaderId !== null;
  }

  /** This process's registration (its broker epoch), once committed; null before. */
  get brokerEpoch(): number | null {
    return this.#session.brokerEpoch;
  }

  /**
   * Ready for /readyz: running, this incarnation registered, and caught up with the metadata
   * committed before the call (a ReadIndex barrier). False when the barrier fails.
   */
  async isCaughtUp(): Promise<boolean> {
    const brokerEpoch = this.#session.brokerEpoch;
    if (!this.isReady() || brokerEpoch === null) return false;
    if (this.#deps.image.node(this.#config.nodeId)?.brokerEpoch !== brokerEpoch) {
      return false;
    }
    try {
      await this.#deps.metadata.barrier();
      return true;
    } catch (error) {
      // No leader, or no answer in time: not ready, which is what the probe reports.
      this.#deps.logger.debug({ err: error }, 'readiness barrier failed');
      return false;
    }
  }

  gauges(): BrokerGauges {
    let leaders = 0;
    for (const replica of this.#replicas.all()) if (replica.role.kind === 'leader') leaders += 1;
    return {
      localPartitions: this.#replicas.size,
      leaderPartitions: leaders,
      waitingFetches: this.#fetchPurgatory.size,
      waitingProduces: this.#producePurgatory.size,
    };
  }

  // ---- cluster and topic admin -----------------------------------------------------------

  raftStatus(): MetadataStatus {
    return this.#deps.metadata.status();
  }

  describeCluster(): ClusterDescription {
    const { image, metadata } = this.#deps;
    return {
      clusterId: image.clusterId,
      controllerId: metadata.status().leaderId,
      brokers: image.nodes().map(({ id, url, status }) => ({ id, url, status })),
    };
  }

  listTopics(): { name: string; partitions: number; replicationFactor: number }[] {
    return this.#deps.image.topics().map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.length,
      replicationFactor: topic.partitions[0]?.replicas.length ?? 0,
    }));
  }

  /** Codes: UNKNOWN_TOPIC_OR_PARTITION. */
  describeTopic(name: string): TopicDescription {
    const topic = this.#topic(name);
    return {
      name: topic.name,
      topicId: topic.topicId,
      configs: describeTopicConfig(topic.config),
      partitions: topic.partitions.map((p) => this.#describePartition(topic, p)),
    };
  }

  #describePartition(topic: TopicImage, p: PartitionImage): PartitionDescription {
    const replica = this.#replicas.get(partitionDirectoryName({ topic: topic.name, ...p }));
    const isLocalLeader = replica !== undefined && replica.role.kind === 'leader';
    return {
      partition: p.partition,
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicas,
      isr: p.isr,
      logStartOffset: isLocalLeader ? replica.log.logStartOffset : null,
      highWatermark: isLocalLeader ? replica.highWatermark : null,
      ...(p.targetReplicas === undefined ? {} : { targetReplicas: p.targetReplicas }),
    };
  }

  /** The effective config. Codes: INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION. */
  topicConfig(name: string): TopicConfig {
    return this.#topic(name).config;
  }

  /**
   * Places replicas over the alive nodes and commits the topic; resolves once this node has
   * opened its replicas. Codes: INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
   * INVALID_REPLICATION_FACTOR, INVALID_CONFIG, TOPIC_ALREADY_EXISTS, NOT_CONTROLLER, BROKER_BUSY.
   */
  async createTopic(request: CreateTopicRequest): Promise<TopicDescription> {
    this.#requireRunning();
    const { name, partitions, replicationFactor, configs } = request;
    const nameProblem = topicNameProblem(name);
    if (nameProblem !== null) throw new BrokerError('INVALID_TOPIC_EXCEPTION', nameProblem);
    if (!isCount(partitions, metadataLimits.partitionsPerTopicMax)) {
      throw new BrokerError(
        'INVALID_PARTITIONS',
        `partitions must be an integer in [1, ${metadataLimits.partitionsPerTopicMax}]`,
      );
    }
    const resolved = resolveTopicConfig(configs);
    if (!resolved.ok) throw new BrokerError('INVALID_CONFIG', resolved.message);
    // Placement reads the alive nodes: a ReadIndex barrier makes this node's image current.
    try {
      await this.#deps.metadata.barrier();
    } catch (error) {
      throw this.#fromMetadataError(error);
    }
    if (this.#deps.image.topic(name) !== undefined) {
      throw new BrokerError('TOPIC_ALREADY_EXISTS', `topic '${name}' already exists`);
    }
    const alive = this.#deps.image
      .nodes()
      .filter((node) => node.status === 'alive')
      .map((node) => node.id);
    if (!isCount(replicationFactor, alive.length)) {
      throw new BrokerError(
        'INVALID_REPLICATION_FACTOR',
        `replicationFactor must be an integer in [1, ${alive.length}] (alive nodes)`,
      );
    }
    const start = this.#deps.random.int(alive.length);
    const assignment = assignReplicas(alive, partitions, replicationFactor, start);
    await this.#proposeChecked({
      type: 'create-topic',
      name,
      topicId: randomId(this.#deps.random),
      partitions: assignment.map((replicas) => ({ replicas })),
      configs: { ...configs },
    });
    await this.#settle();
    return this.describeTopic(name);
  }

  /** Codes: INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION, NOT_CONTROLLER, BROKER_BUSY. */
  async deleteTopic(name: string): Promise<void> {
    this.#requireRunning();
    this.#topic(name);
    await this.#proposeChecked({ type: 'delete-topic', name });
    await this.#settle();
  }

  /** Sets (string) or removes (null) config overrides. Codes: as deleteTopic, INVALID_CONFIG. */
  async setTopicConfigs(
    name: string,
    configs: Readonly<Record<string, string | null>>,
  ): Promise<TopicDescription> {
    this.#requireRunning();
    this.#topic(name);
    await this.#proposeChecked({ type: 'set-topic-config', topic: name, configs: { ...configs } });
    await this.#settle();
    return this.describeTopic(name);
  }

  /**
   * Starts moving a partition to `replicas` (first = preferred leader); the controller steps
   * it (add, catch up, move the leader, drop) and clears `targetReplicas` when done.
   * Codes: UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICATION_FACTOR, NOT_CONTROLLER, BROKER_BUSY.
   */
  async reassignPartition(
    name: string,
    partition: number,
    replicas: readonly number[],
  ): Promise<PartitionDescription> {
    this.#requireRunning();
    if (this.#topic(name).partitions[partition] === undefined) {
      throw new BrokerError('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${name}-${partition}`);
    }
    const targetReplicas = [...replicas];
    await this.#proposeChecked({
      type: 'reassign-partition',
      topic: name,
      partition,
      targetReplicas,
    });
    const described = this.describeTopic(name).partitions[partition];
    assert(described !== undefined, 'a partition does not vanish while it is described');
    return described;
  }

  // ---- produce and fetch ----------------------------------------------------------------

  /**
   * Validates and appends client batches on the leader, answering per `acks`.
   * Codes: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE,
   * CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, INVALID_RECORD, NOT_ENOUGH_REPLICAS,
   * NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT, KAFKA_STORAGE_ERROR, BROKER_BUSY.
   */
  async produce(request: ProduceRequest): Promise<ProduceResult> {
    const { topic, partition, acks } = request;
    const replica = this.#leaderReplica(topic, partition);
    const role = replica.role;
    assert(role.kind === 'leader', 'leaderReplica returns leaders');
    const { batches, recordCount } = replica.validateBatches(request.batches);
    if (acks === 'all' && role.isr.length < replica.config.minInsyncReplicas) {
      throw new BrokerError(
        'NOT_ENOUGH_REPLICAS',
        `${replica.key} has ${role.isr.length} in-sync replicas, min.insync.replicas is ` +
          `${replica.config.minInsyncReplicas}`,
      );
    }
    // The headers go along so the log does not check every CRC a second time.
    const appending = this.#append(
      replica,
      request.batches,
      batches,
      role.leaderEpoch,
      recordCount,
    );
    if (acks === 0) {
      // acks=0: the client asked not to learn the outcome; a failure is only logged.
      appending.catch((error: unknown) =>
        this.#deps.logger.warn({ err: error, partition: replica.key }, 'acks=0 append failed'),
      );
      return { topic, partition, baseOffset: -1, lastOffset: -1, recordCount };
    }
    const appended = await appending;
    if (acks === 'all')
      await this.#awaitReplication(replica, appended.lastOffset, request.timeoutMs);
    return { topic, partition, ...appended };
  }

  async #append(
    replica: Partition,
    bytes: Uint8Array,
    scanned: readonly BatchHeader[],
    leaderEpoch: number,
    recordCount: number,
  ): Promise<AppendResult> {
    let appended: AppendResult;
    try {
      const nowMs = () => this.#deps.clock.nowMs();
      appended = await replica.appendAsLeader(bytes, leaderEpoch, recordCount, nowMs, scanned);
    } catch (error) {
      throw fromLogError(error, replica);
    }
    this.#replicaPurgatory.wake(replica.key);
    this.#afterLeaderProgress(replica);
    return appended;
  }

  /** An acks=all produce answers once the HW passes its last offset (DESIGN.md §4). */
  async #awaitReplication(replica: Partition, lastOffset: number, timeoutMs: number) {
    const isDone = () => replica.ackState(lastOffset) !== 'wait';
    const waitMs = this.#draining ? 0 : timeoutMs;
    const outcome = await (this.#producePurgatory.wait(replica.key, waitMs, isDone) ??
      Promise.resolve('expired' as const));
    const state = replica.ackState(lastOffset);
    switch (state) {
      case 'acked':
        return;
      case 'lost':
        throw new BrokerError('NOT_LEADER_OR_FOLLOWER', `${replica.key} lost its leadership`);
      case 'NOT_ENOUGH_REPLICAS_AFTER_APPEND':
        throw new BrokerError(state, `${replica.key}: the ISR shrank below min.insync.replicas`);
      case 'wait':
        assert(outcome === 'expired', 'a satisfied wait has an answer');
        throw new BrokerError(
          'REQUEST_TIMED_OUT',
          `${replica.key}: not replicated in ${timeoutMs} ms`,
        );
    }
  }

  /**
   * Whole batches from `offset` below the HW; long-polls up to maxWaitMs at the HW.
   * Codes: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE,
   * OFFSET_OUT_OF_RANGE (details: logStartOffset, highWatermark), OFFSET_NOT_AVAILABLE (a new
   * leader whose HW has not caught up), BROKER_BUSY.
   */
  async fetch(request: FetchRequest): Promise<FetchResult> {
    const { topic, partition, offset } = request;
    let replica = this.#leaderReplica(topic, partition);
    let decision = this.#consumerRead(replica, offset);
    if (offset === decision.highWatermark && request.maxWaitMs > 0 && !this.#draining) {
      const waiting = replica;
      const isDone = () => waiting.highWatermark > offset || waiting.role.kind !== 'leader';
      const parked = this.#fetchPurgatory.wait(replica.key, request.maxWaitMs, isDone);
      if (parked === null) throw busy(`more than ${this.#config.fetchWaitersMax} waiting fetches`);
      await parked;
      replica = this.#leaderReplica(topic, partition);
      decision = this.#consumerRead(replica, offset);
    }
    let read: LogReadResult;
    try {
      read = await replica.read(offset, request.maxBytes, decision.highWatermark);
    } catch (error) {
      throw fromLogError(error, replica);
    }
    const logStartOffset = replica.log.logStartOffset;
    const { highWatermark, leaderEpoch } = decision;
    return { read, highWatermark, logStartOffset, leaderEpoch };
  }

  /** The leader core's answer to a consumer read at `offset`, or the error a client acts on. */
  #consumerRead(replica: Partition, offset: number) {
    const decision = replica.consumerRead(offset);
    if (decision === null) {
      throw new BrokerError('LEADER_NOT_AVAILABLE', `${replica.key} is changing leadership`);
    }
    if (decision.kind === 'read') return decision;
    const { logStartOffset, highWatermark } = replica.offsets();
    if (decision.code === 'OFFSET_OUT_OF_RANGE') {
      throw new BrokerError(
        'OFFSET_OUT_OF_RANGE',
        `offset ${offset} is outside [${logStartOffset}, ${highWatermark}] of ${replica.key}`,
        { details: { logStartOffset, highWatermark } },
      );
    }
    throw new BrokerError(
      decision.code === 'OFFSET_NOT_AVAILABLE' ? 'OFFSET_NOT_AVAILABLE' : 'NOT_LEADER_OR_FOLLOWER',
      `${replica.key} cannot serve offset ${offset} yet (${decision.code})`,
    );
  }

  /** Codes: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE. */
  listOffsets(topic: string, partition: number): { logStartOffset: number; highWatermark: number } {
    const { logStartOffset, highWatermark } = this.#settledLeader(topic, partition).offsets();
    return { logStartOffset, highWatermark };
  }

  /**
   * The first offset whose timestamp is ≥ timestampMs, below the HW, or null. Kafka's special
   * timestamps: -1 is the HW (latest), -2 the log start (earliest). Codes: as listOffsets.
   */
  async offsetForTimestamp(
    topic: string,
    partition: number,
    timestampMs: number,
  ): Promise<number | null> {
    const replica = this.#settledLeader(topic, partition);
    if (timestampMs === -1) return replica.highWatermark;
    if (timestampMs === -2) return replica.log.logStartOffset;
    let offset: number | null;
    try {
      offset = await replica.log.offsetForTimestamp(timestampMs);
    } catch (error) {
      throw fromLogError(error, replica);
    }
    if (offset === null || offset >= replica.highWatermark) return null;
    return Math.max(offset, replica.log.logStartOffset);
  }

  /**
   * Advances the log start offset to `beforeOffset` (-1: the HW), as Kafka's DeleteRecords.
   * Codes: as listOffsets, OFFSET_OUT_OF_RANGE.
   */
  async deleteRecords(topic: string, partition: number, beforeOffset: number) {
    const replica = this.#settledLeader(topic, partition);
    const target = beforeOffset === -1 ? replica.highWatermark : beforeOffset;
    const { logStartOffset, highWatermark } = replica.offsets();
    if (target < 0 || target > highWatermark) {
      throw new BrokerError('OFFSET_OUT_OF_RANGE', `cannot delete past the HW ${highWatermark}`, {
        details: { logStartOffset, highWatermark },
      });
    }
    try {
      if (target > logStartOffset) await replica.log.deleteRecordsBefore(target);
    } catch (error) {
      throw fromLogError(error, replica);
    }
    return { logStartOffset: replica.log.logStartOffset };
  }

  // ---- replication: the leader side of /internal/v1/replica ----------------------------------

  /** OffsetsForLeaderEpoch from a follower. Codes: UNKNOWN_TOPIC_OR_PARTITION, BROKER_NOT_READY. */
  replicaEpochEndOffset(call: EpochEndOffsetCall): EpochEndOffsetAnswer {
    const target = this.#replicationTarget(call.topic, call.partition, call.currentLeaderEpoch);
    if (typeof target === 'string') return { kind: 'error', code: target };
    const decision = target.onEpochEndOffsetRequest(
      call.replicaId,
      call.currentLeaderEpoch,
      call.epoch,
    );
    return decision ?? { kind: 'error', code: 'NOT_LEADER_OR_FOLLOWER' };
  }

  /**
   * A follower's fetch: records below the leader's durable end, or what the follower must do
   * first (truncate, reset, refresh metadata). Held up to maxWaitMs while nothing is new, so
   * an idle follower does not spin. Codes: UNKNOWN_TOPIC_OR_PARTITION, BROKER_NOT_READY,
   * KAFKA_STORAGE_ERROR.
   */
  async replicaFetch(call: ReplicaFetchCall): Promise<ReplicaFetchResult> {
    const target = this.#replicationTarget(call.topic, call.partition, call.currentLeaderEpoch);
    if (typeof target === 'string') return { kind: 'error', code: target };
    let decision = this.#followerFetch(target, call);
    if (
      decision.kind === 'read' &&
      decision.fetchOffset >= decision.maxOffsetExclusive &&
      call.maxWaitMs > 0
    ) {
      const leader = target.leaderReplica;
      const isDone = () =>
        target.leaderReplica !== leader || target.leaderEndOffset > call.fetchOffset;
      const parked = this.#replicaPurgatory.wait(target.key, call.maxWaitMs, isDone);
      if (parked !== null) {
        await parked;
        decision = this.#followerFetch(target, call);
      }
    }
    if (decision.kind === 'error') return { kind: 'error', code: decision.code };
    if (decision.kind !== 'read') return decision;
    let read: LogReadResult;
    try {
      read = await target.read(decision.fetchOffset, call.maxBytes, decision.maxOffsetExclusive);
    } catch (error) {
      throw fromLogError(error, target);
    }
    return {
      kind: 'records',
      read,
      highWatermark: decision.highWatermark,
      logStartOffset: decision.logStartOffset,
      logEndOffset: decision.logEndOffset,
      leaderEpoch: call.currentLeaderEpoch,
    };
  }

  #followerFetch(replica: Partition, call: ReplicaFetchCall) {
    const decision = replica.onFollowerFetch(call, this.#deps.clock.nowMs());
    if (decision === null) return { kind: 'error', code: 'NOT_LEADER_OR_FOLLOWER' } as const;
    if (decision.kind === 'read') this.#afterLeaderProgress(replica);
    return decision;
  }

  /**
   * The local leader of the partition in exactly `currentLeaderEpoch`, or the KIP-320 answer
   * from this node's metadata: an older epoch is fenced, a newer one not known here yet.
   */
  #replicationTarget(
    topic: string,
    partition: number,
    currentLeaderEpoch: number,
  ): Partition | EpochErrorCode {
    this.#requireRunning();
    const image = this.#topic(topic).partitions[partition];
    if (image === undefined) {
      throw new BrokerError('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${topic}-${partition}`);
    }
    const replica = this.#replicas.get(partitionDirectoryName({ topic, partition }));
    if (replica?.leaderReplica?.leaderEpoch === currentLeaderEpoch) return replica;
    if (currentLeaderEpoch < image.leaderEpoch) return 'FENCED_LEADER_EPOCH';
    if (currentLeaderEpoch > image.leaderEpoch) return 'UNKNOWN_LEADER_EPOCH';
    // This node leads in the image but has not opened the role yet: the follower retries.
    return image.leader === this.#config.nodeId ? 'UNKNOWN_LEADER_EPOCH' : 'NOT_LEADER_OR_FOLLOWER';
  }

  /** After an append, a follower fetch, a metadata change or a tick on a leader replica. */
  #afterLeaderProgress(replica: Partition): void {
    this.#fetchPurgatory.wake(replica.key);
    this.#producePurgatory.wake(replica.key);
    if (this.#state === 'running') this.#maybeProposeIsrChange(replica);
  }

  /** Sends the leader core's ISR change through the controller as an alter-isr record. */
  #maybeProposeIsrChange(replica: Partition): void {
    const key = replica.key;
    if (this.#isrProposals.has(key)) return;
    const nowMs = this.#deps.clock.nowMs();
    const request = replica.pollIsrChange(nowMs);
    if (request === null) return;
    this.#isrProposals.add(key);
    const { logger } = this.#deps;
    logger.info({ partition: key, isr: request.newIsr }, 'proposing an ISR change');
    this.#propose({
      type: 'alter-isr',
      topic: replica.topic,
      partition: replica.partition,
      leaderId: request.leaderId,
      leaderEpoch: request.leaderEpoch,
      partitionEpoch: request.partitionEpoch,
      newIsr: request.newIsr,
    })
      .then(
        ({ result }) => this.#onIsrChangeCommitted(replica, request, result),
        (error: unknown) => logger.debug({ err: error, partition: key }, 'ISR change not sent'),
      )
      .finally(() => {
        this.#isrProposals.delete(key);
        this.#producePurgatory.wake(key);
      });
  }

  #onIsrChangeCommitted(replica: Partition, request: IsrChangeRequest, result: MetadataResult) {
    const nowMs = this.#deps.clock.nowMs();
    const image = this.#deps.image.partition(replica.topic, replica.partition);
    if (result.ok && image !== undefined) {
      replica.onIsrChangeResult(request, { ok: true, state: toPartitionState(image) }, nowMs);
      return;
    }
    if (result.ok) return;
    const code = isIsrChangeErrorCode(result.code) ? result.code : 'INVALID_REQUEST';
    this.#deps.logger.info({ partition: replica.key, code }, 'ISR change refused');
    replica.onIsrChangeResult(request, { ok: false, code }, nowMs);
  }

  #scheduleReplicationTick(): void {
    const tickMs = Math.max(10, Math.min(250, this.#replication.replicaLagTimeMaxMs / 4));
    const tick = (): void => {
      if (this.#state !== 'running') return;
      for (const replica of this.#replicas.all()) {
        if (replica.leaderReplica !== null) this.#afterLeaderProgress(replica);
      }
      this.#scheduleReplicationTick();
    };
    this.#cancelTimers.push(this.#deps.clock.schedule(tickMs, tick));
  }

  // ---- lookups --------------------------------------------------------------------------

  #topic(name: string): TopicImage {
    const problem = topicNameProblem(name);
    if (problem !== null) throw new BrokerError('INVALID_TOPIC_EXCEPTION', problem);
    const topic = this.#deps.image.topic(name);
    if (topic === undefined) {
      throw new BrokerError('UNKNOWN_TOPIC_OR_PARTITION', `no topic '${name}'`);
    }
    return topic;
  }

  /** This node's open leader replica of the partition, or the error a client acts on. */
  #leaderReplica(topic: string, partition: number): Partition {
    this.#requireRunning();
    const image = this.#topic(topic).partitions[partition];
    if (image === undefined) {
      throw new BrokerError('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${topic}-${partition}`);
    }
    if (image.leader === null) {
      throw new BrokerError('LEADER_NOT_AVAILABLE', `${topic}-${partition} has no leader`);
    }
    if (image.leader !== this.#config.nodeId) {
      const leader = this.#deps.image.node(image.leader);
      throw new BrokerError(
        'NOT_LEADER_OR_FOLLOWER',
        `node ${image.leader} leads ${topic}-${partition}`,
        { details: { leader: { id: image.leader, url: leader?.url ?? null } } },
      );
    }
    const replica = this.#replicas.get(partitionDirectoryName({ topic, partition }));
    if (replica === undefined || replica.role.kind !== 'leader') {
      throw new BrokerError('LEADER_NOT_AVAILABLE', `${topic}-${partition} is still opening`);
    }
    return replica;
  }

  /** A leader whose HW may be shown: a new leader's is held until its ISR catches up (P14). */
  #settledLeader(topic: string, partition: number): Partition {
    const replica = this.#leaderReplica(topic, partition);
    if (replica.leaderReplica?.isHighWatermarkSettled !== true) {
      throw new BrokerError(
        'OFFSET_NOT_AVAILABLE',
        `${replica.key} has a new leader whose high watermark is catching up`,
      );
    }
    return replica;
  }

  #requireRunning(): void {
    if (this.#state !== 'running') {
      throw new BrokerError('BROKER_NOT_READY', `the broker is ${this.#state}`);
    }
  }

  // ---- metadata -------------------------------------------------------------------------

  async #propose(command: MetadataCommand): Promise<{ index: number; result: MetadataResult }> {
    try {
      const { index, result } = await this.#deps.metadata.propose(command);
      return { index, result: result as MetadataResult };
    } catch (error) {
      throw this.#fromMetadataError(error);
    }
  }

  /** Proposes an admin command; a refusal by the image becomes its BrokerError. */
  async #proposeChecked(command: MetadataCommand): Promise<void> {
    const { result } = await this.#propose(command);
    if (result.ok) return;
    const code = result.code;
    switch (code) {
      case 'UNKNOWN_TOPIC_OR_PARTITION':
      case 'TOPIC_ALREADY_EXISTS':
      case 'INVALID_TOPIC_EXCEPTION':
      case 'INVALID_PARTITIONS':
      case 'INVALID_REPLICATION_FACTOR':
      case 'INVALID_CONFIG':
        throw new BrokerError(code, result.message);
      default:
        // The broker checked the command before proposing it: only a bug gets here.
        assert(false, `metadata refused ${command.type}: ${code} ${result.message}`);
    }
  }

  #fromMetadataError(error: unknown): unknown {
    const code = (error as { code?: unknown } | null)?.code;
    const map: Readonly<Record<string, BrokerErrorCode>> = {
      RAFT_NOT_LEADER: 'NOT_CONTROLLER',
      RAFT_TRANSFER_IN_PROGRESS: 'NOT_CONTROLLER',
      RAFT_BUSY: 'BROKER_BUSY',
      RAFT_TIMEOUT: 'REQUEST_TIMED_OUT',
      RAFT_PROPOSAL_DROPPED: 'REQUEST_TIMED_OUT',
      RAFT_STOPPED: 'BROKER_NOT_READY',
      RAFT_ENTRY_TOO_LARGE: 'INVALID_CONFIG',
    };
    if (typeof code !== 'string' || !Object.hasOwn(map, code)) return error;
    const brokerCode = map[code] as BrokerErrorCode;
    const leaderId = this.#deps.metadata.status().leaderId;
    const leader = leaderId === null ? undefined : this.#deps.image.node(leaderId);
    const details =
      brokerCode === 'NOT_CONTROLLER' && leader !== undefined
        ? { leader: { id: leader.id, url: leader.url } }
        : {};
    return new BrokerError(brokerCode, (error as Error).message, { cause: error, details });
  }

  #scheduleRetention(): void {
    const run = (): void => {
      if (this.#state !== 'running' || this.#retentionRunning) return;
      this.#retentionRunning = true;
      void this.#applyRetention().finally(() => {
        this.#retentionRunning = false;
        if (this.#state === 'running') this.#scheduleRetention();
      });
    };
    this.#cancelTimers.push(this.#deps.clock.schedule(this.#config.retentionCheckIntervalMs, run));
  }

  #onReplicaChanged(key: string, lostLeadership: boolean): void {
    const purgatories = [this.#fetchPurgatory, this.#producePurgatory, this.#replicaPurgatory];
    for (const purgatory of purgatories) {
      if (lostLeadership) purgatory.release(key);
      else purgatory.wake(key);
    }
    const replica = this.#replicas.get(key);
    if (replica === undefined) return;
    if (replica.leaderReplica !== null) this.#afterLeaderProgress(replica);
    if (replica.followerReplica !== null) this.#fetcher?.follow(replica);
  }

  /** Resolves once every metadata change applied so far has reached the local replicas. */
  whenReconciled(): Promise<void> {
    return this.#replicas.whenReconciled();
  }

  #settle(): Promise<void> {
    return this.#replicas.whenReconciled();
  }

  async #applyRetention(): Promise<void> {
    const wallMs = this.#deps.wallClock.wallMs();
    for (const replica of this.#replicas.all()) {
      try {
        await replica.log.applyRetention(wallMs);
      } catch (error) {
        // Retention is retried at the next check; a closed log (deleted topic) is skipped.
        this.#deps.logger.warn({ err: error, partition: replica.key }, 'retention failed');
      }
    }
  }
}

/** Commands after which local replicas may need opening, closing or a new role or config. */
function affectsReplicas(command: MetadataCommand): boolean {
  switch (command.type) {
    case 'create-topic':
    case 'delete-topic':
    case 'change-partition':
    case 'set-topic-config':
    case 'alter-isr':
      return true;
    default:
      return false;
  }
}

function isIsrChangeErrorCode(code: string): code is IsrChangeErrorCode {
  return (isrChangeErrorCodes as readonly string[]).includes(code);
}

function isCount(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= max;
}

function busy(message: string): BrokerError {
  return new BrokerError('BROKER_BUSY', message);
}

/** 128 random bits as 32 hex digits, from the injected Random. */
function randomId(random: Random): string {
  let id = '';
  for (let i = 0; i < 8; i += 1) id += random.int(0x10000).toString(16).padStart(4, '0');
  return id;
}

/** Maps the log's failures to what a client acts on. */
function fromLogError(error: unknown, replica: Partition): unknown {
  if (!isLogError(error)) return error;
  const { logStartOffset, highWatermark } = replica.offsets();
  switch (error.code) {
    case 'LOG_CORRUPT_BATCH':
    case 'LOG_UNSUPPORTED_COMPRESSION':
      return new BrokerError('CORRUPT_MESSAGE', error.message, { cause: error });
    case 'LOG_RECORD_TOO_LARGE':
      return new BrokerError('MESSAGE_TOO_LARGE', error.message, { cause: error });
    case 'LOG_OFFSET_OUT_OF_RANGE':
      return new BrokerError('OFFSET_OUT_OF_RANGE', error.message, {
        cause: error,
        details: { logStartOffset, highWatermark },
      });
    case 'LOG_CLOSED':
      return new BrokerError('LEADER_NOT_AVAILABLE', `${replica.key} is reopening`, {
        cause: error,
      });
    case 'LOG_BUSY':
      return new BrokerError('BROKER_BUSY', error.message, { cause: error });
    case 'LOG_INVALID_OFFSET':
    case 'LOG_INVALID_EPOCH':
    case 'LOG_STORAGE_ERROR':
      return new BrokerError('KAFKA_STORAGE_ERROR', error.message, { cause: error });
    default:
      return error;
  }
}
