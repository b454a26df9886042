// The node's broker: the façade the API calls. It turns topic admin into metadata commands,
// keeps local replicas in line with the applied metadata image (reconcile), serves produce and
// fetch on the partitions this node leads, parks long-polling fetches in a purgatory woken by
// appends and acks=all produces in the leader core (Partition.awaitAck); the leader side of
// replication is ReplicaService. Nothing here assumes one node: leadership, ISR and placement
// come from the image, and every metadata change goes through the MetadataLog.
import { assert, randomId, type Clock, type Random, type WallClock } from '../common/index.ts';
import type { BatchHeader, LogReadResult } from '../log/index.ts';
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
import { fromLogError, fromMetadataError } from './error-mapping.ts';
import { BrokerError } from './errors.ts';
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import type { MetadataImage, TopicImage } from './metadata-image.ts';
import type { PartitionRef } from './controller-core.ts';
import type { LivenessChannel } from './controller-requests.ts';
import { LocalReplicas } from './local-replicas.ts';
import { NodeSession } from './node-session.ts';
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
  type ReplicaTransport,
  type SessionFetchCall,
} from './replica-fetcher.ts';
import {
  ReplicaService,
  defaultFetchSessionLimits,
  type SessionFetchResult,
} from './replica-service.ts';
import type { TopicConfig } from './topic-config.ts';
import { requireTopic, TopicAdmin } from './topic-admin.ts';

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
  readonly #cancelTimers: (() => void)[] = [];
  #retentionRunning = false;
  /** Set by drain(): no request parks any more (shutdown). */
  #draining = false;

  constructor(config: BrokerConfig, deps: BrokerDeps) {
    assert(config.heartbeatIntervalMs > 0, 'heartbeatIntervalMs must be positive');
    assert(config.retentionCheckIntervalMs > 0, 'retentionCheckIntervalMs must be positive');
    this.#config = config;
    this.#deps = deps;
    this.#admin = new TopicAdmin({
      image: deps.image,
      metadata: deps.metadata,
      random: deps.random,
      localLeader: (key) => {
        const replica = this.#replicas.get(key);
        return replica?.role.kind === 'leader' ? replica : undefined;
      },
      requireRunning: () => this.#requireRunning(),
      propose: (command) => this.#propose(command),
      fromMetadataError: (error) => this.#fromMetadataError(error),
      settle: () => this.#settle(),
    });
    this.#fetchPurgatory = new Purgatory({ waitersMax: config.fetchWaitersMax }, deps);
    this.#replication = {
      ...defaultReplicationSettings,
      ackWaitersMax: config.produceWaitersMax,
      ...config.replication,
    };
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
    this.#service = new ReplicaService(defaultFetchSessionLimits, {
      nodeId: config.nodeId,
      clock: deps.clock,
      logger: deps.logger,
      image: deps.image,
      replicas: this.#replicas,
      propose: (command) => this.#propose(command),
      isRunning: () => this.#state === 'running' && !this.#draining,
      onHighWatermarkMaybeMoved: (key) => this.#fetchPurgatory.wake(key),
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
    this.#service.drain();
    for (const replica of this.#replicas.all()) replica.expireAcks();
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    this.#session.stop();
    for (const cancel of this.#cancelTimers.splice(0)) cancel();
    this.#fetchPurgatory.releaseAll();
    this.#service.drain();
    for (const replica of this.#replicas.all()) replica.expireAcks();
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
    const refused = replica.admitProduce(acks);
    if (refused === 'NOT_ENOUGH_REPLICAS') {
      throw new BrokerError(
        refused,
        `${replica.key} has ${role.isr.length} in-sync replicas, min.insync.replicas is ` +
          `${replica.config.minInsyncReplicas}`,
      );
    }
    if (refused !== null) throw new BrokerError(refused, `${replica.key} is changing leadership`);
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
    if (acks === 'all') {
      await this.#awaitReplication(
        replica,
        role.leaderEpoch,
        appended.lastOffset,
        request.timeoutMs,
      );
    }
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
    this.#service.afterLeaderProgress(replica);
    return appended;
  }

  /**
   * An acks=all produce answers once the HW passes its last offset (DESIGN.md §4); the leader
   * core decides, this only parks the request and times its deadline.
   */
  async #awaitReplication(
    replica: Partition,
    leaderEpoch: number,
    lastOffset: number,
    timeoutMs: number,
  ): Promise<void> {
    const { clock } = this.#deps;
    const nowMs = clock.nowMs();
    const deadlineMs = nowMs + (this.#draining ? 0 : timeoutMs);
    const outcome = replica.awaitAck(leaderEpoch, lastOffset, deadlineMs, nowMs);
    const cancel = clock.schedule(deadlineMs - nowMs, () =>
      replica.deliverAckOutcomes(clock.nowMs()),
    );
    const decided = await outcome.finally(cancel);
    if (decided.kind === 'acked') return;
    switch (decided.code) {
      case 'NOT_LEADER_OR_FOLLOWER':
        throw new BrokerError(decided.code, `${replica.key} lost its leadership`);
      case 'NOT_ENOUGH_REPLICAS_AFTER_APPEND':
        throw new BrokerError(
          decided.code,
          `${replica.key}: the ISR shrank below min.insync.replicas`,
        );
      case 'REQUEST_TIMED_OUT':
        throw new BrokerError(decided.code, `${replica.key}: not replicated in ${timeoutMs} ms`);
      case 'BROKER_BUSY':
        throw busy(`${replica.key}: more than ${this.#replication.ackWaitersMax} acks=all waiting`);
      default:
        assert(false, `unexpected acks=all outcome ${decided.code}`);
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

  #scheduleReplicationTick(): void {
    const tickMs = Math.max(10, Math.min(250, this.#replication.replicaLagTimeMaxMs / 4));
    const tick = (): void => {
      if (this.#state !== 'running') return;
      for (const replica of this.#replicas.all()) {
        if (replica.leaderReplica !== null) this.#service.afterLeaderProgress(replica);
      }
      this.#scheduleReplicationTick();
    };
    this.#cancelTimers.push(this.#deps.clock.schedule(tickMs, tick));
  }

  // ---- lookups --------------------------------------------------------------------------

  #topic(name: string): TopicImage {
    return requireTopic(this.#deps.image, name);
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

  #fromMetadataError(error: unknown): unknown {
    const { image, metadata } = this.#deps;
    return fromMetadataError(error, () => {
      const leaderId = metadata.status().leaderId;
      return leaderId === null ? undefined : image.node(leaderId);
    });
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
    }
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

function busy(message: string): BrokerError {
  return new BrokerError('BROKER_BUSY', message);
}
