// Goal: the follower reconciles its log with the leader's by leader epoch (KIP-101 + KIP-279)
// before fetching, ignores responses from before an epoch change, handles out-of-range offsets
// both ways, and stays ineligible for leadership after a CRC truncation until caught up
// (scenarios P8, P9, P10 and rule (a)).
// Method: a FollowerReplica and a LeaderReplica over two in-memory logs, with the driver loop
// (send, answer, perform commands) written out in `exchange`.
import { describe, expect, test } from 'vitest';
import { toNodeId } from '../../../../src/common/index.ts';
import {
  FollowerReplica,
  LeaderReplica,
  type FollowerRequest,
  type ReplicaLogCommand,
} from '../../../../src/broker/replication/index.ts';
import {
  answerFollowerFetch,
  MemoryReplicaLog,
  type SimRecord,
} from '../../../support/replication-sim/memory-replica-log.ts';

type Batch = readonly SimRecord[];
const [L, F] = [toNodeId(1), toNodeId(2)];
const config = { replicaId: F, requestTimeoutMs: 100, retryBackoffMs: 0 };

/** Builds a log from epochs per offset, e.g. [0, 0, 2] → three records in epochs 0, 0, 2. */
function logOf(epochs: readonly number[], prefix: string): MemoryReplicaLog {
  const log = new MemoryReplicaLog('always');
  epochs.forEach((epoch, offset) =>
    log.appendAsFollower([{ offset, epoch, value: `${prefix}${offset}` }]),
  );
  return log;
}

function perform(log: MemoryReplicaLog, commands: readonly ReplicaLogCommand<Batch>[]): void {
  for (const command of commands) {
    if (command.kind === 'truncateTo') log.truncateTo(command.offset);
    else if (command.kind === 'truncateFullyAndStartAt')
      log.truncateFullyAndStartAt(command.offset);
    else if (command.kind === 'append') log.appendAsFollower(command.records);
    else log.highWatermarkCheckpoint = command.offset;
  }
}

function leaderOver(log: MemoryReplicaLog, leaderEpoch: number): LeaderReplica {
  log.assignEpoch(leaderEpoch, log.logEndOffset);
  const state = { leader: L, leaderEpoch, replicas: [L, F], isr: [L, F], partitionEpoch: 0 };
  const config = {
    replicaId: L,
    minInsyncReplicas: 1,
    replicaLagMsMax: 100,
    ackWaitersMax: 8,
    isrChangeRetryMs: 50,
  };
  return new LeaderReplica(config, log, state, 0, 0);
}

/** The leader's answer to one follower request, as the broker's route would build it. */
function answer(
  leader: LeaderReplica,
  leaderLog: MemoryReplicaLog,
  request: FollowerRequest,
  nowMs: number,
) {
  if (request.kind === 'epochEndOffset') {
    const decision = leader.onEpochEndOffsetRequest(F, request.currentLeaderEpoch, request.epoch);
    return { kind: 'epoch' as const, response: { requestId: request.requestId, ...decision } };
  }
  const decision = leader.onFollowerFetch({ replicaId: F, ...request }, nowMs);
  const response = answerFollowerFetch(request.requestId, decision, leaderLog, 2);
  return { kind: 'fetch' as const, response };
}

/** Runs the driver loop until the follower has the leader's whole log (or a step limit). */
function exchange(
  follower: FollowerReplica<Batch>,
  log: MemoryReplicaLog,
  leader: LeaderReplica,
  leaderLog: MemoryReplicaLog,
): FollowerRequest[] {
  const sent: FollowerRequest[] = [];
  for (let step = 0; step < 50; step += 1) {
    const request = follower.nextRequest(step);
    if (request === null) break;
    sent.push(request);
    const reply = answer(leader, leaderLog, request, step);
    perform(
      log,
      reply.kind === 'epoch'
        ? follower.onEpochEndOffset(reply.response)
        : follower.onFetchResponse(reply.response),
    );
    follower.checkInvariants();
    log.checkInvariants();
    const done =
      reply.kind === 'fetch' &&
      reply.response.kind === 'records' &&
      reply.response.records.length === 0;
    if (done) break;
  }
  return sent;
}

function values(log: MemoryReplicaLog): string[] {
  return log.records.map((r) => `${r.value}/${r.epoch}`);
}

