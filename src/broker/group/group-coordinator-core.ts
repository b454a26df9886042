// The group coordinator's decisions, pure (KIP-848's consumer protocol, server-side assignment):
// heartbeats, commits, admin changes, replayed records, metadata changes and `nowMs` come in;
// answers and the GroupRecords to append to __consumer_offsets (before answering) come out.
// Incremental rebalancing: a partition leaves its old owner's answer at once, but joins the new
// owner's only when the old owner's heartbeat no longer lists it or the old owner is gone, so
// the members' `granted` sets stay disjoint. Groups carry a protocol type: the classic protocol
// (classic-group-core.ts) keeps its members on the same GroupState; a group uses one at a time.
import { assert, type Random, randomId } from '../../common/index.ts';
import { assign, type AssignorName } from './assignor.ts';
import { classicFromValue } from './classic-group-state.ts';
import { GroupError } from './group-errors.ts';
import type { GroupProtocol, GroupRecord, MemberValue, OffsetValue } from './group-records.ts';
import {
  groupStateName,
  newGroup,
  type GroupLimits,
  type GroupState,
  type GroupTimings,
  type MemberState,
} from './group-state.ts';
import { compileSubscriptionRegex } from './regex-subscription.ts';
import {
  fromTopicPartitions,
  partitionKey,
  sameKeys,
  toTopicPartitions,
  type TopicPartitions,
} from './topic-partitions.ts';

/** What the core reads of the cluster's metadata (user topics only, no `__` names). */
export interface TopicsView {
  partitionCount(topic: string): number | null;
  topicNames(): readonly string[];
}

export interface GroupCoreConfig extends GroupLimits, GroupTimings {}

export interface MemberHeartbeat {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly instanceId?: string | undefined;
  readonly rebalanceTimeoutMs?: number | undefined;
  readonly subscribedTopics?: readonly string[] | undefined;
  readonly subscribedTopicRegex?: string | undefined;
  readonly assignor?: AssignorName | undefined;
  readonly ownedPartitions?: readonly TopicPartitions[] | undefined;
  readonly clientHost?: string | undefined;
}

export interface MemberHeartbeatAnswer {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs?: number;
  readonly assignment?: readonly TopicPartitions[];
}

export interface OffsetCommit {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata?: string | undefined;
}

export interface CommitOutcome {
  readonly topic: string;
  readonly partition: number;
  readonly error?: {
    readonly code: 'OFFSET_METADATA_TOO_LARGE' | 'UNKNOWN_TOPIC_OR_PARTITION';
    readonly message: string;
  };
}

/** Answer plus the records to append first. */
export interface Outcome<T> {
  readonly answer: T;
  readonly records: readonly GroupRecord[];
}

export class GroupCoordinatorCore {
  readonly #config: GroupCoreConfig;
  readonly #random: Random;
  readonly #groups = new Map<string, GroupState>();

  constructor(config: GroupCoreConfig, random: Random) {
    assert(config.sessionTimeoutMs > 0, 'sessionTimeoutMs must be positive');
    assert(config.heartbeatIntervalMs > 0, 'heartbeatIntervalMs must be positive');
    this.#config = config;
    this.#random = random;
  }

  get config(): GroupCoreConfig {
    return this.#config;
  }

  group(groupId: string): GroupState | undefined {
    return this.#groups.get(groupId);
  }

  groups(): IterableIterator<GroupState> {
    return this.#groups.values();
  }

