// The group coordinator's shell around the pure GroupCoordinatorCore: it finds (and on first use
// creates) __consumer_offsets, loads the groups of every partition this node leads by replaying
// it up to the HW (COORDINATOR_LOAD_IN_PROGRESS meanwhile), appends the core's records there
// with acks=all through the broker's own produce path before answering, drops the groups of a
// partition it stops leading, and ticks the core for session expiry and metadata changes.
// Invariant: records reach a partition in the order the core emitted them; after a failed
// append the partition's groups are dropped and replayed, so memory never runs ahead of the log.
// Classic (Kafka JoinGroup/SyncGroup) requests wait as tokens in the ClassicGroupCore; their
// replies are delivered only after the records of the same step are appended.
import { assert, type Clock, type Random, type WallClock } from '../common/index.ts';
import { decodeBatches, encodeBatch, type LogReadResult } from '../log/index.ts';
import type { Broker } from './broker.ts';
import type { BrokerLogger } from './broker-logger.ts';
import type { TopicDescription } from './broker-types.ts';
import { BrokerError, isBrokerError } from './errors.ts';
import {
  ClassicGroupCore,
  GroupCoordinatorCore,
  GroupError,
  defaultClassicGroupConfig,
  type ClassicGroupConfig,
  type ClassicJoinAnswer,
  type ClassicJoinRequest,
  type ClassicMemberIdentity,
  type ClassicOutcome,
  type ClassicReply,
  type ClassicSyncAnswer,
  type ClassicSyncRequest,
  decodeGroupRecord,
  encodeGroupRecord,
  groupStateName,
  type CommitOutcome,
  type GroupCoreConfig,
  type GroupRecord,
  type GroupState,
  type MemberHeartbeatAnswer,
  type MemberHeartbeat,
  type OffsetCommit,
  type TopicsView,
} from './group/index.ts';

/** Kafka's internal topic (docs/api.md "Consumer groups"). */
export const offsetsTopic = '__consumer_offsets';

export interface GroupCoordinatorConfig {
  /** offsets.topic.num.partitions: fixed once the topic exists. */
  readonly offsetsTopicPartitions: number;
  /** offsets.topic.replication.factor: RF = min(this, alive nodes). */
  readonly offsetsTopicReplicationFactor: number;
  readonly tickIntervalMs: number;
  /** acks=all wait of one append to __consumer_offsets. */
  readonly appendTimeoutMs: number;
  /** Bytes one replay read asks for. */
  readonly loadReadBytes: number;
  readonly core: GroupCoreConfig;
  /** The classic protocol's settings (Kafka clients' JoinGroup/SyncGroup). */
  readonly classic: ClassicGroupConfig;
}

export const defaultGroupCoordinatorConfig: GroupCoordinatorConfig = {
  offsetsTopicPartitions: 12,
  offsetsTopicReplicationFactor: 3,
  tickIntervalMs: 250,
  appendTimeoutMs: 10_000,
  loadReadBytes: 1024 * 1024,
  core: {
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    rebalanceTimeoutMsDefault: 30_000,
    rebalanceTimeoutMsMax: 300_000,
    groupsPerCoordinatorMax: 1_000,
    groupMembersMax: 100,
    subscriptionTopicsMax: 1_000,
    offsetMetadataMax: 4_096,
  },
  classic: defaultClassicGroupConfig,
};

export interface GroupCoordinatorDeps {
  readonly broker: Broker;
  readonly clock: Clock;
  readonly wallClock: WallClock;
  readonly random: Random;
  readonly logger: BrokerLogger;
  /** The bytes of a fetch's slices (the API's slice reader: the broker does no file I/O). */
  readonly readBytes: (read: LogReadResult) => Promise<Uint8Array>;
  /** The group's __consumer_offsets partition: src/api/murmur2.ts coordinatorPartition. */
  readonly partitionFor: (group: string, partitionCount: number) => number;
}

/** Where a group's coordinator is. */
export interface CoordinatorLocation {
  readonly partition: number;
  readonly id: number;
  readonly url: string;
}

interface ClassicWaiter {
  readonly partition: number;
  readonly settle: (reply: ClassicReply | Error) => void;
}

type PartitionLoad =
  | { readonly kind: 'loading'; readonly leaderEpoch: number }
  | { readonly kind: 'loaded'; readonly leaderEpoch: number };

