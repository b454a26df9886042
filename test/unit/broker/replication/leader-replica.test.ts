// Goal: the leader side of one partition follows rules (b)–(f) of research/raft-test-anchors.md
// §2.1: fencing, HW over the maximal ISR, ISR shrink and expand through the controller,
// acks=all waiting, and a new leader's HW (scenarios P1–P4, P8, P14, P16, P17).
// Method: a LeaderReplica over an in-memory log, driven step by step with explicit nowMs.
import { describe, expect, test } from 'vitest';
import { toNodeId, type NodeId } from '../../../../src/common/index.ts';
import {
  LeaderReplica,
  validateIsrChange,
  type PartitionState,
} from '../../../../src/broker/replication/index.ts';
import { MemoryReplicaLog } from '../../../support/replication-sim/memory-replica-log.ts';

const [A, B, C] = [toNodeId(1), toNodeId(2), toNodeId(3)];
const config = {
  replicaId: A,
  minInsyncReplicas: 2,
  replicaLagMsMax: 100,
  ackWaitersMax: 4,
  isrChangeRetryMs: 50,
};

function state(isr: NodeId[], partitionEpoch = 0, leaderEpoch = 0): PartitionState {
  return { leader: A, leaderEpoch, replicas: [A, B, C], isr, partitionEpoch };
}

function setup(options: { isr?: NodeId[]; records?: number; minIsr?: number; hw?: number } = {}) {
  const log = new MemoryReplicaLog('always');
  const records = options.records ?? 0;
  for (let i = 0; i < records; i += 1) log.appendAsLeader(0, [`r${i}`]);
  const leader = new LeaderReplica(
    { ...config, minInsyncReplicas: options.minIsr ?? 2 },
    log,
    state(options.isr ?? [A, B, C]),
    options.hw ?? 0,
    0,
  );
  const append = (value: string, nowMs = 0): number => {
    const last = log.appendAsLeader(leader.leaderEpoch, [value]);
    leader.onAppend(last, nowMs);
    return last;
  };
  const fetch = (id: NodeId, fetchOffset: number, nowMs = 0) =>
    leader.onFollowerFetch(
      {
        replicaId: id,
        fetchOffset,
        lastFetchedEpoch: fetchOffset === 0 ? null : 0,
        currentLeaderEpoch: leader.leaderEpoch,
      },
      nowMs,
    );
  return { log, leader, append, fetch };
}

/** Commits the pending ISR change as the controller would and tells the leader. */
function commitPending(leader: LeaderReplica, nowMs: number): void {
  const request = leader.pollIsrChange(nowMs);
  expect(request).not.toBeNull();
  if (request === null) return;
  const context = {
    liveNodes: new Set([A, B, C]),
    ineligible: new Set<NodeId>(),
    uncleanLeaderElection: false,
  };
  const result = validateIsrChange(leader.partitionState, request, context);
  leader.onIsrChangeResult(request, result, nowMs);
}

