// The controller's pure decisions over one partition record: elect a leader when its node is
// fenced or shuts down, validate a leader's ISR change (partition-epoch compare-and-set), move
// leadership back to the preferred replica, and step a reassignment. Each returns the next
// record to commit through Raft, or says why not; nothing here has side effects.
//
// Last replica standing (KIP-966 style): when the leader's node goes and no other ISR member
// can lead, the partition goes offline (leader null) and the ISR keeps the members it had, so
// only one of them (holding every acknowledged write) may lead it again. Unclean election, when
// enabled, instead picks any live replica and resets the ISR to it, accepting data loss.
import { assert, type NodeId } from '../../common/index.ts';
import type { IsrChangeErrorCode } from './errors.ts';
import {
  checkPartitionState,
  sameMembers,
  type IsrChangeRequest,
  type PartitionState,
} from './partition-state.ts';

export interface ElectionContext {
  /** Registered, unfenced nodes. */
  readonly liveNodes: ReadonlySet<NodeId>;
  /** Replicas that reported themselves not eligible (a CRC-truncated log still catching up). */
  readonly ineligible: ReadonlySet<NodeId>;
  readonly uncleanLeaderElection: boolean; // unclean.leader.election.enable
}

function canLead(id: NodeId, context: ElectionContext): boolean {
  return context.liveNodes.has(id) && !context.ineligible.has(id);
}

/** A new leader epoch: the leader changed (or went away), so the epoch and version move on. */
function withLeader(
  state: PartitionState,
  leader: NodeId | null,
  isr: readonly NodeId[],
): PartitionState {
  return {
    leader,
    leaderEpoch: state.leaderEpoch + 1,
    replicas: state.replicas,
    isr,
    partitionEpoch: state.partitionEpoch + 1,
  };
}

/**
 * A node was fenced or shut down. If it led, elect the first live, eligible ISR member in
 * replica order (offline if none; unclean if allowed). If it only followed, drop it from the
 * ISR. Returns null when the record need not change.
 */
export function onNodeUnavailable(
  state: PartitionState,
  node: NodeId,
  context: ElectionContext,
): PartitionState | null {
  checkPartitionState(state);
  if (!state.replicas.includes(node)) return null;
  const remaining = state.isr.filter((id) => id !== node);
  if (state.leader !== node) {
    if (!state.isr.includes(node) || remaining.length === 0) return null;
    if (state.leader === null) return null; // Offline: keep who may bring it back.
    return { ...state, isr: remaining, partitionEpoch: state.partitionEpoch + 1 };
  }
  const candidate = state.replicas.find((id) => remaining.includes(id) && canLead(id, context));
  if (candidate !== undefined) return withLeader(state, candidate, remaining);
  const unclean = uncleanCandidate(state, node, context);
  if (unclean !== null) return withLeader(state, unclean, [unclean]);
  return withLeader(state, null, remaining.length > 0 ? remaining : state.isr);
}

function uncleanCandidate(
  state: PartitionState,
  gone: NodeId,
  context: ElectionContext,
): NodeId | null {
  if (!context.uncleanLeaderElection) return null;
  return state.replicas.find((id) => id !== gone && canLead(id, context)) ?? null;
}

/**
 * A node registered or was unfenced. An offline partition whose ISR names it gets it as leader
 * (clean); with unclean election, any live replica may take an offline partition.
 */
export function onNodeAvailable(
  state: PartitionState,
  node: NodeId,
  context: ElectionContext,
): PartitionState | null {
  checkPartitionState(state);
  if (state.leader !== null || !state.replicas.includes(node) || !canLead(node, context))
    return null;
  const clean = state.replicas.find((id) => state.isr.includes(id) && canLead(id, context));
  if (clean !== undefined) return withLeader(state, clean, state.isr);
  if (context.uncleanLeaderElection) return withLeader(state, node, [node]);
  return null;
}

export type IsrChangeValidation =
  | { readonly ok: true; readonly state: PartitionState }
  | { readonly ok: false; readonly code: IsrChangeErrorCode };

