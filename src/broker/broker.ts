// The node's broker: the façade the API calls. It wires the node's parts and delegates:
// TopicAdmin (topic admin and descriptions), RecordService (produce, consumer fetch, offsets),
// ReplicaService (the leader side of replication), ReplicaFetcher (the follower side),
// NodeSession (registration and heartbeats) and LocalReplicas (reconcile with the image). It
// owns the lifecycle and the timers. Nothing here assumes one node: leadership, ISR and
// placement come from the image, and every metadata change goes through the MetadataLog.
import { assert, randomId, type Clock, type Random, type WallClock } from '../common/index.ts';
import type { MetadataLog, MetadataStatus } from '../raft/index.ts';
import type { BrokerLogger } from './broker-logger.ts';
import type {
  BrokerGauges,
  ClusterDescription,
  CreateTopicRequest,
  FetchRequest,
  FetchResult,
  PartitionDescription,
  ProduceRequest,
  ProduceResult,
  TopicDescription,
  TopicListing,
} from './broker-types.ts';
import { fromMetadataError } from './error-mapping.ts';
import { BrokerError } from './errors.ts';
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import type { MetadataImage, TopicImage } from './metadata-image.ts';
import type { PartitionRef } from './controller-core.ts';
import type { LivenessChannel } from './controller-requests.ts';
import { LocalReplicas } from './local-replicas.ts';
import { NodeSession } from './node-session.ts';
import { defaultReplicationSettings, type ReplicationSettings } from './partition.ts';
import type { PartitionStore } from './partition-store.ts';
import { Purgatory } from './purgatory.ts';
import {
  ReplicaFetcher,
  defaultReplicaFetcherConfig,
  type EpochEndOffsetAnswer,
  type EpochEndOffsetCall,
  type ReplicaTransport,
  type SessionFetchCall,
} from './replica-fetcher.ts';
import {
  ReplicaService,
  defaultFetchSessionLimits,
  type SessionFetchResult,
} from './replica-service.ts';
import type { TopicConfig } from './topic-config.ts';
import {
  LogCleanerService,
  defaultLogCleanerSettings,
  type LogCleanerSettings,
  type LogCleanerStats,
} from './log-cleaner-service.ts';
import { RecordService } from './record-service.ts';
import { requireTopic, TopicAdmin } from './topic-admin.ts';
import { PartitionChangeCounts, partitionStats, type PartitionStats } from './partition-metrics.ts';
import { producerIdLimits } from './producer-id-image.ts';
import { ProducerIds, type ProducerIdentity } from './producer-ids.ts';

export interface BrokerConfig {
  readonly nodeId: number;
  /** The URL other nodes and clients reach this node at (registered in metadata). */
  readonly advertisedUrl: string;
  readonly fetchWaitersMax: number;
  /** acks=all produces parked at once per partition (the leader core's ackWaitersMax). */
  readonly produceWaitersMax: number;
  readonly heartbeatIntervalMs: number;
  readonly retentionCheckIntervalMs: number;
  /** Pause between attempts to register with the controller. */
  readonly registrationRetryMs: number;
  /** Replication settings over the defaults (replica.lag.time.max.ms, ...). */
  readonly replication?: Partial<ReplicationSettings>;
  /** The longest a leader holds a follower fetch with nothing new; also the follower's ask. */
  readonly replicaFetchMaxWaitMs?: number;
  /** Log cleaner settings over the defaults (log.cleaner.dedupe.buffer.size, ...). */
  readonly logCleaner?: Partial<LogCleanerSettings>;
  /**
   * What produce checks: 'records' (the default) walks every record of every batch, as Kafka's
   * LogValidator; 'framing' only framing, CRC and sizes, as before issue 15 — for benchmarks
   * measuring what the walk costs, never for data a JSON fetch must decode.
   */
  readonly produceValidation?: 'records' | 'framing';
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
  /** A source leader's port refused or reset a replica fetch: a definite failure signal. */
  readonly onNodeRefused?: (nodeId: number) => void;
}

type BrokerState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

export class Broker {
  readonly #config: BrokerConfig;
  readonly #deps: BrokerDeps;
  #state: BrokerState = 'new';
  /** Only what the image assigns to this node. */
  readonly #replicas: LocalReplicas;
  readonly #admin: TopicAdmin;
  readonly #fetchPurgatory: Purgatory;
  readonly #replication: ReplicationSettings;
  readonly #fetcher: ReplicaFetcher | null;
  /** The leader side of replication: sessions, ISR proposals, wake-ups after progress. */
  readonly #service: ReplicaService;
  readonly #session: NodeSession;
  readonly #records: RecordService;
  readonly #producerIds: ProducerIds;
  readonly #cancelTimers = new Set<() => void>();
  #replicationTickArmed = false;
  readonly #partitionChanges: PartitionChangeCounts;
  #retentionRunning = false;
  /** Compacts the local replicas of compacted topics, one at a time. */
  readonly #cleaner: LogCleanerService;
  /** Set by drain(): no request parks any more (shutdown). */
  #draining = false;