describe('LeaderReplica', () => {
  test('P1 HW advancement: HW = min LEO over the ISR, served to followers', () => {
    const { leader, append, fetch } = setup();
    for (let i = 0; i < 5; i += 1) append(`m${i}`);
    fetch(B, 2);
    fetch(C, 5);
    expect(leader.highWatermark).toBe(2);
    const read = fetch(B, 5);
    expect(leader.highWatermark).toBe(5);
    expect(read).toMatchObject({ kind: 'read', highWatermark: 5, maxOffsetExclusive: 5 });
    leader.checkInvariants();
  });

  test('P2 acks=all: NOT_ENOUGH_REPLICAS before append, _AFTER_APPEND when the ISR shrinks', () => {
    const small = setup({ isr: [A] });
    expect(small.leader.admitProduce('all')).toBe('NOT_ENOUGH_REPLICAS');
    expect(small.leader.admitProduce(1)).toBeNull();
    const { leader, append, fetch } = setup({ isr: [A, B] });
    expect(leader.admitProduce('all')).toBeNull();
    const last = append('m0', 0);
    expect(
      leader.awaitHighWatermark({ produceId: 7, lastOffset: last, deadlineMs: 1000 }, 0),
    ).toBeNull();
    expect(leader.takeAckOutcomes(10)).toEqual([]);
    // B stops fetching; after the lag time it is dropped and the waiter fails.
    commitPending(leader, 200);
    expect(leader.partitionState.isr).toEqual([A]);
    expect(leader.takeAckOutcomes(200)).toEqual([
      { produceId: 7, kind: 'failed', code: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND' },
    ]);
    append('m1', 210);
    expect(leader.highWatermark).toBe(0); // HW never advances below min.insync.replicas.
    fetch(B, 2, 220);
    expect(leader.highWatermark).toBe(0);
  });

  test('acks=all: acked when the HW passes the batch, REQUEST_TIMED_OUT at the deadline, BUSY when full', () => {
    const { leader, append, fetch } = setup({ isr: [A, B, C] });
    const first = append('m0');
    leader.awaitHighWatermark({ produceId: 1, lastOffset: first, deadlineMs: 100 }, 0);
    fetch(B, 1);
    fetch(C, 1);
    expect(leader.takeAckOutcomes(1)).toEqual([{ produceId: 1, kind: 'acked', lastOffset: 0 }]);
    const second = append('m1');
    for (let id = 2; id <= 5; id += 1) {
      expect(
        leader.awaitHighWatermark({ produceId: id, lastOffset: second, deadlineMs: 100 }, 2),
      ).toBeNull();
    }
    expect(
      leader.awaitHighWatermark({ produceId: 6, lastOffset: second, deadlineMs: 100 }, 2),
    ).toBe('BROKER_BUSY');
    expect(leader.takeAckOutcomes(100).map((o) => o.kind === 'failed' && o.code)).toEqual(
      Array(4).fill('REQUEST_TIMED_OUT'),
    );
  });

  test('issue 15: a cancelled acks=all waiter frees its slot and gets no outcome', () => {
    const { leader, append } = setup({ isr: [A, B, C] });
    const last = append('m0');
    for (let id = 1; id <= 4; id += 1) {
      expect(
        leader.awaitHighWatermark({ produceId: id, lastOffset: last, deadlineMs: 100 }, 0),
      ).toBeNull();
    }
    expect(
      leader.awaitHighWatermark({ produceId: 5, lastOffset: last, deadlineMs: 100 }, 0),
    ).toBe('BROKER_BUSY');
    leader.cancelAckWaiter(2);
    expect(leader.ackWaiterCount).toBe(3);
    expect(
      leader.awaitHighWatermark({ produceId: 5, lastOffset: last, deadlineMs: 100 }, 0),
    ).toBeNull();
    leader.checkInvariants();
    const expired = leader.takeAckOutcomes(100).map((outcome) => outcome.produceId);
    expect(expired).toEqual([1, 3, 4, 5]);
  });

  test('min.insync.replicas raised under a parked produce: it fails, admission follows', () => {
    const { leader, append } = setup({ isr: [A, B], minIsr: 1 });
    const last = append('m0');
    leader.awaitHighWatermark({ produceId: 1, lastOffset: last, deadlineMs: 1000 }, 0);
    expect(leader.takeAckOutcomes(1)).toEqual([]);
    leader.onMinInsyncReplicasChange(3, 2);
    expect(leader.takeAckOutcomes(2)).toEqual([
      { produceId: 1, kind: 'failed', code: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND' },
    ]);
    expect(leader.admitProduce('all')).toBe('NOT_ENOUGH_REPLICAS');
    leader.onMinInsyncReplicasChange(2, 3);
    expect(leader.admitProduce('all')).toBeNull();
    leader.checkInvariants();
  });

  test('P3 ISR shrink: stuck and slow followers leave, one caught up at its previous fetch stays', () => {
    const { leader, append, fetch } = setup();
    append('m0', 0);
    fetch(B, 1, 10); // B caught up at 10.
    fetch(C, 0, 10); // C is slow.
    append('m1', 20);
    // At 105, B has not fetched since 10 but was caught up then; C never caught up after 0.
    expect(leader.pollIsrChange(105)).toMatchObject({ newIsr: [A, B] });
    const { leader: leader2, append: append2, fetch: fetch2 } = setup();
    append2('m0', 0);
    fetch2(B, 1, 50); // caught up at 50
    append2('m1', 60);
    fetch2(B, 1, 140); // reached the LEO of its previous fetch: caught up as of 50... still lags
    fetch2(C, 2, 140);
    expect(leader2.pollIsrChange(145)).toBeNull(); // (iii) B was caught up at its previous fetch.
    expect(leader2.pollIsrChange(200)).toMatchObject({ newIsr: [A, C] }); // (ii) B lags > 100 ms.
  });

  test('P4 ISR expansion: maximal ISR holds the HW, one change in flight, retried, epoch start rule', () => {
    const { leader, append, fetch, log } = setup({ isr: [A, B], records: 0 });
    append('m0', 0);
    fetch(B, 1, 1);
    fetch(C, 1, 1); // C has reached HW (1) and the epoch start (0).
    expect(leader.highWatermark).toBe(1);
    const request = leader.pollIsrChange(2);
    expect(request).toMatchObject({ newIsr: [A, B, C], partitionEpoch: 0 });
    expect(leader.pollIsrChange(3)).toBeNull(); // One change in flight.
    append('m1', 4);
    fetch(B, 2, 5);
    expect(leader.highWatermark).toBe(1); // The pending member C (maximal ISR) holds the HW.
    expect(leader.pollIsrChange(60)).toEqual(request); // Unanswered: resent after isrChangeRetryMs.
    leader.onIsrChangeResult(request!, { ok: false, code: 'INELIGIBLE_REPLICA' }, 61);
    expect(leader.pendingIsrChange).toBeNull();
    expect(leader.maximalIsr).toEqual([A, B]);
    expect(leader.highWatermark).toBe(1); // The HW never goes back.
    fetch(B, 2, 62);
    expect(leader.highWatermark).toBe(2);
    expect(log.logEndOffset).toBe(2);
  });

  test('P4 rule (d): a follower below the start of the leader epoch does not join', () => {
    const log = new MemoryReplicaLog('always');
    for (let i = 0; i < 4; i += 1) log.appendAsLeader(0, [`old${i}`]);
    log.assignEpoch(1, 4);
    const leader = new LeaderReplica(config, log, { ...state([A, B], 3, 1) }, 4, 0);
    expect(leader.epochStartOffset).toBe(4);
    leader.onFollowerFetch(
      { replicaId: B, fetchOffset: 4, lastFetchedEpoch: 0, currentLeaderEpoch: 1 },
      1,
    );
    leader.onFollowerFetch(
      { replicaId: C, fetchOffset: 3, lastFetchedEpoch: 0, currentLeaderEpoch: 1 },
      1,
    );
    expect(leader.pollIsrChange(2)).toBeNull();
    leader.onFollowerFetch(
      { replicaId: C, fetchOffset: 4, lastFetchedEpoch: 0, currentLeaderEpoch: 1 },
      3,
    );
    expect(leader.pollIsrChange(4)).toMatchObject({ newIsr: [A, B, C] });
  });

  test('P8 fencing: older epoch FENCED, newer UNKNOWN, strangers NOT_LEADER_OR_FOLLOWER', () => {
    const { leader } = setup();
    const ask = (epoch: number, id: NodeId = B) =>
      leader.onFollowerFetch(
        { replicaId: id, fetchOffset: 0, lastFetchedEpoch: null, currentLeaderEpoch: epoch },
        0,
      );
    expect(ask(-1)).toMatchObject({ kind: 'error', code: 'FENCED_LEADER_EPOCH' });
    expect(ask(1)).toMatchObject({ kind: 'error', code: 'UNKNOWN_LEADER_EPOCH' });
    expect(ask(0, toNodeId(9))).toMatchObject({ kind: 'error', code: 'NOT_LEADER_OR_FOLLOWER' });
    expect(leader.onEpochEndOffsetRequest(B, 1, 0)).toEqual({
      kind: 'error',
      code: 'UNKNOWN_LEADER_EPOCH',
    });
    expect(leader.onConsumerRead(0, -1)).toEqual({ kind: 'error', code: 'FENCED_LEADER_EPOCH' });
  });

  test('KIP-320 diverging epoch: the fetch names the epoch end to truncate to', () => {
    const log = new MemoryReplicaLog('always');
    log.appendAsLeader(0, ['a', 'b']);
    log.assignEpoch(2, 2);
    log.appendAsLeader(2, ['c']);
    const leader = new LeaderReplica(config, log, state([A, B], 0, 2), 0, 0);
    const fetch = (fetchOffset: number, lastFetchedEpoch: number | null) =>
      leader.onFollowerFetch(
        { replicaId: B, fetchOffset, lastFetchedEpoch, currentLeaderEpoch: 2 },
        0,
      );
    expect(fetch(3, 1)).toEqual({ kind: 'diverging', epoch: 0, endOffset: 2 });
    expect(fetch(3, 0)).toEqual({ kind: 'diverging', epoch: 0, endOffset: 2 });
    expect(fetch(2, 0)).toMatchObject({ kind: 'read', fetchOffset: 2 });
    expect(fetch(4, 2)).toEqual({ kind: 'diverging', epoch: 2, endOffset: 3 }); // Checked first.
    expect(fetch(4, null)).toEqual({ kind: 'outOfRange', logStartOffset: 0, logEndOffset: 3 });
    expect(leader.onEpochEndOffsetRequest(B, 2, 1)).toEqual({ kind: 'ok', epoch: 0, endOffset: 2 });
  });

  test('P14 a new leader with a lagging HW answers OFFSET_NOT_AVAILABLE until it settles', () => {
    const log = new MemoryReplicaLog('always');
    log.appendAsLeader(0, ['a', 'b', 'c', 'd', 'e']);
    log.assignEpoch(1, 5);
    const leader = new LeaderReplica(config, log, state([A, B], 1, 1), 2, 0);
    expect(leader.highWatermark).toBe(2);
    expect(leader.isHighWatermarkSettled).toBe(false);
    expect(leader.latestOffset()).toEqual({ kind: 'error', code: 'OFFSET_NOT_AVAILABLE' });
    expect(leader.onConsumerRead(0, 1)).toEqual({ kind: 'error', code: 'OFFSET_NOT_AVAILABLE' });
    expect(leader.onConsumerRead(4, null)).toEqual({ kind: 'error', code: 'OFFSET_NOT_AVAILABLE' });
    leader.onFollowerFetch(
      { replicaId: B, fetchOffset: 5, lastFetchedEpoch: 0, currentLeaderEpoch: 1 },
      1,
    );
    expect(leader.highWatermark).toBe(5);
    expect(leader.latestOffset()).toEqual({ kind: 'ok', offset: 5 });
    expect(leader.onConsumerRead(4, 1)).toMatchObject({
      kind: 'read',
      maxOffsetExclusive: 5,
      highWatermark: 5,
    });
    expect(leader.onConsumerRead(6, 1)).toEqual({ kind: 'error', code: 'OFFSET_OUT_OF_RANGE' });
  });

  test('P16 a committed change whose reply was lost: the retry is refused, metadata converges', () => {
    const { leader, append, fetch } = setup({ isr: [A, B] });
    append('m0', 0);
    fetch(B, 1, 1);
    fetch(C, 1, 1);
    const request = leader.pollIsrChange(2)!;
    const context = {
      liveNodes: new Set([A, B, C]),
      ineligible: new Set<NodeId>(),
      uncleanLeaderElection: false,
    };
    const committed = validateIsrChange(leader.partitionState, request, context);
    expect(committed.ok).toBe(true);
    if (!committed.ok) return;
    // The reply is lost (the controller failed over); the leader resends the same request.
    const retry = leader.pollIsrChange(60)!;
    const again = validateIsrChange(committed.state, retry, context);
    expect(again).toEqual({ ok: false, code: 'INVALID_UPDATE_VERSION' });
    leader.onIsrChangeResult(retry, again, 61);
    expect(leader.pollIsrChange(200)).toBeNull(); // Waits for metadata instead of retrying.
    expect(leader.maximalIsr).toEqual([A, B, C]); // Still counts C for the HW: it may be committed.
    leader.onPartitionState(committed.state, 201);
    expect(leader.pendingIsrChange).toBeNull();
    expect(leader.partitionState.isr).toEqual([A, B, C]);
    expect(leader.partitionState.partitionEpoch).toBe(1);
  });

  test('P17 a slow follower leaves after the lag time and rejoins once caught up', () => {
    const { leader, append, fetch } = setup({ minIsr: 1 });
    let offset = 0;
    for (let t = 0; t <= 300; t += 10) {
      offset = append(`m${t}`, t) + 1;
      fetch(B, offset, t);
      fetch(C, Math.min(offset, Math.floor(t / 40)), t); // C falls further behind.
      const change = leader.pollIsrChange(t);
      if (change !== null) commitPending2(leader, change, t);
      leader.checkInvariants();
    }
    expect(leader.partitionState.isr).toEqual([A, B]);
    expect(leader.highWatermark).toBe(offset); // HW tracks the remaining ISR.
    fetch(C, offset, 310);
    const change = leader.pollIsrChange(311);
    expect(change).toMatchObject({ newIsr: [A, B, C] });
  });
});

function commitPending2(
  leader: LeaderReplica,
  request: NonNullable<ReturnType<LeaderReplica['pollIsrChange']>>,
  nowMs: number,
): void {
  const context = {
    liveNodes: new Set([A, B, C]),
    ineligible: new Set<NodeId>(),
    uncleanLeaderElection: false,
  };
  leader.onIsrChangeResult(
    request,
    validateIsrChange(leader.partitionState, request, context),
    nowMs,
  );
}

describe('idle sessions (issue 7, KIP-227)', () => {
  test('onFollowerStillAt keeps an idle follower caught up, so the next append shrinks none', () => {
    const { leader, append, fetch } = setup({ records: 2 });
    fetch(B, 2, 10);
    fetch(C, 2, 10);
    expect(leader.isQuiet).toBe(true);
    // Idle far past the lag limit; both sessions left the partition out until now.
    leader.onFollowerStillAt(B, 2, 0, 1_000);
    leader.onFollowerStillAt(C, 2, 0, 1_000);
    append('late', 1_001);
    expect(leader.isQuiet).toBe(false);
    expect(leader.pollIsrChange(1_001)).toBeNull();
    // Without the credit a follower is not caught up since its last real fetch: shrunk.
    const other = setup({ records: 2 });
    other.fetch(B, 2, 10);
    other.fetch(C, 2, 10);
    other.append('late', 1_001);
    expect(other.leader.pollIsrChange(1_001)?.newIsr).toEqual([A]);
  });

  test('onFollowerStillAt ignores another position, epoch or an older time', () => {
    const { leader, fetch } = setup({ records: 2 });
    fetch(B, 2, 50);
    leader.onFollowerStillAt(B, 1, 0, 500);
    leader.onFollowerStillAt(B, 2, 1, 500);
    leader.onFollowerStillAt(B, 2, 0, 40);
    expect(leader.followerProgress(B)?.lastFetchMs).toBe(50);
    leader.onFollowerStillAt(B, 2, 0, 500);
    expect(leader.followerProgress(B)).toMatchObject({ lastFetchMs: 500, lastCaughtUpMs: 500 });
    expect(leader.highWatermark).toBe(0);
  });

  test('isQuiet: not while a follower lags, an ack waits or a caught-up one is outside the ISR', () => {
    const { leader, append, fetch } = setup({ isr: [A, B] });
    expect(leader.isQuiet).toBe(false); // B has not fetched in this epoch yet.
    fetch(B, 0, 1);
    expect(leader.isQuiet).toBe(true);
    const last = append('x', 2);
    expect(leader.isQuiet).toBe(false);
    fetch(B, 1, 3);
    expect(leader.awaitHighWatermark({ produceId: 1, lastOffset: last, deadlineMs: 9 }, 3)).toBe(
      null,
    );
    expect(leader.isQuiet).toBe(false); // Acked, but the outcome is not taken yet.
    leader.takeAckOutcomes(4);
    expect(leader.isQuiet).toBe(true);
    fetch(C, 1, 5);
    expect(leader.isQuiet).toBe(false); // C may join the ISR.
  });
});
