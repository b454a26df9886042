// The controller's committed view of one partition (a Raft metadata record) and the small
// vocabulary shared by leader, follower and controller. Invariant: leader === null or
// leader ∈ isr; isr ⊆ replicas; isr is never empty (KIP-966: the last member is remembered).
import { assert, type NodeId } from '../../common/index.ts';

export interface PartitionState {
  /** null: offline, no eligible replica. The ISR then names who must come back. */
  readonly leader: NodeId | null;
  /** Bumped at every leader change; stamped on every batch the leader appends. */
  readonly leaderEpoch: number;
  /** Ordered: replicas[0] is the preferred leader. */
  readonly replicas: readonly NodeId[];
  readonly isr: readonly NodeId[];
  /** Bumped at every change of this record; the compare-and-set version of ISR changes. */
  readonly partitionEpoch: number;
}

/** An ISR change proposed by a leader (Kafka's AlterPartition), applied only once committed. */
export interface IsrChangeRequest {
  readonly leaderId: NodeId;
  readonly leaderEpoch: number;
  /** The partition epoch the proposal is based on: the compare-and-set version. */
  readonly partitionEpoch: number;
  readonly newIsr: readonly NodeId[];
}

export function checkPartitionState(state: PartitionState): void {
  assert(state.isr.length > 0, 'isr is never empty');
  assert(new Set(state.isr).size === state.isr.length, 'isr has duplicates');
  assert(new Set(state.replicas).size === state.replicas.length, 'replicas have duplicates');
  for (const id of state.isr) assert(state.replicas.includes(id), `isr member ${id} not a replica`);
  assert(state.leader === null || state.isr.includes(state.leader), 'leader not in isr');
  assert(Number.isSafeInteger(state.leaderEpoch) && state.leaderEpoch >= 0, 'bad leader epoch');
  assert(Number.isSafeInteger(state.partitionEpoch), 'bad partition epoch');
  assert(state.partitionEpoch >= 0, 'negative partition epoch');
}

/** True when `next` is a later version of the same partition record than `current`. */
export function isNewerState(next: PartitionState, current: PartitionState): boolean {
  if (next.leaderEpoch !== current.leaderEpoch) return next.leaderEpoch > current.leaderEpoch;
  return next.partitionEpoch > current.partitionEpoch;
}

export function sameMembers(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}