/**
 * Kafka's AlterPartition checks: the leader epoch must match (else FENCED_LEADER_EPOCH), the
 * partition epoch must match (compare-and-set, else INVALID_UPDATE_VERSION), the new ISR must
 * hold the leader and only replicas (INVALID_REQUEST), and added members must be live
 * (INELIGIBLE_REPLICA). A valid change bumps only the partition epoch.
 */
export function validateIsrChange(
  state: PartitionState,
  request: IsrChangeRequest,
  context: ElectionContext,
): IsrChangeValidation {
  checkPartitionState(state);
  if (state.leader !== request.leaderId || request.leaderEpoch !== state.leaderEpoch) {
    return { ok: false, code: 'FENCED_LEADER_EPOCH' };
  }
  if (request.partitionEpoch !== state.partitionEpoch) {
    return { ok: false, code: 'INVALID_UPDATE_VERSION' };
  }
  const isr = request.newIsr;
  if (new Set(isr).size !== isr.length || !isr.includes(request.leaderId)) {
    return { ok: false, code: 'INVALID_REQUEST' };
  }
  if (!isr.every((id) => state.replicas.includes(id)))
    return { ok: false, code: 'INVALID_REQUEST' };
  const added = isr.filter((id) => !state.isr.includes(id));
  if (added.some((id) => !canLead(id, context))) return { ok: false, code: 'INELIGIBLE_REPLICA' };
  return { ok: true, state: { ...state, isr: [...isr], partitionEpoch: state.partitionEpoch + 1 } };
}

/** Move leadership to replicas[0] when it is in the ISR, live and not already leading. */
export function preferredLeaderElection(
  state: PartitionState,
  context: ElectionContext,
): PartitionState | null {
  checkPartitionState(state);
  const preferred = state.replicas[0];
  assert(preferred !== undefined, 'a partition has replicas');
  if (state.leader === preferred || !state.isr.includes(preferred)) return null;
  if (!canLead(preferred, context)) return null;
  return withLeader(state, preferred, state.isr);
}

export type ReassignmentStep =
  | { readonly kind: 'addReplicas'; readonly next: PartitionState }
  | { readonly kind: 'awaitCatchUp'; readonly missing: readonly NodeId[] }
  | { readonly kind: 'moveLeader'; readonly next: PartitionState }
  | { readonly kind: 'awaitLeader' }
  | { readonly kind: 'dropReplicas'; readonly next: PartitionState }
  | { readonly kind: 'done' };

/**
 * One step of moving a partition to `target` replicas: add them (the leader then brings them
 * into the ISR as they catch up), wait until all are in the ISR, move leadership into the
 * target set, then drop the old replicas. Call again after each committed step.
 */
export function reassignmentStep(
  state: PartitionState,
  target: readonly NodeId[],
  context: ElectionContext,
): ReassignmentStep {
  checkPartitionState(state);
  assert(
    target.length > 0 && new Set(target).size === target.length,
    'target replicas are distinct',
  );
  if (sameMembers(state.replicas, target)) return { kind: 'done' };
  const toAdd = target.filter((id) => !state.replicas.includes(id));
  if (toAdd.length > 0) {
    const replicas = [...target, ...state.replicas.filter((id) => !target.includes(id))];
    return {
      kind: 'addReplicas',
      next: { ...state, replicas, partitionEpoch: state.partitionEpoch + 1 },
    };
  }
  const missing = target.filter((id) => !state.isr.includes(id));
  if (missing.length > 0) return { kind: 'awaitCatchUp', missing };
  if (state.leader === null || !target.includes(state.leader)) {
    const leader = target.find((id) => canLead(id, context));
    if (leader === undefined) return { kind: 'awaitLeader' };
    return { kind: 'moveLeader', next: withLeader(state, leader, state.isr) };
  }
  const isr = state.isr.filter((id) => target.includes(id));
  const next = { ...state, replicas: [...target], isr, partitionEpoch: state.partitionEpoch + 1 };
  return { kind: 'dropReplicas', next };
}