export class GroupCoordinator {
  readonly #config: GroupCoordinatorConfig;
  readonly #deps: GroupCoordinatorDeps;
  readonly #core: GroupCoordinatorCore;
  readonly #classic: ClassicGroupCore;
  /** Classic JoinGroup/SyncGroup requests waiting, by token: bounded by the core (at most one
   *  join and one sync per member, members bounded by groupMembersMax). */
  readonly #waiters = new Map<number, ClassicWaiter>();
  #nextToken = 1;
  readonly #loads = new Map<number, PartitionLoad>();
  /** Per partition: the tail of its append chain and the generation (bumped on unload). */
  readonly #chains = new Map<number, Promise<void>>();
  readonly #generations = new Map<number, number>();
  #creating: Promise<void> | null = null;
  #cancelTick: (() => void) | null = null;
  #offMetadata: (() => void) | null = null;
  #topicsFingerprint = '';
  #stopped = false;

  constructor(config: GroupCoordinatorConfig, deps: GroupCoordinatorDeps) {
    assert(config.offsetsTopicPartitions >= 1, 'offsetsTopicPartitions must be ≥ 1');
    this.#config = config;
    this.#deps = deps;
    this.#core = new GroupCoordinatorCore(config.core, deps.random);
    this.#classic = new ClassicGroupCore(config.classic, deps.random, this.#core);
  }

  get config(): GroupCoordinatorConfig {
    return this.#config;
  }

  /**
   * Ticks every tickIntervalMs once __consumer_offsets exists. Before that there is nothing to
   * load or expire, so an idle cluster without groups does not wake for it (issue 7): the first
   * metadata change that creates the topic arms the loop.
   */
  start(): void {
    this.#offMetadata = this.#deps.broker.onMetadataChange(() => this.#armTick());
    this.#armTick();
  }

  stop(): void {
    this.#stopped = true;
    this.#offMetadata?.();
    this.#cancelTick?.();
    this.#cancelTick = null;
  }

  #armTick(): void {
    if (this.#stopped || this.#cancelTick !== null) return;
    if (!this.#deps.broker.hasTopic(offsetsTopic)) return;
    this.#cancelTick = this.#deps.clock.schedule(this.#config.tickIntervalMs, () => {
      this.#cancelTick = null;
      if (this.#stopped) return;
      this.#tick();
      this.#armTick();
    });
  }

  /**
   * The coordinator of `group`; creates __consumer_offsets on first use.
   * Codes: COORDINATOR_NOT_AVAILABLE (being created, or no leader).
   */
  locate(group: string): CoordinatorLocation {
    const topic = this.#offsetsTopicOrCreate();
    const partition = this.#deps.partitionFor(group, topic.partitions.length);
    const leader = topic.partitions[partition]?.leader ?? null;
    const url = this.#deps.broker.describeCluster().brokers.find((b) => b.id === leader)?.url;
    if (leader === null || url === undefined) {
      throw new GroupError(
        'COORDINATOR_NOT_AVAILABLE',
        `${offsetsTopic}-${partition} has no leader`,
      );
    }
    return { partition, id: leader, url };
  }

  /** True when this node is the loaded coordinator of `group` (admin routes forward otherwise). */
  isLocal(group: string): boolean {
    try {
      this.#requireLoaded(group);
      return true;
    } catch {
      return false; // Any reason: the caller asks the coordinator it locates instead.
    }
  }

