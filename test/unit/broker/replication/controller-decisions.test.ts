// Goal: the controller's pure decisions — election from the ISR only (rule g), last replica
// standing, unclean election, AlterPartition validation (rule e), preferred leader and
// reassignment — return exactly the record to commit, with epochs bumped as Kafka does.
// Method: table-style calls over small partition records.
import { describe, expect, test } from 'vitest';
import { toNodeId, type NodeId } from '../../../../src/common/index.ts';
import {
  onNodeAvailable,
  onNodeUnavailable,
  preferredLeaderElection,
  reassignmentStep,
  validateIsrChange,
  type ElectionContext,
  type PartitionState,
} from '../../../../src/broker/replication/index.ts';

const [A, B, C, D] = [toNodeId(1), toNodeId(2), toNodeId(3), toNodeId(4)];

function context(
  live: NodeId[],
  options: { unclean?: boolean; ineligible?: NodeId[] } = {},
): ElectionContext {
  return {
    liveNodes: new Set(live),
    ineligible: new Set(options.ineligible ?? []),
    uncleanLeaderElection: options.unclean ?? false,
  };
}

const base: PartitionState = {
  leader: A,
  leaderEpoch: 4,
  replicas: [A, B, C],
  isr: [A, B, C],
  partitionEpoch: 10,
};

describe('controller decisions', () => {
  test('the leader node goes: the first live ISR member leads, epochs bump, ISR drops the node', () => {
    expect(onNodeUnavailable(base, A, context([B, C]))).toEqual({
      leader: B,
      leaderEpoch: 5,
      replicas: [A, B, C],
      isr: [B, C],
      partitionEpoch: 11,
    });
  });

  test('an ineligible replica (CRC-truncated, catching up) is never elected', () => {
    expect(onNodeUnavailable(base, A, context([B, C], { ineligible: [B] }))?.leader).toBe(C);
  });

  test('a follower node goes: it leaves the ISR, the leader epoch stays', () => {
    expect(onNodeUnavailable(base, C, context([A, B]))).toEqual({
      ...base,
      isr: [A, B],
      partitionEpoch: 11,
    });
    expect(onNodeUnavailable({ ...base, isr: [A] }, C, context([A, B]))).toBeNull();
    expect(onNodeUnavailable(base, D, context([A, B, C]))).toBeNull();
  });

  test('P11 no live ISR member: offline, and the ISR remembers who may return (KIP-966)', () => {
    const lonely = { ...base, isr: [A] };
    const offline = onNodeUnavailable(lonely, A, context([B, C]));
    expect(offline).toEqual({ ...lonely, leader: null, leaderEpoch: 5, partitionEpoch: 11 });
    expect(onNodeAvailable(offline!, B, context([B, C]))).toBeNull();
    expect(onNodeAvailable(offline!, A, context([A, B, C]))).toEqual({
      ...offline,
      leader: A,
      leaderEpoch: 6,
      partitionEpoch: 12,
    });
    const twoDown = onNodeUnavailable({ ...base, isr: [A, B] }, A, context([C]));
    expect(twoDown).toMatchObject({ leader: null, isr: [B] });
  });

  test('P12 unclean election picks a live replica outside the ISR and resets the ISR to it', () => {
    const lonely = { ...base, isr: [A] };
    expect(onNodeUnavailable(lonely, A, context([C], { unclean: true }))).toMatchObject({
      leader: C,
      isr: [C],
      leaderEpoch: 5,
    });
    const offline = onNodeUnavailable(lonely, A, context([], { unclean: true }))!;
    expect(offline.leader).toBeNull();
    expect(onNodeAvailable(offline, B, context([B], { unclean: true }))).toMatchObject({
      leader: B,
      isr: [B],
    });
  });

  test('rule (e): AlterPartition is a compare-and-set on the partition epoch', () => {
    const live = context([A, B, C]);
    const request = { leaderId: A, leaderEpoch: 4, partitionEpoch: 10, newIsr: [A, B] };
    expect(validateIsrChange(base, request, live)).toEqual({
      ok: true,
      state: { ...base, isr: [A, B], partitionEpoch: 11 },
    });
    expect(validateIsrChange(base, { ...request, partitionEpoch: 9 }, live)).toEqual({
      ok: false,
      code: 'INVALID_UPDATE_VERSION',
    });
    expect(validateIsrChange(base, { ...request, leaderEpoch: 3 }, live)).toEqual({
      ok: false,
      code: 'FENCED_LEADER_EPOCH',
    });
    expect(validateIsrChange(base, { ...request, leaderId: B }, live)).toEqual({
      ok: false,
      code: 'FENCED_LEADER_EPOCH',
    });
    expect(validateIsrChange(base, { ...request, newIsr: [B, C] }, live)).toEqual({
      ok: false,
      code: 'INVALID_REQUEST',
    });
    expect(validateIsrChange(base, { ...request, newIsr: [A, D] }, live)).toEqual({
      ok: false,
      code: 'INVALID_REQUEST',
    });
    const shrunk = { ...base, isr: [A] };
    const expand = { leaderId: A, leaderEpoch: 4, partitionEpoch: 10, newIsr: [A, C] };
    expect(validateIsrChange(shrunk, expand, context([A, B]))).toEqual({
      ok: false,
      code: 'INELIGIBLE_REPLICA',
    });
  });

  test('preferred leader election moves leadership to replicas[0] when it is in the ISR', () => {
    const moved = { ...base, leader: B, leaderEpoch: 5 };
    expect(preferredLeaderElection(moved, context([A, B, C]))).toMatchObject({
      leader: A,
      leaderEpoch: 6,
      partitionEpoch: 11,
    });
    expect(preferredLeaderElection(base, context([A, B, C]))).toBeNull();
    expect(preferredLeaderElection({ ...moved, isr: [B, C] }, context([A, B, C]))).toBeNull();
    expect(preferredLeaderElection(moved, context([B, C]))).toBeNull();
  });

  test('reassignment: add, wait for catch-up, move the leader, drop the old replicas', () => {
    const live = context([A, B, C, D]);
    const target = [D, B, C];
    const add = reassignmentStep(base, target, live);
    expect(add).toEqual({
      kind: 'addReplicas',
      next: { ...base, replicas: [D, B, C, A], partitionEpoch: 11 },
    });
    if (add.kind !== 'addReplicas') return;
    expect(reassignmentStep(add.next, target, live)).toEqual({
      kind: 'awaitCatchUp',
      missing: [D],
    });
    const caughtUp = { ...add.next, isr: [A, B, C, D], partitionEpoch: 12 };
    const move = reassignmentStep(caughtUp, target, live);
    expect(move).toMatchObject({ kind: 'moveLeader', next: { leader: D, leaderEpoch: 5 } });
    if (move.kind !== 'moveLeader') return;
    const drop = reassignmentStep(move.next, target, live);
    expect(drop).toMatchObject({
      kind: 'dropReplicas',
      next: { replicas: [D, B, C], isr: [B, C, D], leader: D },
    });
    if (drop.kind !== 'dropReplicas') return;
    expect(reassignmentStep(drop.next, target, live)).toEqual({ kind: 'done' });
  });
});