  /** POST /v1/groups/{group}/heartbeat. Throws GroupError (docs/api.md lists the codes). */
  heartbeat(
    groupId: string,
    offsetsPartition: number,
    request: MemberHeartbeat,
    nowMs: number,
    topics: TopicsView,
  ): Outcome<MemberHeartbeatAnswer> {
    const regex = this.#checkSubscription(request);
    const records: GroupRecord[] = [];
    if (request.memberEpoch !== 0 && !this.#groups.has(groupId)) {
      throw new GroupError('UNKNOWN_MEMBER_ID', `group ${groupId} has no members: rejoin`);
    }
    // Nothing below throws after changing state, except as the first step of each path.
    const group = this.#groupForHeartbeat(groupId, offsetsPartition, records);
    if (request.memberEpoch === -1 || request.memberEpoch === -2) {
      const answer = this.#leave(group, request, nowMs, topics, records);
      return { answer, records };
    }
    let member: MemberState;
    let dirty: boolean;
    if (request.memberEpoch === 0) {
      ({ member, dirty } = this.#join(group, request, regex, nowMs, records));
    } else {
      member = this.#knownMember(group, request.memberId);
      if (
        request.memberEpoch !== member.memberEpoch &&
        request.memberEpoch !== member.previousMemberEpoch
      ) {
        throw new GroupError(
          'FENCED_MEMBER_EPOCH',
          `epoch ${request.memberEpoch} of ${member.memberId} is not ${member.memberEpoch}`,
          { memberEpoch: member.memberEpoch },
        );
      }
      dirty = this.#updateSubscription(group, member, request, regex);
    }
    member.lastHeartbeatMs = nowMs;
    if (request.clientHost !== undefined) member.clientHost = request.clientHost;
    // Metadata changes reach the target through tick(); a heartbeat only brings its own.
    if (dirty) this.#maybeRebalance(group, topics, true, records);
    const owned =
      request.memberEpoch === 0 || request.ownedPartitions === undefined
        ? null
        : fromTopicPartitions(request.ownedPartitions);
    this.#reconcile(group, member, owned, nowMs, records);
    this.#persistGroup(group, records);
    return { answer: this.#answer(member), records };
  }

  #checkSubscription(request: MemberHeartbeat): RegExp | null {
    const { subscribedTopics: names, subscribedTopicRegex: source } = request;
    if (request.memberEpoch === 0 && (names === undefined) === (source === undefined)) {
      throw new GroupError(
        'INVALID_REQUEST',
        'a join names exactly one of subscribedTopics and subscribedTopicRegex',
      );
    }
    if (names !== undefined && source !== undefined) {
      throw new GroupError(
        'INVALID_REQUEST',
        'name at most one of subscribedTopics and subscribedTopicRegex',
      );
    }
    if (names !== undefined && names.length > this.#config.subscriptionTopicsMax) {
      throw new GroupError(
        'INVALID_REQUEST',
        `a subscription names at most ${this.#config.subscriptionTopicsMax} topics`,
        { limit: 'subscriptionTopicsMax' },
      );
    }
    const rebalance = request.rebalanceTimeoutMs;
    if (
      rebalance !== undefined &&
      (!Number.isSafeInteger(rebalance) ||
        rebalance < 1 ||
        rebalance > this.#config.rebalanceTimeoutMsMax)
    ) {
      throw new GroupError(
        'INVALID_REQUEST',
        `rebalanceTimeoutMs must be 1-${this.#config.rebalanceTimeoutMsMax}`,
      );
    }
    return source === undefined ? null : compileSubscriptionRegex(source);
  }

  #groupForHeartbeat(groupId: string, partition: number, records: GroupRecord[]): GroupState {
    return this.claimGroup(groupId, partition, 'consumer', records);
  }

  /**
   * The group, created if new, of protocol `protocol`: an empty group of the other kind takes
   * this one; a group with members of the other kind answers INCONSISTENT_GROUP_PROTOCOL.
   * Codes: also BROKER_BUSY. (classic-group-core.ts joins through this.)
   */
  claimGroup(
    groupId: string,
    partition: number,
    protocol: GroupProtocol,
    records: GroupRecord[],
  ): GroupState {
    const group = this.#groups.get(groupId) ?? this.#createGroup(groupId, partition, records);
    if (group.protocol === protocol) return group;
    if (!isEmptyGroup(group)) {
      throw new GroupError(
        'INCONSISTENT_GROUP_PROTOCOL',
        `group ${groupId} uses the ${group.protocol} protocol`,
      );
    }
    if (group.classic !== null) {
      group.classic = null;
      records.push({ type: 'classic', group: groupId, value: null });
    }
    group.protocol = protocol;
    this.#persistGroup(group, records);
    return group;
  }

  #createGroup(groupId: string, partition: number, records: GroupRecord[]): GroupState {
    if (this.#groups.size >= this.#config.groupsPerCoordinatorMax) {
      throw new GroupError(
        'BROKER_BUSY',
        `this coordinator holds ${this.#config.groupsPerCoordinatorMax} groups`,
        { limit: 'groupsPerCoordinatorMax' },
      );
    }
    const group = newGroup(groupId, partition);
    this.#groups.set(groupId, group);
    this.#persistGroup(group, records);
    return group;
  }

