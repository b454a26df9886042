// Goal: two properties of the replication core against naive models. (1) The HW equals a
// naive min over the maximal ISR, never decreases, and never passes any member's LEO.
// (2) Leader-epoch reconciliation makes any follower log whose epochs are consistent with the
// leader's history exactly the leader's log, whatever its divergent suffix.
// Method: fast-check; failures print the seed and the shrunk counterexample.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { toNodeId } from '../../../src/common/index.ts';
import {
  FollowerReplica,
  LeaderReplica,
  initialProgress,
  nextHighWatermark,
  updateProgress,
  type FollowerProgress,
  type ReplicaLogCommand,
} from '../../../src/broker/replication/index.ts';
import {
  answerFollowerFetch,
  MemoryReplicaLog,
  type SimRecord,
} from '../../support/replication-sim/memory-replica-log.ts';

const ids = [1, 2, 3, 4].map(toNodeId);

describe('replication properties', () => {
  test('HW = naive min over the maximal ISR, monotonic, gated by min.insync.replicas', () => {
    const step = fc.record({
      follower: fc.integer({ min: 1, max: 3 }),
      fetchOffset: fc.nat(50),
      grow: fc.nat(3),
    });
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 40 }),
        fc.subarray([1, 2, 3]),
        fc.integer({ min: 1, max: 4 }),
        (steps, isrTail, minIsr) => {
          const leader = ids[0]!;
          const isr = [leader, ...isrTail.map((i) => ids[i]!)];
          const progress = new Map<typeof leader, FollowerProgress>(
            ids.slice(1).map((id) => [id, initialProgress(id, 0)]),
          );
          let leaderEnd = 0;
          let hw = 0;
          for (const [time, s] of steps.entries()) {
            leaderEnd += s.grow;
            const id = ids[s.follower]!;
            progress.set(
              id,
              updateProgress(
                progress.get(id)!,
                Math.min(s.fetchOffset, leaderEnd),
                leaderEnd,
                time,
              ),
            );
            const next = nextHighWatermark({
              current: hw,
              leaderId: leader,
              leaderEndOffset: leaderEnd,
              maximalIsr: isr,
              committedIsrSize: isr.length,
              minInsyncReplicas: minIsr,
              progress,
            });
            const ends = isr.slice(1).map((m) => progress.get(m)!.logEndOffset);
            const naive =
              isr.length < minIsr || ends.includes(null)
                ? hw
                : Math.max(hw, Math.min(leaderEnd, ...ends.map((e) => e ?? 0)));
            expect(next).toBe(naive);
            expect(next).toBeGreaterThanOrEqual(hw);
            hw = next;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('epoch reconciliation turns a consistent follower log into the leader log', () => {
    // A history: epochs per offset (non-decreasing). The follower shares a prefix of it, then
    // has its own suffix written in epochs the leader never had (odd epochs), as after failovers.
    const history = fc
      .array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 12 })
      .map((steps) => {
        let epoch = 0;
        return steps.map((bump) => (epoch += bump === 0 ? 0 : 2 * bump));
      });
    fc.assert(
      fc.property(
        history,
        fc.nat(12),
        fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 8 }),
        (leaderEpochs, shared, suffixBumps) => {
          const prefix = leaderEpochs.slice(0, Math.min(shared, leaderEpochs.length));
          let epoch = prefix.at(-1) ?? 0;
          const suffix = suffixBumps.map((bump) => (epoch = epoch + 1 + 2 * bump) | 1);
          const sorted = suffix.map((e, i) => Math.max(e, suffix[i - 1] ?? 0));
          const leaderLog = logOf(leaderEpochs, () => 'l');
          const followerLog = logOf([...prefix, ...sorted], (offset) =>
            offset < prefix.length ? 'l' : 'f',
          );
          const top = Math.max(...leaderEpochs, ...sorted, 0) + 1;
          leaderLog.assignEpoch(top, leaderLog.logEndOffset);
          syncFollower(leaderLog, followerLog, top);
          expect(followerLog.records).toEqual(leaderLog.records);
        },
      ),
      { numRuns: 300 },
    );
  });
});

function logOf(epochs: readonly number[], origin: (offset: number) => string): MemoryReplicaLog {
  const log = new MemoryReplicaLog('always');
  epochs.forEach((epoch, offset) =>
    log.appendAsFollower([{ offset, epoch, value: `${origin(offset)}${offset}/${epoch}` }]),
  );
  return log;
}

function syncFollower(
  leaderLog: MemoryReplicaLog,
  log: MemoryReplicaLog,
  leaderEpoch: number,
): void {
  const [L, F] = [ids[0]!, ids[1]!];
  const state = { leader: L, leaderEpoch, replicas: [L, F], isr: [L, F], partitionEpoch: 0 };
  const leader = new LeaderReplica(
    {
      replicaId: L,
      minInsyncReplicas: 1,
      replicaLagMsMax: 100,
      ackWaitersMax: 1,
      isrChangeRetryMs: 10,
    },
    leaderLog,
    state,
    0,
    0,
  );
  const follower = new FollowerReplica<readonly SimRecord[]>(
    { replicaId: F, requestTimeoutMs: 10, retryBackoffMs: 0 },
    log,
    0,
  );
  follower.onLeaderChange({ leaderId: L, leaderEpoch });
  const perform = (commands: readonly ReplicaLogCommand<readonly SimRecord[]>[]): void => {
    for (const c of commands) {
      if (c.kind === 'truncateTo') log.truncateTo(c.offset);
      else if (c.kind === 'truncateFullyAndStartAt') log.truncateFullyAndStartAt(c.offset);
      else if (c.kind === 'append') log.appendAsFollower(c.records);
    }
  };
  for (let step = 0; step < 100; step += 1) {
    const request = follower.nextRequest(step);
    if (request === null) throw new Error('follower stalled');
    if (request.kind === 'epochEndOffset') {
      const decision = leader.onEpochEndOffsetRequest(F, request.currentLeaderEpoch, request.epoch);
      perform(follower.onEpochEndOffset({ requestId: request.requestId, ...decision }));
      continue;
    }
    const decision = leader.onFollowerFetch({ replicaId: F, ...request }, step);
    if (decision.kind === 'error') throw new Error(decision.code);
    const response = answerFollowerFetch(request.requestId, decision, leaderLog, 3);
    if (response.kind === 'records' && response.records.length === 0) return;
    perform(follower.onFetchResponse(response));
    log.checkInvariants();
  }
  throw new Error('no convergence in 100 steps');
}