  /** Codes: as docs/api.md "Membership", plus NOT_COORDINATOR and the coordinator codes. */
  async heartbeat(group: string, request: MemberHeartbeat): Promise<MemberHeartbeatAnswer> {
    const partition = this.#requireLoaded(group);
    const { answer, records } = this.#core.heartbeat(
      group,
      partition,
      request,
      this.#deps.clock.nowMs(),
      this.#topicsView(),
    );
    await this.#append(partition, records);
    return answer;
  }

  /** Codes: UNKNOWN_MEMBER_ID, STALE/FENCED_MEMBER_EPOCH, NON_EMPTY_GROUP, coordinator codes. */
  async commitOffsets(
    group: string,
    request: { memberId: string; memberEpoch: number; offsets: readonly OffsetCommit[] },
  ): Promise<CommitOutcome[]> {
    const partition = this.#requireLoaded(group);
    const { answer, records } = this.#core.commitOffsets(
      group,
      partition,
      request,
      this.#deps.wallClock.wallMs(),
      this.#topicsView(),
    );
    await this.#append(partition, records);
    return answer;
  }

  /**
   * Classic JoinGroup: resolves when the join phase ends. Codes: as ClassicGroupCore.join
   * (MEMBER_ID_REQUIRED with details.memberId), REBALANCE_IN_PROGRESS, coordinator codes.
   */
  async joinGroup(group: string, request: ClassicJoinRequest): Promise<ClassicJoinAnswer> {
    const partition = this.#requireLoaded(group);
    const now = this.#deps.clock.nowMs();
    const reply = await this.#classicCall(partition, (token) =>
      this.#classic.join(group, partition, request, token, now),
    );
    if (reply.kind !== 'join') throw new GroupError('UNKNOWN_MEMBER_ID', 'not a join answer');
    return reply.answer;
  }

  /** Classic SyncGroup: resolves with the member's assignment once the leader sent it. */
  async syncGroup(group: string, request: ClassicSyncRequest): Promise<ClassicSyncAnswer> {
    const partition = this.#requireLoaded(group);
    const now = this.#deps.clock.nowMs();
    const reply = await this.#classicCall(partition, (token) =>
      this.#classic.sync(group, request, token, now),
    );
    if (reply.kind !== 'sync') throw new GroupError('UNKNOWN_MEMBER_ID', 'not a sync answer');
    return reply.answer;
  }

  /** Classic Heartbeat. Codes: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID. */
  classicHeartbeat(
    group: string,
    who: ClassicMemberIdentity,
    generationId: number,
  ): 'NONE' | 'REBALANCE_IN_PROGRESS' {
    this.#requireLoaded(group);
    return this.#classic.heartbeat(group, who, generationId, this.#deps.clock.nowMs());
  }

  /** Classic LeaveGroup: per member, null or its code. Codes: coordinator codes. */
  async leaveGroup(
    group: string,
    members: readonly ClassicMemberIdentity[],
  ): Promise<(GroupError | null)[]> {
    const partition = this.#requireLoaded(group);
    const outcome = this.#classic.leave(group, members, this.#deps.clock.nowMs());
    await this.#deliver(partition, outcome);
    return outcome.answer;
  }

  /**
   * Kafka OffsetCommit: fenced by the classic generation, or by the member epoch in a group of
   * Rill's protocol. Codes: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS,
   * FENCED_INSTANCE_ID, STALE/FENCED_MEMBER_EPOCH, coordinator codes.
   */
  async commitClassic(
    group: string,
    who: ClassicMemberIdentity,
    generationId: number,
    offsets: readonly OffsetCommit[],
  ): Promise<CommitOutcome[]> {
    const partition = this.#requireLoaded(group);
    const state = this.#core.group(group);
    if (state !== undefined && state.protocol === 'consumer' && state.members.size > 0) {
      return this.commitOffsets(group, {
        memberId: who.memberId,
        memberEpoch: generationId,
        offsets,
      });
    }
    this.#classic.checkCommit(group, who, generationId);
    const { answer, records } = this.#core.commitChecked(
      group,
      partition,
      offsets,
      this.#deps.wallClock.wallMs(),
      this.#topicsView(),
    );
    await this.#append(partition, records);
    return answer;
  }

  /** Runs a classic step with a new token and waits for that token's reply. */
  async #classicCall(
    partition: number,
    step: (token: number) => ClassicOutcome,
  ): Promise<ClassicReply> {
    const token = this.#nextToken;
    this.#nextToken += 1;
    const reply = new Promise<ClassicReply>((resolve, reject) => {
      this.#waiters.set(token, {
        partition,
        settle: (r) => (r instanceof Error ? reject(r) : resolve(r)),
      });
    });
    let outcome: ClassicOutcome;
    try {
      outcome = step(token);
    } catch (error) {
      this.#waiters.delete(token);
      throw error;
    }
    try {
      await this.#deliver(partition, outcome);
    } catch (error) {
      this.#settle(token, error instanceof Error ? error : new Error(String(error)));
    }
    const answer = await reply;
    if (answer.kind === 'error') throw answer.error;
    return answer;
  }

  /** Appends the step's records, then settles its replies (or fails them with the reason). */
  async #deliver(partition: number, outcome: ClassicOutcome): Promise<void> {
    try {
      await this.#append(partition, outcome.records);
    } catch (error) {
      const reason = error instanceof Error ? error : new Error(String(error));
      for (const reply of outcome.replies) this.#settle(reply.token, reason);
      throw error;
    }
    for (const reply of outcome.replies) this.#settle(reply.token, reply);
  }

  #settle(token: number, reply: ClassicReply | Error): void {
    const waiter = this.#waiters.get(token);
    if (waiter === undefined) return; // Settled already (its partition was unloaded).
    this.#waiters.delete(token);
    waiter.settle(reply);
  }

  /** The group's committed offsets by `topic:partition` (none for an unknown group). */
  committedOffsets(group: string): Map<string, { offset: number; metadata: string }> {
    this.#requireLoaded(group);
    return new Map(this.#core.group(group)?.offsets ?? []);
  }

  /** The group's state here, or GROUP_ID_NOT_FOUND. Codes: coordinator codes. */
  describe(group: string): { state: GroupState; topics: TopicsView; stateName: string } {
    this.#requireLoaded(group);
    const state = this.#core.group(group);
    if (state === undefined) throw new GroupError('GROUP_ID_NOT_FOUND', `no group ${group}`);
    return { state, topics: this.#topicsView(), stateName: this.#core.stateOf(group) };
  }

  /** Every group of the partitions this node coordinates (loaded ones). */
  localGroups(): {
    group: string;
    state: string;
    members: number;
    protocol: GroupState['protocol'];
    /** Kafka's protocol type: the classic group's, "consumer" for Rill's protocol. */
    protocolType: string;
    /** Kafka's state name for ListGroups/DescribeGroups. */
    kafkaState: string;
  }[] {
    return [...this.#core.groups()]
      .filter((g) => this.#loads.get(g.offsetsPartition)?.kind === 'loaded')
      .map((g) => ({
        group: g.groupId,
        state: this.#core.stateOf(g.groupId),
        members: g.members.size + (g.classic?.members.size ?? 0),
        protocol: g.protocol,
        protocolType: g.classic?.protocolType ?? 'consumer',
        kafkaState: kafkaStateOf(g),
      }));
  }

  /** Codes: GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, coordinator codes. */
  async deleteGroup(group: string): Promise<void> {
    const partition = this.#requireLoaded(group);
    await this.#append(partition, this.#core.deleteGroup(group));
  }

  /** User topics and partition counts (no internal ones). */
  #topicsView(): TopicsView {
    const counts = new Map<string, number>();
    for (const topic of this.#deps.broker.listTopics()) {
      if (!topic.name.startsWith('__')) counts.set(topic.name, topic.partitions);
    }
    const names = [...counts.keys()];
    return { partitionCount: (t) => counts.get(t) ?? null, topicNames: () => names };
  }

  #offsetsTopic(): TopicDescription | null {
    try {
      return this.#deps.broker.describeTopic(offsetsTopic);
    } catch (error) {
      if (isBrokerError(error) && error.code === 'UNKNOWN_TOPIC_OR_PARTITION') return null;
      throw error;
    }
  }

  #offsetsTopicOrCreate(): TopicDescription {
    const topic = this.#offsetsTopic();
    if (topic !== null) return topic;
    if (this.#creating === null) {
      this.#creating = this.#createOffsetsTopic().finally(() => {
        this.#creating = null;
      });
    }
    throw new GroupError('COORDINATOR_NOT_AVAILABLE', `${offsetsTopic} is being created`);
  }

  async #createOffsetsTopic(): Promise<void> {
    const { broker, logger } = this.#deps;
    const alive = broker.describeCluster().brokers.filter((b) => b.status === 'alive').length;
    const replicationFactor = Math.max(
      1,
      Math.min(this.#config.offsetsTopicReplicationFactor, alive),
    );
    try {
      await broker.createTopic({
        name: offsetsTopic,
        partitions: this.#config.offsetsTopicPartitions,
        replicationFactor,
        configs: {
          'cleanup.policy': 'compact',
          'min.insync.replicas': String(Math.min(2, replicationFactor)),
        },
      });
      logger.info({ replicationFactor }, `created ${offsetsTopic}`);
    } catch (error) {
      // TOPIC_ALREADY_EXISTS (another node won) or a transient failure: the next use retries.
      logger.debug({ err: error }, `${offsetsTopic} not created by this node`);
    }
  }

  /** The group's partition if this node leads it and has loaded it; else the code to answer. */
  #requireLoaded(group: string): number {
    const topic = this.#offsetsTopicOrCreate();
    const partition = this.#deps.partitionFor(group, topic.partitions.length);
    const description = topic.partitions[partition];
    assert(description !== undefined, 'a partition of the topic');
    if (description.leader !== this.#deps.broker.nodeId) {
      const url = this.#deps.broker
        .describeCluster()
        .brokers.find((b) => b.id === description.leader)?.url;
      if (description.leader === null || url === undefined) {
        throw new GroupError(
          'COORDINATOR_NOT_AVAILABLE',
          `${offsetsTopic}-${partition} has no leader`,
        );
      }
      throw new GroupError('NOT_COORDINATOR', `node ${description.leader} coordinates ${group}`, {
        coordinator: { id: description.leader, url },
      });
    }
    const load = this.#loads.get(partition);
    if (load?.kind === 'loaded' && load.leaderEpoch === description.leaderEpoch) return partition;
    this.#maybeLoad(partition, description.leaderEpoch, description.offsetsSource === 'leader');
    throw new GroupError(
      'COORDINATOR_LOAD_IN_PROGRESS',
      `loading the groups of ${offsetsTopic}-${partition}`,
    );
  }

  #maybeLoad(partition: number, leaderEpoch: number, replicaReady: boolean): void {
    const load = this.#loads.get(partition);
    if (load !== undefined && load.leaderEpoch === leaderEpoch) return;
    this.#unload(partition);
    if (!replicaReady) return;
    this.#loads.set(partition, { kind: 'loading', leaderEpoch });
    const generation = this.#generation(partition);
    this.#load(partition, leaderEpoch, generation).catch((error: unknown) => {
      this.#deps.logger.debug({ err: error, partition }, 'group load failed; retrying');
      if (this.#generation(partition) === generation) this.#unload(partition);
    });
  }

  /** Replays the partition up to its HW (settled: a new leader's HW covers its log). */
  async #load(partition: number, leaderEpoch: number, generation: number): Promise<void> {
    const { broker } = this.#deps;
    const { logStartOffset, highWatermark } = broker.listOffsets(offsetsTopic, partition);
    // Records between the HW and the log end (an append whose acks=all wait failed) may still
    // commit: replay only once the HW covers the whole log, so none is missed.
    const row = broker
      .partitionStats()
      .leaders.find((r) => r.topic === offsetsTopic && r.partition === partition);
    if (row !== undefined && row.logEndOffset > highWatermark) {
      throw new GroupError('COORDINATOR_LOAD_IN_PROGRESS', 'waiting for the HW to reach the end');
    }
    let offset = logStartOffset;
    let records = 0;
    while (offset < highWatermark) {
      const fetched = await broker.fetch({
        topic: offsetsTopic,
        partition,
        offset,
        maxBytes: this.#config.loadReadBytes,
        maxWaitMs: 0,
      });
      let bytes: Uint8Array;
      try {
        bytes = await this.#deps.readBytes(fetched.read);
      } finally {
        fetched.read.release();
      }
      if (this.#generation(partition) !== generation) return;
      for (const batch of await decodeBatches(bytes)) {
        for (const stored of batch.records) {
          if (stored.offset < offset || stored.offset >= highWatermark) continue;
          const record = decodeGroupRecord(stored.key, stored.value);
          if (record !== null) this.#core.replay(partition, record);
          records += 1;
        }
      }
      if (fetched.read.nextOffset <= offset) break;
      offset = fetched.read.nextOffset;
    }
    if (this.#generation(partition) !== generation) return;
    this.#core.finishLoad(partition, this.#deps.clock.nowMs());
    this.#classic.finishLoad(partition, this.#deps.clock.nowMs());
    this.#loads.set(partition, { kind: 'loaded', leaderEpoch });
    this.#deps.logger.info({ partition, records, highWatermark }, 'groups loaded');
  }

  #generation(partition: number): number {
    return this.#generations.get(partition) ?? 0;
  }

  #unload(partition: number): void {
    if (!this.#loads.has(partition)) return;
    this.#loads.delete(partition);
    this.#generations.set(partition, this.#generation(partition) + 1);
    const reason = new GroupError('NOT_COORDINATOR', `this node stopped coordinating ${partition}`);
    for (const token of this.#classic.parkedTokens(partition)) this.#settle(token, reason);
    for (const [token, waiter] of [...this.#waiters]) {
      if (waiter.partition === partition) this.#settle(token, reason);
    }
    this.#core.unload(partition);
  }

  /** Appends in emission order; a failure drops the partition's groups (they reload). */
  async #append(partition: number, records: readonly GroupRecord[]): Promise<void> {
    if (records.length === 0) return;
    const generation = this.#generation(partition);
    const previous = this.#chains.get(partition) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (this.#generation(partition) !== generation) {
        throw new GroupError('COORDINATOR_NOT_AVAILABLE', 'the coordinator is reloading');
      }
      try {
        await this.#produce(partition, records);
      } catch (error) {
        if (this.#generation(partition) === generation) this.#unload(partition);
        throw toCoordinatorError(error);
      }
    });
    const tail = next.catch(() => undefined);
    this.#chains.set(partition, tail);
    try {
      await next;
    } finally {
      if (this.#chains.get(partition) === tail) this.#chains.delete(partition);
    }
  }

  async #produce(partition: number, records: readonly GroupRecord[]): Promise<void> {
    const timestampMs = this.#deps.wallClock.wallMs();
    const batch = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      compression: 'none',
      records: records.map((record) => ({
        ...encodeGroupRecord(record),
        headers: [],
        timestampMs,
      })),
    });
    await this.#deps.broker.produce({
      topic: offsetsTopic,
      partition,
      batches: batch,
      acks: 'all',
      timeoutMs: this.#config.appendTimeoutMs,
    });
  }

  #tick(): void {
    try {
      this.#tickOnce();
    } catch (error) {
      // A timer must not throw: the next tick tries again (the core is unchanged by a throw).
      this.#deps.logger.warn({ err: error }, 'group coordinator tick failed');
    }
  }

  #tickOnce(): void {
    const topic = this.#offsetsTopic();
    if (topic === null || !this.#deps.broker.isReady()) return;
    const self = this.#deps.broker.nodeId;
    for (const p of topic.partitions) {
      if (p.leader === self)
        this.#maybeLoad(p.partition, p.leaderEpoch, p.offsetsSource === 'leader');
      else this.#unload(p.partition);
    }
    const view = this.#topicsView();
    const fingerprint = view
      .topicNames()
      .map((t) => `${t}=${view.partitionCount(t)}`)
      .join(',');
    const changed = fingerprint !== this.#topicsFingerprint;
    this.#topicsFingerprint = fingerprint;
    const records = this.#core.tick(this.#deps.clock.nowMs(), view, changed);
    const classic = this.#classic.tick(this.#deps.clock.nowMs());
    const byPartition = new Map<number, { records: GroupRecord[]; replies: ClassicReply[] }>();
    const entry = (partition: number) => {
      const found = byPartition.get(partition) ?? { records: [], replies: [] };
      byPartition.set(partition, found);
      return found;
    };
    for (const record of [...records, ...classic.records]) {
      entry(this.#deps.partitionFor(record.group, topic.partitions.length)).records.push(record);
    }
    for (const reply of classic.replies) {
      const waiter = this.#waiters.get(reply.token);
      if (waiter !== undefined) entry(waiter.partition).replies.push(reply);
    }
    for (const [partition, outcome] of byPartition) {
      this.#deliver(partition, outcome).catch((error: unknown) => {
        // The partition's groups were dropped and reload from the log: nothing is lost.
        this.#deps.logger.info({ err: error, partition }, 'group tick append failed');
      });
    }
  }
}

function kafkaStateOf(group: GroupState): string {
  if (group.classic !== null) return group.classic.state;
  const name = groupStateName(group);
  return name === 'empty' ? 'Empty' : name === 'stable' ? 'Stable' : 'Reconciling';
}

function toCoordinatorError(error: unknown): unknown {
  if (error instanceof GroupError) return error;
  if (isBrokerError(error) && error.code === 'NOT_LEADER_OR_FOLLOWER') {
    return new GroupError('NOT_COORDINATOR', "this node no longer leads the group's partition");
  }
  if (error instanceof BrokerError) {
    return new GroupError(
      'COORDINATOR_NOT_AVAILABLE',
      `appending to ${offsetsTopic} failed: ${error.code}`,
    );
  }
  return error;
}