  #knownMember(group: GroupState, memberId: string): MemberState {
    const member = group.members.get(memberId);
    if (member === undefined) {
      throw new GroupError(
        'UNKNOWN_MEMBER_ID',
        `member ${JSON.stringify(memberId)} is not in group ${group.groupId}: rejoin`,
      );
    }
    return member;
  }

  #join(
    group: GroupState,
    request: MemberHeartbeat,
    regex: RegExp | null,
    nowMs: number,
    records: GroupRecord[],
  ): { member: MemberState; dirty: boolean } {
    const rejoining = group.members.get(request.memberId);
    const instanceId = request.instanceId ?? null;
    const previous =
      instanceId === null
        ? undefined
        : this.#staticHolder(group, instanceId, request.memberId, nowMs);
    const others = group.members.size - (rejoining === undefined ? 0 : 1);
    if (previous === undefined && others >= this.#config.groupMembersMax) {
      throw new GroupError(
        'GROUP_MAX_SIZE_REACHED',
        `group ${group.groupId} has ${this.#config.groupMembersMax} members`,
        { limit: 'groupMembersMax' },
      );
    }
    if (rejoining !== undefined && rejoining !== previous) {
      this.#removeMember(group, rejoining, records);
    }
    const memberId = rejoining?.memberId ?? this.#newMemberId(group);
    const member: MemberState = {
      memberId,
      instanceId,
      clientHost: request.clientHost ?? null,
      subscribedTopics: request.subscribedTopics ?? null,
      subscribedTopicRegex: request.subscribedTopicRegex ?? null,
      regex,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs ?? this.#config.rebalanceTimeoutMsDefault,
      memberEpoch: 1,
      previousMemberEpoch: 0,
      target: new Set(),
      granted: new Set(),
      lastHeartbeatMs: nowMs,
      revokingSinceMs: null,
      leftStatic: false,
      persisted: null,
    };
    if (previous !== undefined) {
      // Static membership: the new incarnation takes the old one's place and assignment.
      member.memberEpoch = previous.memberEpoch + 1;
      member.previousMemberEpoch = previous.memberEpoch;
      member.target = previous.target;
      member.granted = previous.granted;
      this.#dropMember(group, previous, records);
    }
    group.members.set(memberId, member);
    if (request.assignor !== undefined && request.assignor !== group.assignor) {
      group.assignor = request.assignor;
    } else if (previous !== undefined && sameSubscription(previous, member)) {
      return { member, dirty: false };
    }
    return { member, dirty: true };
  }

  /** The member holding `instanceId` if it may be replaced; UNRELEASED_INSTANCE_ID if live. */
  #staticHolder(
    group: GroupState,
    instanceId: string,
    memberId: string,
    nowMs: number,
  ): MemberState | undefined {
    for (const member of group.members.values()) {
      if (member.instanceId !== instanceId) continue;
      const silentMs = nowMs - member.lastHeartbeatMs;
      const released = member.leftStatic || member.memberId === memberId;
      if (released || silentMs >= 2 * this.#config.heartbeatIntervalMs) return member;
      throw new GroupError(
        'UNRELEASED_INSTANCE_ID',
        `instanceId ${instanceId} is held by live member ${member.memberId}`,
        { retryAfterMs: 2 * this.#config.heartbeatIntervalMs - silentMs },
      );
    }
    return undefined;
  }

  #newMemberId(group: GroupState): string {
    for (;;) {
      const id = randomId(this.#random);
      if (!group.members.has(id)) return id;
    }
  }

  #updateSubscription(
    group: GroupState,
    member: MemberState,
    request: MemberHeartbeat,
    regex: RegExp | null,
  ): boolean {
    let dirty = false;
    if (request.subscribedTopics !== undefined) {
      const same =
        member.subscribedTopics !== null &&
        sameKeys(new Set(member.subscribedTopics), new Set(request.subscribedTopics));
      dirty ||= !same;
      member.subscribedTopics = request.subscribedTopics;
      member.subscribedTopicRegex = null;
      member.regex = null;
    } else if (request.subscribedTopicRegex !== undefined) {
      dirty ||= member.subscribedTopicRegex !== request.subscribedTopicRegex;
      member.subscribedTopics = null;
      member.subscribedTopicRegex = request.subscribedTopicRegex;
      member.regex = regex;
    }
    if (request.assignor !== undefined && request.assignor !== group.assignor) {
      group.assignor = request.assignor;
      dirty = true;
    }
    if (request.rebalanceTimeoutMs !== undefined) {
      member.rebalanceTimeoutMs = request.rebalanceTimeoutMs;
    }
    member.leftStatic = false;
    return dirty;
  }

  #leave(
    group: GroupState,
    request: MemberHeartbeat,
    nowMs: number,
    topics: TopicsView,
    records: GroupRecord[],
  ): MemberHeartbeatAnswer {
    const member = this.#knownMember(group, request.memberId);
    if (request.memberEpoch === -2) {
      if (member.instanceId === null) {
        throw new GroupError('INVALID_REQUEST', 'memberEpoch -2 is for static members only');
      }
      member.leftStatic = true;
      this.#persistMember(group, member, records);
      return { memberId: member.memberId, memberEpoch: -2 };
    }
    this.#removeMember(group, member, records);
    this.#maybeRebalance(group, topics, true, records);
    this.#afterMembershipLoss(group, nowMs, records);
    return { memberId: member.memberId, memberEpoch: -1 };
  }

  /** Recomputes the target when its input changed; bumps the group epoch then. */
  #maybeRebalance(
    group: GroupState,
    topics: TopicsView,
    dirty: boolean,
    records: GroupRecord[],
  ): void {
    const resolved = new Map<string, Set<string>>();
    for (const member of group.members.values()) {
      resolved.set(member.memberId, resolveTopics(member, topics));
    }
    const signature = topicsSignature(resolved, topics);
    if (!dirty && signature === group.topicsSignature) return;
    group.topicsSignature = signature;
    group.groupEpoch += 1;
    const target = assign(
      group.assignor,
      [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        topics: resolved.get(m.memberId) ?? new Set<string>(),
        previous: m.target,
      })),
      (topic) => topics.partitionCount(topic),
    );
    for (const member of group.members.values()) {
      member.target = target.get(member.memberId) ?? new Set();
      this.#persistMember(group, member, records);
    }
    this.#persistGroup(group, records);
  }

  /**
   * Releases what the member no longer lists among its owned partitions (when revoked), then
   * grants target partitions nobody else holds. The epoch grows when the answer changes.
   */
  #reconcile(
    group: GroupState,
    member: MemberState,
    owned: ReadonlySet<string> | null,
    nowMs: number,
    records: GroupRecord[],
  ): void {
    const before = this.#assignmentOf(member);
    if (owned !== null) {
      for (const key of [...member.granted]) {
        if (!member.target.has(key) && !owned.has(key)) member.granted.delete(key);
      }
    }
    const held = new Set<string>();
    for (const other of group.members.values()) {
      if (other !== member) for (const key of other.granted) held.add(key);
    }
    for (const key of member.target) if (!held.has(key)) member.granted.add(key);
    const revoking = [...member.granted].some((key) => !member.target.has(key));
    if (!revoking) member.revokingSinceMs = null;
    else member.revokingSinceMs ??= nowMs;
    if (!sameKeys(before, this.#assignmentOf(member))) {
      member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch += 1;
    }
    this.#persistMember(group, member, records);
  }

  #assignmentOf(member: MemberState): Set<string> {
    return new Set([...member.granted].filter((key) => member.target.has(key)));
  }

  #answer(member: MemberState): MemberHeartbeatAnswer {
    return {
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.#config.heartbeatIntervalMs,
      assignment: toTopicPartitions(this.#assignmentOf(member)),
    };
  }

  /**
   * Session expiry, members past their rebalance timeout, and metadata changes (partition
   * counts, topics matching a regex). Call on a timer and whenever the topics change.
   */
  tick(nowMs: number, topics: TopicsView, topicsChanged: boolean): GroupRecord[] {
    const records: GroupRecord[] = [];
    for (const group of [...this.#groups.values()]) {
      let lost = false;
      for (const member of [...group.members.values()]) {
        const silent = nowMs - member.lastHeartbeatMs > this.#config.sessionTimeoutMs;
        const stuck =
          member.revokingSinceMs !== null &&
          nowMs - member.revokingSinceMs > member.rebalanceTimeoutMs;
        if (silent || stuck) {
          this.#removeMember(group, member, records);
          lost = true;
        }
      }
      if (lost || topicsChanged || group.topicsSignature === '') {
        this.#maybeRebalance(group, topics, lost, records);
      }
      if (lost) this.#afterMembershipLoss(group, nowMs, records);
    }
    return records;
  }

  /** An empty group without offsets is forgotten (tombstone), so groups do not pile up. */
  #afterMembershipLoss(group: GroupState, _nowMs: number, records: GroupRecord[]): void {
    this.forgetIfEmpty(group, records);
  }

  /** Forgets `group` (tombstones) if it has no members of either kind and no offsets. */
  forgetIfEmpty(group: GroupState, records: GroupRecord[]): void {
    if (!isEmptyGroup(group) || group.offsets.size > 0) return;
    if (this.#groups.get(group.groupId) !== group) return;
    this.#groups.delete(group.groupId);
    if (group.classic !== null)
      records.push({ type: 'classic', group: group.groupId, value: null });
    records.push({ type: 'group', group: group.groupId, value: null });
  }

  #removeMember(group: GroupState, member: MemberState, records: GroupRecord[]): void {
    this.#dropMember(group, member, records);
  }

  #dropMember(group: GroupState, member: MemberState, records: GroupRecord[]): void {
    group.members.delete(member.memberId);
    records.push({ type: 'member', group: group.groupId, memberId: member.memberId, value: null });
  }

  /** POST /v1/groups/{group}/offsets. Whole-request errors throw; others are per partition. */
  commitOffsets(
    groupId: string,
    offsetsPartition: number,
    request: { memberId: string; memberEpoch: number; offsets: readonly OffsetCommit[] },
    nowMs: number,
    topics: TopicsView,
  ): Outcome<CommitOutcome[]> {
    const group = this.#groups.get(groupId);
    if (request.memberId === '' && request.memberEpoch === -1) {
      if (group !== undefined && !isEmptyGroup(group)) {
        throw new GroupError(
          'NON_EMPTY_GROUP',
          `group ${groupId} has members: commit as one of them`,
        );
      }
    } else {
      if (group === undefined) {
        throw new GroupError('UNKNOWN_MEMBER_ID', `group ${groupId} has no members`);
      }
      this.#checkCommitEpoch(this.#knownMember(group, request.memberId), request.memberEpoch);
    }
    return this.commitChecked(groupId, offsetsPartition, request.offsets, nowMs, topics);
  }

  /** A commit whose member the caller has checked (classic-group-core.ts checkCommit). */
  commitChecked(
    groupId: string,
    offsetsPartition: number,
    offsets: readonly OffsetCommit[],
    nowMs: number,
    topics: TopicsView,
  ): Outcome<CommitOutcome[]> {
    const records: GroupRecord[] = [];
    const target =
      this.#groups.get(groupId) ?? this.#createGroup(groupId, offsetsPartition, records);
    const answer = offsets.map((entry) => this.#commitOne(target, entry, nowMs, topics, records));
    this.#afterMembershipLoss(target, nowMs, records);
    return { answer, records };
  }

  /** The current epoch, or the one before while the answer that moved it is in flight. */
  #checkCommitEpoch(member: MemberState, epoch: number): void {
    if (epoch === member.memberEpoch || epoch === member.previousMemberEpoch) return;
    const code = epoch < member.memberEpoch ? 'STALE_MEMBER_EPOCH' : 'FENCED_MEMBER_EPOCH';
    throw new GroupError(code, `commit epoch ${epoch} is not ${member.memberEpoch}`, {
      memberEpoch: member.memberEpoch,
    });
  }

  #commitOne(
    group: GroupState,
    entry: OffsetCommit,
    nowMs: number,
    topics: TopicsView,
    records: GroupRecord[],
  ): CommitOutcome {
    const { topic, partition } = entry;
    const metadata = entry.metadata ?? '';
    if (new TextEncoder().encode(metadata).length > this.#config.offsetMetadataMax) {
      return {
        topic,
        partition,
        error: {
          code: 'OFFSET_METADATA_TOO_LARGE',
          message: `metadata exceeds ${this.#config.offsetMetadataMax} bytes`,
        },
      };
    }
    const count = topics.partitionCount(topic);
    if (count === null || partition >= count) {
      return {
        topic,
        partition,
        error: {
          code: 'UNKNOWN_TOPIC_OR_PARTITION',
          message: `no partition ${topic}-${partition}`,
        },
      };
    }
    const value: OffsetValue = { offset: entry.offset, metadata, commitTimestampMs: nowMs };
    group.offsets.set(partitionKey(topic, partition), value);
    records.push({ type: 'offset', group: group.groupId, topic, partition, value });
    return { topic, partition };
  }

  /** DELETE /v1/groups/{group}: NON_EMPTY_GROUP with members, GROUP_ID_NOT_FOUND unknown. */
  deleteGroup(groupId: string): GroupRecord[] {
    const group = this.#groups.get(groupId);
    if (group === undefined) throw new GroupError('GROUP_ID_NOT_FOUND', `no group ${groupId}`);
    if (!isEmptyGroup(group)) {
      throw new GroupError('NON_EMPTY_GROUP', `group ${groupId} has members`);
    }
    const records: GroupRecord[] = [];
    if (group.classic !== null) records.push({ type: 'classic', group: groupId, value: null });
    for (const key of group.offsets.keys()) {
      const at = key.lastIndexOf(':');
      records.push({
        type: 'offset',
        group: groupId,
        topic: key.slice(0, at),
        partition: Number(key.slice(at + 1)),
        value: null,
      });
    }
    records.push({ type: 'group', group: groupId, value: null });
    this.#groups.delete(groupId);
    return records;
  }

  /** Rebuilds state from one replayed record of `offsetsPartition` (a coordinator load). */
  replay(offsetsPartition: number, record: GroupRecord): void {
    const existing = this.#groups.get(record.group);
    if (record.type === 'group' && record.value === null) {
      this.#groups.delete(record.group);
      return;
    }
    const group = existing ?? newGroup(record.group, offsetsPartition);
    this.#groups.set(record.group, group);
    if (record.type === 'group' && record.value !== null) {
      group.protocol = record.value.protocol;
      group.groupEpoch = record.value.groupEpoch;
      group.assignor = record.value.assignor;
      group.persisted = JSON.stringify(record.value);
    } else if (record.type === 'member') {
      if (record.value === null) group.members.delete(record.memberId);
      else group.members.set(record.memberId, memberFromValue(record.memberId, record.value));
    } else if (record.type === 'classic') {
      group.classic = record.value === null ? null : classicFromValue(record.value);
      if (group.classic !== null) group.classic.persisted = JSON.stringify(record.value);
    } else if (record.type === 'offset') {
      const key = partitionKey(record.topic, record.partition);
      if (record.value === null) group.offsets.delete(key);
      else group.offsets.set(key, record.value);
    }
  }

  /** After a load: sessions restart now; targets are checked against the topics on next tick. */
  finishLoad(offsetsPartition: number, nowMs: number): void {
    for (const group of this.#groups.values()) {
      if (group.offsetsPartition !== offsetsPartition) continue;
      group.topicsSignature = '';
      for (const member of group.members.values()) {
        member.lastHeartbeatMs = nowMs;
        member.revokingSinceMs = null;
      }
    }
  }

  /** Forgets every group of a partition this node no longer leads. */
  unload(offsetsPartition: number): void {
    for (const [id, group] of this.#groups) {
      if (group.offsetsPartition === offsetsPartition) this.#groups.delete(id);
    }
  }

  #persistMember(group: GroupState, member: MemberState, records: GroupRecord[]): void {
    const value = memberValue(member);
    const json = JSON.stringify(value);
    if (json === member.persisted) return;
    member.persisted = json;
    records.push({ type: 'member', group: group.groupId, memberId: member.memberId, value });
  }

  #persistGroup(group: GroupState, records: GroupRecord[]): void {
    if (!this.#groups.has(group.groupId)) return;
    const value = {
      protocol: group.protocol,
      groupEpoch: group.groupEpoch,
      assignor: group.assignor,
    };
    const json = JSON.stringify(value);
    if (json === group.persisted) return;
    group.persisted = json;
    records.push({ type: 'group', group: group.groupId, value });
  }

  /** Every group's granted sets are disjoint; a granted partition was once in its target. */
  checkInvariants(): void {
    for (const group of this.#groups.values()) {
      const seen = new Map<string, string>();
      for (const member of group.members.values()) {
        for (const key of member.granted) {
          const other = seen.get(key);
          assert(
            other === undefined,
            `${group.groupId}: ${key} granted to ${other ?? ''} and ${member.memberId}`,
          );
          seen.set(key, member.memberId);
        }
      }
      assert(group.members.size <= this.#config.groupMembersMax, 'too many members');
    }
    assert(this.#groups.size <= this.#config.groupsPerCoordinatorMax, 'too many groups');
  }

  stateOf(groupId: string): string {
    const group = this.#groups.get(groupId);
    return group === undefined ? 'dead' : groupStateName(group);
  }
}

/** No members of either protocol (classic ids handed out but not yet joined count). */
export function isEmptyGroup(group: GroupState): boolean {
  const classic = group.classic;
  return (
    group.members.size === 0 &&
    (classic === null || (classic.members.size === 0 && classic.pending.size === 0))
  );
}

function sameSubscription(a: MemberState, b: MemberState): boolean {
  if (a.subscribedTopicRegex !== b.subscribedTopicRegex) return false;
  if (a.subscribedTopics === null || b.subscribedTopics === null) {
    return a.subscribedTopics === b.subscribedTopics;
  }
  return sameKeys(new Set(a.subscribedTopics), new Set(b.subscribedTopics));
}

/** The existing topics a member subscribes to (a regex never matches internal topics). */
export function resolveTopics(member: MemberState, topics: TopicsView): Set<string> {
  const resolved = new Set<string>();
  if (member.regex !== null) {
    for (const name of topics.topicNames()) {
      if (!name.startsWith('__') && member.regex.test(name)) resolved.add(name);
    }
  }
  for (const name of member.subscribedTopics ?? []) {
    if (topics.partitionCount(name) !== null) resolved.add(name);
  }
  return resolved;
}

function topicsSignature(resolved: Map<string, Set<string>>, topics: TopicsView): string {
  const all = new Set<string>();
  for (const set of resolved.values()) for (const name of set) all.add(name);
  return [...all]
    .sort()
    .map((name) => `${name}=${topics.partitionCount(name) ?? 0}`)
    .join(',');
}

function memberValue(member: MemberState): MemberValue {
  return {
    instanceId: member.instanceId,
    clientHost: member.clientHost,
    subscribedTopics: member.subscribedTopics,
    subscribedTopicRegex: member.subscribedTopicRegex,
    rebalanceTimeoutMs: member.rebalanceTimeoutMs,
    memberEpoch: member.memberEpoch,
    previousMemberEpoch: member.previousMemberEpoch,
    target: toTopicPartitions(member.target),
    granted: toTopicPartitions(member.granted),
    leftStatic: member.leftStatic,
  };
}

function memberFromValue(memberId: string, value: MemberValue): MemberState {
  let regex: RegExp | null = null;
  if (value.subscribedTopicRegex !== null) {
    try {
      regex = compileSubscriptionRegex(value.subscribedTopicRegex);
    } catch {
      regex = null; // Was accepted when written; a stricter build subscribes it to nothing.
    }
  }
  return {
    memberId,
    instanceId: value.instanceId,
    clientHost: value.clientHost,
    subscribedTopics: value.subscribedTopics,
    subscribedTopicRegex: value.subscribedTopicRegex,
    regex,
    rebalanceTimeoutMs: value.rebalanceTimeoutMs,
    memberEpoch: value.memberEpoch,
    previousMemberEpoch: value.previousMemberEpoch,
    target: fromTopicPartitions(value.target),
    granted: fromTopicPartitions(value.granted),
    lastHeartbeatMs: 0,
    revokingSinceMs: null,
    leftStatic: value.leftStatic,
    persisted: JSON.stringify(value),
  };
}