describe('FollowerReplica', () => {
  test('rule (a): asks for the end of its latest epoch, truncates, then fetches', () => {
    const leaderLog = logOf([0, 0, 1, 1], 'l');
    const log = logOf([0, 0, 0, 0, 0], 'l');
    const follower = new FollowerReplica<Batch>(config, log, 0);
    follower.onLeaderChange({ leaderId: L, leaderEpoch: 2 });
    const leader = leaderOver(leaderLog, 2);
    const sent = exchange(follower, log, leader, leaderLog);
    expect(sent[0]).toMatchObject({ kind: 'epochEndOffset', epoch: 0, currentLeaderEpoch: 2 });
    expect(sent[1]).toMatchObject({ kind: 'fetch', fetchOffset: 2, lastFetchedEpoch: 0 });
    expect(values(log)).toEqual(values(leaderLog));
    expect(log.epochEntries).toEqual(
      leaderLog.epochEntries.filter((e) => e.startOffset < leaderLog.logEndOffset),
    );
  });

  test('P9 epoch-driven reconciliation: follower [0,2,4] against leader [1,3,5] becomes the leader', () => {
    const leaderLog = logOf([1, 3, 5], 'l');
    const log = logOf([0, 2, 4, 4, 4], 'f');
    const follower = new FollowerReplica<Batch>(config, log, 0);
    follower.onLeaderChange({ leaderId: L, leaderEpoch: 6 });
    const sent = exchange(follower, log, leaderOver(leaderLog, 6), leaderLog);
    expect(values(log)).toEqual(values(leaderLog));
    expect(
      sent
        .filter((r) => r.kind === 'epochEndOffset')
        .map((r) => r.kind === 'epochEndOffset' && r.epoch),
    ).toEqual([4, 2, 0]);
  });

  test('P7 KIP-279 over several failovers needs several OffsetsForLeaderEpoch rounds', () => {
    // Leader epochs 0,1,3,5; follower epochs 0,2,4 at the same offsets: all but offset 0 diverge.
    const leaderLog = logOf([0, 1, 3, 5], 'l');
    const log = logOf([0, 2, 4, 4], 'f');
    log.records.forEach((r) => expect(r.value.startsWith('f')).toBe(true));
    const follower = new FollowerReplica<Batch>(config, log, 1);
    follower.onLeaderChange({ leaderId: L, leaderEpoch: 6 });
    exchange(follower, log, leaderOver(leaderLog, 6), leaderLog);
    expect(values(log)).toEqual(['f0/0', 'l1/1', 'l2/3', 'l3/5']); // f0 matches l0 by epoch.
  });

  test('P8 a response from before an epoch change is ignored; FENCED waits for metadata', () => {
    const log = logOf([0, 0], 'x');
    const follower = new FollowerReplica<Batch>(config, log, 0);
    follower.onLeaderChange({ leaderId: L, leaderEpoch: 1 });
    const old = follower.nextRequest(0)!;
    follower.onLeaderChange({ leaderId: toNodeId(3), leaderEpoch: 2 });
    expect(
      follower.onEpochEndOffset({ requestId: old.requestId, kind: 'ok', epoch: 0, endOffset: 0 }),
    ).toEqual([]);
    expect(log.logEndOffset).toBe(2);
    const current = follower.nextRequest(1)!;
    expect(current).toMatchObject({ kind: 'epochEndOffset', leaderId: 3, currentLeaderEpoch: 2 });
    expect(follower.nextRequest(2)).toBeNull(); // One in flight.
    expect(
      follower.onEpochEndOffset({
        requestId: current.requestId,
        kind: 'error',
        code: 'FENCED_LEADER_EPOCH',
      }),
    ).toEqual([]);
    expect(follower.state.kind).toBe('fenced');
    expect(follower.nextRequest(3)).toBeNull();
    follower.onLeaderChange({ leaderId: toNodeId(3), leaderEpoch: 1 }); // Stale metadata: ignored.
    expect(follower.state.kind).toBe('fenced');
    follower.onLeaderChange({ leaderId: toNodeId(3), leaderEpoch: 3 });
    expect(follower.nextRequest(4)).toMatchObject({
      kind: 'epochEndOffset',
      currentLeaderEpoch: 3,
    });
    expect(follower.nextRequest(5)).toBeNull();
    expect(follower.nextRequest(104)).toMatchObject({ kind: 'epochEndOffset' }); // Timed out: resent.
  });

  test('P8 UNKNOWN_LEADER_EPOCH on a fetch is retried after the backoff, log untouched', () => {
    const log = new MemoryReplicaLog('always');
    const follower = new FollowerReplica<Batch>({ ...config, retryBackoffMs: 50 }, log, 0);
    follower.onLeaderChange({ leaderId: L, leaderEpoch: 1 });
    const fetch = follower.nextRequest(0)!;
    expect(fetch).toMatchObject({ kind: 'fetch', fetchOffset: 0, lastFetchedEpoch: null });
    const unknown = {
      requestId: fetch.requestId,
      kind: 'error' as const,
      code: 'UNKNOWN_LEADER_EPOCH' as const,
    };
    expect(follower.onFetchResponse(unknown)).toEqual([]);
    expect(follower.nextRequest(10)).toBeNull(); // Backing off: replica.fetch.backoff.ms.
    expect(follower.nextRequest(50)).toMatchObject({ kind: 'fetch', fetchOffset: 0 });
    follower.onLeaderChange({ leaderId: L, leaderEpoch: 2 });
    expect(follower.nextRequest(51)).toMatchObject({ kind: 'fetch', currentLeaderEpoch: 2 });
  });

  test('a request that failed in transport is asked again after the backoff (issue 7)', () => {
    const follower = new FollowerReplica<Batch>(
      { ...config, requestTimeoutMs: 5_000, retryBackoffMs: 50 },
      logOf([0], 'f'),
      0,
    );
    follower.onLeaderChange({ leaderId: L, leaderEpoch: 1 });
    const ask = follower.nextRequest(0)!;
    expect(ask).toMatchObject({ kind: 'epochEndOffset', epoch: 0 });
    follower.onRequestFailed(ask.requestId + 1); // Not the one in flight: ignored.
    expect(follower.nextRequest(60)).toBeNull();
    follower.onRequestFailed(ask.requestId);
    expect(follower.nextRequest(40)).toBeNull(); // Backing off from its send.
    const again = follower.nextRequest(60)!;
    expect(again).toMatchObject({ kind: 'epochEndOffset', epoch: 0 });
    expect(again.requestId).toBeGreaterThan(ask.requestId);
    // An answer to the failed request, arriving late, is ignored.
    expect(
      follower.onEpochEndOffset({ requestId: ask.requestId, kind: 'ok', epoch: 0, endOffset: 1 }),
    ).toEqual([]);
  });
  test('P10 out of range low: retention passed our end, so start over at the leader start', () => {
    const log = logOf([0, 0], 'a');
    const follower = new FollowerReplica<Batch>(config, log, 2);
    follower.onLeaderChange({ leaderId: L, leaderEpoch: 0 });
    follower.nextRequest(0);
    const state = follower.state;
    const fetch = follower.nextRequest(200)!; // Resent after a timeout, still reconciling.
    expect(state.kind).toBe('truncating');
    const commands = follower.onEpochEndOffset({
      requestId: fetch.requestId,
      kind: 'ok',
      epoch: 0,
      endOffset: 10,
    });
    perform(log, commands);
    const next = follower.nextRequest(201)!;
    expect(next).toMatchObject({ kind: 'fetch', fetchOffset: 2 });
    const reset = follower.onFetchResponse({
      requestId: next.requestId,
      kind: 'outOfRange',
      logStartOffset: 5,
      logEndOffset: 10,
    });
    expect(reset).toEqual([{ kind: 'truncateFullyAndStartAt', offset: 5 }]);
    perform(log, reset);
    expect(follower.nextRequest(202)).toMatchObject({
      kind: 'fetch',
      fetchOffset: 5,
      lastFetchedEpoch: null,
    });
  });

  test('P10 out of range high: the leader log is shorter, so truncate to it and reconcile', () => {
    const log = logOf([0, 0, 0, 0], 'a');
    const follower = new FollowerReplica<Batch>(config, log, 1);
    follower.onLeaderChange({ leaderId: L, leaderEpoch: 0 });
    const ask = follower.nextRequest(0)!;
    perform(
      log,
      follower.onEpochEndOffset({ requestId: ask.requestId, kind: 'ok', epoch: 0, endOffset: 4 }),
    );
    const fetch = follower.nextRequest(1)!;
    const commands = follower.onFetchResponse({
      requestId: fetch.requestId,
      kind: 'outOfRange',
      logStartOffset: 0,
      logEndOffset: 2,
    });
    expect(commands).toEqual([{ kind: 'truncateTo', offset: 2 }]);
    perform(log, commands);
    expect(follower.state.kind).toBe('truncating');
    expect(follower.nextRequest(2)).toMatchObject({ kind: 'epochEndOffset', epoch: 0 });
  });

  test('a CRC-truncated replica refetches and is ineligible for leadership until caught up', () => {
    const leaderLog = logOf([0, 0, 0, 0, 0, 0], 'l');
    const log = logOf([0, 0, 0, 0, 0, 0], 'l');
    const follower = new FollowerReplica<Batch>(config, log, 6);
    const leader = leaderOver(leaderLog, 1);
    follower.onLeaderChange({ leaderId: L, leaderEpoch: 1 });
    exchange(follower, log, leader, leaderLog);
    expect(follower.eligibleForLeadership).toBe(true);
    const inFlight = follower.nextRequest(0)!;
    perform(log, follower.onLogCorruption(3)); // The batch at offset 3 failed its CRC.
    expect(log.logEndOffset).toBe(3);
    expect(follower.eligibleForLeadership).toBe(false);
    expect(follower.highWatermark).toBe(3);
    // The request sent before the truncation is now stale: its answer is ignored.
    const stale = answer(leader, leaderLog, inFlight, 0);
    expect(stale.kind === 'fetch' && follower.onFetchResponse(stale.response)).toEqual([]);
    const sent = exchange(follower, log, leader, leaderLog);
    expect(sent[0]).toMatchObject({ kind: 'epochEndOffset', epoch: 0 }); // Reconciles again.
    expect(values(log)).toEqual(values(leaderLog));
    expect(follower.eligibleForLeadership).toBe(true);
  });
});
