// The coordinator's in-memory view of one group and its members, and the limits every group
// obeys. Invariant (checked by GroupCoordinatorCore.checkInvariants): across the members of a
// group, the `granted` sets are disjoint — a partition has at most one owner at any time.
import type { AssignorName } from './assignor.ts';
import type { ClassicGroup } from './classic-group-state.ts';
import type { GroupProtocol, OffsetValue } from './group-records.ts';

export interface GroupLimits {
  /** Groups one coordinator (node) holds; a new one beyond answers BROKER_BUSY. */
  readonly groupsPerCoordinatorMax: number;
  /** Members of one group; a join beyond answers GROUP_MAX_SIZE_REACHED. */
  readonly groupMembersMax: number;
  /** Topic names in one subscription; more answer INVALID_REQUEST. */
  readonly subscriptionTopicsMax: number;
  /** Bytes of one committed offset's metadata; more answer OFFSET_METADATA_TOO_LARGE. */
  readonly offsetMetadataMax: number;
}

export interface GroupTimings {
  /** group.consumer.session.timeout.ms: a silent member is removed after this. */
  readonly sessionTimeoutMs: number;
  /** group.consumer.heartbeat.interval.ms, told to every member. */
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMsDefault: number;
  readonly rebalanceTimeoutMsMax: number;
}

export interface MemberState {
  readonly memberId: string;
  instanceId: string | null;
  clientHost: string | null;
  subscribedTopics: readonly string[] | null;
  subscribedTopicRegex: string | null;
  /** Compiled from subscribedTopicRegex (regex-subscription.ts). */
  regex: RegExp | null;
  rebalanceTimeoutMs: number;
  memberEpoch: number;
  previousMemberEpoch: number;
  /** Its share of the target assignment (partition keys). */
  target: Set<string>;
  /** What it may own now: target partitions given to it, plus revoked ones not yet released. */
  granted: Set<string>;
  lastHeartbeatMs: number;
  /** Since when it holds a revoked partition (null: none); past rebalanceTimeoutMs it goes. */
  revokingSinceMs: number | null;
  leftStatic: boolean;
  /** The member record last appended (JSON), to append only changes. */
  persisted: string | null;
}

export interface GroupState {
  readonly groupId: string;
  /** The __consumer_offsets partition that holds it. */
  readonly offsetsPartition: number;
  protocol: GroupProtocol;
  groupEpoch: number;
  assignor: AssignorName;
  readonly members: Map<string, MemberState>;
  /** Committed offsets by partition key; bounded by the cluster's partitions (commits of
   *  unknown partitions are refused). */
  readonly offsets: Map<string, OffsetValue>;
  /** The classic protocol's members and generation (classic-group-core.ts); null for a
   *  consumer-protocol group. A group with classic members has no consumer members. */
  classic: ClassicGroup | null;
  /** Topics and partition counts the target was computed from (in memory only). */
  topicsSignature: string;
  /** The group record last appended (JSON). */
  persisted: string | null;
}

export function newGroup(groupId: string, offsetsPartition: number): GroupState {
  return {
    groupId,
    offsetsPartition,
    protocol: 'consumer',
    groupEpoch: 0,
    assignor: 'uniform',
    members: new Map(),
    offsets: new Map(),
    classic: null,
    topicsSignature: '',
    persisted: null,
  };
}

export type GroupStateName = 'empty' | 'stable' | 'reconciling' | 'dead';

export function groupStateName(group: GroupState): GroupStateName {
  if (group.classic !== null) {
    const state = group.classic.state;
    return state === 'Empty' ? 'empty' : state === 'Stable' ? 'stable' : 'reconciling';
  }
  if (group.members.size === 0) return 'empty';
  for (const member of group.members.values()) {
    if (member.granted.size !== member.target.size) return 'reconciling';
    for (const key of member.target) if (!member.granted.has(key)) return 'reconciling';
  }
  return 'stable';
}