  constructor(config: BrokerConfig, deps: BrokerDeps) {
    assert(config.heartbeatIntervalMs > 0, 'heartbeatIntervalMs must be positive');
    assert(config.retentionCheckIntervalMs > 0, 'retentionCheckIntervalMs must be positive');
    this.#config = config;
    this.#deps = deps;
    this.#partitionChanges = new PartitionChangeCounts(deps.image);
    this.#admin = new TopicAdmin({
      image: deps.image,
      metadata: deps.metadata,
      random: deps.random,
      localReplica: (key) => this.#replicas.get(key),
      followerAnsweredAgoMs: (leaderId) => this.#fetcher?.answeredAgoMs(leaderId) ?? null,
      requireRunning: () => this.#requireRunning(),
      propose: (command) => this.#propose(command),
      fromMetadataError: (error) => this.#fromMetadataError(error),
      settle: () => this.#settle(),
    });
    this.#fetchPurgatory = new Purgatory({ waitersMax: config.fetchWaitersMax }, deps);
    this.#producerIds = new ProducerIds(
      { nodeId: config.nodeId, blockSize: producerIdLimits.blockSizeMax },
      { propose: (command) => this.#propose(command) },
    );
    this.#replication = {
      ...defaultReplicationSettings,
      ackWaitersMax: config.produceWaitersMax,
      ...config.replication,
    };
    this.#cleaner = new LogCleanerService(
      { ...defaultLogCleanerSettings, ...config.logCleaner },
      {
        clock: deps.clock,
        wallClock: deps.wallClock,
        logger: deps.logger,
        replicas: () => this.#replicas.all(),
      },
    );
    this.#fetcher = this.#buildFetcher();
    this.#session = this.#buildSession();
    this.#replicas = new LocalReplicas({
      nodeId: config.nodeId,
      image: deps.image,
      store: deps.store,
      logger: deps.logger,
      clock: deps.clock,
      replication: this.#replication,
      wallClock: deps.wallClock,
      onReplicaChanged: (key, lostLeadership) => this.#onReplicaChanged(key, lostLeadership),
    });
    this.#service = new ReplicaService(defaultFetchSessionLimits, {
      nodeId: config.nodeId,
      clock: deps.clock,
      logger: deps.logger,
      image: deps.image,
      replicas: this.#replicas,
      propose: (command) => this.#propose(command),
      isRunning: () => this.#state === 'running' && !this.#draining,
      onHighWatermarkMaybeMoved: (key) => this.#fetchPurgatory.wake(key),
      onUnquiet: () => this.#scheduleReplicationTick(),
    });
    this.#records = new RecordService({
      nodeId: config.nodeId,
      clock: deps.clock,
      logger: deps.logger,
      image: deps.image,
      replicas: this.#replicas,
      fetchPurgatory: this.#fetchPurgatory,
      fetchWaitersMax: config.fetchWaitersMax,
      ackWaitersMax: this.#replication.ackWaitersMax,
      walkRecords: config.produceValidation !== 'framing',
      requireRunning: () => this.#requireRunning(),
      isDraining: () => this.#draining,
      afterLeaderProgress: (replica) => this.#service.afterLeaderProgress(replica),
      catchUpMetadata: () => this.isCaughtUp(),
    });
    deps.image.onApplied((command, result) => {
      // Only an accepted command is well-formed; a refused one changed nothing.
      if (result.ok && affectsReplicas(command)) this.#replicas.requestReconcile(scopeOf(command));
    });
    deps.image.onRestored(() => this.#replicas.requestReconcile());
  }

  get nodeId(): number {
    return this.#config.nodeId;
  }

  /** Whether topic `name` exists in this node's metadata image (no error built when not). */
  hasTopic(name: string): boolean {
    return this.#deps.image.topic(name) !== undefined;
  }

  /** Calls `listener` after every metadata change this node applies (or restores); unsubscribes. */
  onMetadataChange(listener: () => void): () => void {
    const offApplied = this.#deps.image.onApplied(listener);
    const offRestored = this.#deps.image.onRestored(listener);
    return () => {
      offApplied();
      offRestored();
    };
  }

  #buildFetcher(): ReplicaFetcher | null {
    const { replicaTransport, clock, logger, image, onNodeRefused } = this.#deps;
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
        ...(onNodeRefused === undefined ? {} : { onNodeRefused }),
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
        ownRegistration: () => this.#deps.image.node(config.nodeId),
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
    this.#cleaner.start();
    this.#scheduleReplicationTick();
  }

  /**
   * Resumes every parked fetch and produce and parks none from now on, so the HTTP/2 sessions
   * can close gracefully before stop() closes the logs.
   */
  drain(): void {
    this.#draining = true;
    this.#fetchPurgatory.releaseAll();
    this.#service.drain();
    for (const replica of this.#replicas.all()) replica.expireAcks();
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    this.#session.stop();
    for (const cancel of this.#cancelTimers) cancel();
    this.#cancelTimers.clear();
    this.#fetchPurgatory.releaseAll();
    this.#service.drain();
    for (const replica of this.#replicas.all()) replica.expireAcks();
    // Closing the replicas first ends every follower loop at its next step.
    const stopping = this.#fetcher?.stop();
    const cleaning = this.#cleaner.stop(); // A clean in progress ends when its log closes.
    for (const replica of this.#replicas.all()) replica.close();
    await stopping;
    await this.#replicas.closeAll();
    await cleaning;
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

  /** Per-partition offsets of the partitions led here (bounded) and partition counts. */
  partitionStats(): PartitionStats {
    return partitionStats(this.#deps.image, this.#replicas.all(), this.#deps.clock.nowMs());
  }

  /** Leader changes and ISR shrinks/expands applied from the metadata log. */
  partitionChanges(): { leaderElections: number; isrShrinks: number; isrExpands: number } {
    const { leaderElections, isrShrinks, isrExpands } = this.#partitionChanges;
    return { leaderElections, isrShrinks, isrExpands };
  }

  /** The log cleaner's totals and last clean times, for /metrics. */
  cleanerStats(): LogCleanerStats {
    return this.#cleaner.stats();
  }

  gauges(): BrokerGauges {
    let leaders = 0;
    let produces = 0;
    for (const replica of this.#replicas.all()) {
      if (replica.role.kind === 'leader') leaders += 1;
      produces += replica.parkedAcks;
    }
    return {
      localPartitions: this.#replicas.size,
      leaderPartitions: leaders,
      waitingFetches: this.#fetchPurgatory.size,
      waitingProduces: produces,
    };
  }

  // ---- cluster and topic admin -----------------------------------------------------------

  raftStatus(): MetadataStatus {
    return this.#deps.metadata.status();
  }

  describeCluster(): ClusterDescription {
    return this.#admin.describeCluster();
  }

  listTopics(): TopicListing[] {
    return this.#admin.listTopics();
  }

  /** Codes: UNKNOWN_TOPIC_OR_PARTITION. */
  describeTopic(name: string): TopicDescription {
    return this.#admin.describeTopic(name);
  }

  /** The effective config. Codes: INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION. */
  topicConfig(name: string): TopicConfig {
    return this.#admin.topicConfig(name);
  }

  /** See TopicAdmin.createTopic; resolves once this node has opened its replicas. */
  createTopic(request: CreateTopicRequest): Promise<TopicDescription> {
    return this.#admin.createTopic(request);
  }

  deleteTopic(name: string): Promise<void> {
    return this.#admin.deleteTopic(name);
  }

  /** Sets (string) or removes (null) config overrides. */
  setTopicConfigs(
    name: string,
    configs: Readonly<Record<string, string | null>>,
  ): Promise<TopicDescription> {
    return this.#admin.setTopicConfigs(name, configs);
  }

  /** See TopicAdmin.reassignPartition. */
  reassignPartition(
    name: string,
    partition: number,
    replicas: readonly number[],
  ): Promise<PartitionDescription> {
    return this.#admin.reassignPartition(name, partition, replicas);
  }

  // ---- produce and fetch (RecordService) ------------------------------------------------

  /**
   * POST /v1/producers: a new idempotent producer identity (ProducerIds.init); a name bumps
   * its epoch. Codes: BROKER_NOT_READY, NOT_CONTROLLER, REQUEST_TIMED_OUT, BROKER_BUSY.
   */
  initProducer(name: string | null): Promise<ProducerIdentity> {
    this.#requireRunning();
    return this.#producerIds.init(name);
  }

  /** RecordService.produce. */
  produce(request: ProduceRequest): Promise<ProduceResult> {
    return this.#records.produce(request);
  }

  /** RecordService.fetch. */
  fetch(request: FetchRequest): Promise<FetchResult> {
    return this.#records.fetch(request);
  }

  /** RecordService.listOffsets. */
  listOffsets(topic: string, partition: number): { logStartOffset: number; highWatermark: number } {
    return this.#records.listOffsets(topic, partition);
  }

  /** RecordService.offsetForTimestamp. */
  offsetForTimestamp(
    topic: string,
    partition: number,
    timestampMs: number,
  ): Promise<number | null> {
    return this.#records.offsetForTimestamp(topic, partition, timestampMs);
  }

  /** RecordService.deleteRecords. */
  deleteRecords(topic: string, partition: number, beforeOffset: number) {
    return this.#records.deleteRecords(topic, partition, beforeOffset);
  }

  // ---- replication: the leader side of /internal/v1/replica (ReplicaService) ------------

  /** OffsetsForLeaderEpoch from a follower. Codes: UNKNOWN_TOPIC_OR_PARTITION, BROKER_NOT_READY. */
  replicaEpochEndOffset(call: EpochEndOffsetCall): EpochEndOffsetAnswer {
    this.#requireRunning();
    this.#topic(call.topic);
    return this.#service.epochEndOffset(call);
  }

  /**
   * A follower node's incremental session fetch over every partition it follows from this
   * node; held up to maxWaitMs while none has anything new, or until `signal` aborts (the
   * follower closed the stream). Codes: BROKER_NOT_READY.
   */
  replicaSessionFetch(call: SessionFetchCall, signal?: AbortSignal): Promise<SessionFetchResult> {
    this.#requireRunning();
    return this.#service.sessionFetch(call, signal);
  }

  /** Fetch sessions this node leads, and source loops it runs as a follower. */
  replicationSessions(): { leading: number; following: number } {
    return { leading: this.#service.sessionCount, following: this.#fetcher?.sessionCount ?? 0 };
  }

  /**
   * Ticks the leaders that still have work (ISR changes, ack deadlines, lagging followers) while
   * there are any; with every leader quiet the timer is not armed (issue 7: idle CPU) until one
   * becomes unquiet again.
   */
  #scheduleReplicationTick(): void {
    if (this.#replicationTickArmed || this.#service.unquietCount === 0) return;
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    const tickMs = Math.max(10, Math.min(250, this.#replication.replicaLagTimeMaxMs / 4));
    this.#replicationTickArmed = true;
    const cancel = this.#deps.clock.schedule(tickMs, () => {
      this.#replicationTickArmed = false;
      this.#cancelTimers.delete(cancel);
      if (this.#state !== 'running') return;
      this.#service.tick();
      this.#scheduleReplicationTick();
    });
    this.#cancelTimers.add(cancel);
  }

  // ---- lookups --------------------------------------------------------------------------

  #topic(name: string): TopicImage {
    return requireTopic(this.#deps.image, name);
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

  #fromMetadataError(error: unknown): unknown {
    const { image, metadata } = this.#deps;
    return fromMetadataError(error, () => {
      const leaderId = metadata.status().leaderId;
      return leaderId === null ? undefined : image.node(leaderId);
    });
  }

  #scheduleRetention(): void {
    const run = (): void => {
      this.#cancelTimers.delete(cancel);
      if (this.#state !== 'running' || this.#retentionRunning) return;
      this.#retentionRunning = true;
      void this.#applyRetention().finally(() => {
        this.#retentionRunning = false;
        if (this.#state === 'running') this.#scheduleRetention();
      });
    };
    const cancel = this.#deps.clock.schedule(this.#config.retentionCheckIntervalMs, run);
    this.#cancelTimers.add(cancel);
  }

  #onReplicaChanged(key: string, lostLeadership: boolean): void {
    // A replica that lost leadership answered its parked acks=all produces when it resigned.
    if (lostLeadership) this.#fetchPurgatory.release(key);
    else this.#fetchPurgatory.wake(key);
    this.#service.onReplicaChanged(key);
    const replica = this.#replicas.get(key);
    if (replica === undefined) return;
    if (replica.leaderReplica !== null) this.#service.afterLeaderProgress(replica);
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
      try {
        // Expires idle producers and snapshots the state, so a restart replays little.
        await replica.producers.maintain(wallMs);
      } catch (error) {
        // Safe: a missing snapshot only makes the next open replay more of the log.
        this.#deps.logger.warn({ err: error, partition: replica.key }, 'producer snapshot failed');
      }
    }
  }
}

/**
 * What a command touches, for a scoped reconcile (LocalReplicas): a topic's creation, deletion
 * or config, or one partition's record; undefined when it may touch any replica (node events).
 */
function scopeOf(command: MetadataCommand): { topic: string; partition?: number } | undefined {
  switch (command.type) {
    case 'create-topic':
    case 'delete-topic':
      return { topic: command.name };
    case 'set-topic-config':
      return { topic: command.topic };
    case 'change-partition':
    case 'alter-isr':
      return { topic: command.topic, partition: command.partition };
    default:
      return undefined;
  }
}

/** Commands after which local replicas may need opening, closing or a new role or config. */
/** Commands that may change a replica's role: records, and this node's own fencing. */
function affectsReplicas(command: MetadataCommand): boolean {
  switch (command.type) {
    case 'create-topic':
    case 'delete-topic':
    case 'change-partition':
    case 'set-topic-config':
    case 'alter-isr':
    case 'register-node':
    case 'fence-node':
    case 'unfence-node':
    case 'controlled-shutdown':
      return true;
    default:
      return false;
  }
}
