// Goal: the simulator's log twin has the leader-epoch cache semantics the core relies on
// (KIP-279 endOffsetForEpoch, Kafka's assign and truncateFromEnd, loss of the unflushed tail),
// and the real log contract satisfies the core's ReplicaLogView. The same cases can be run
// against src/log's PartitionLog.
// Method: direct calls; the contract check is a compile-time assignment.
import { describe, expect, test } from 'vitest';
import type { ReplicaLogView } from '../../../../src/broker/replication/index.ts';
import type { PartitionLogApi } from '../../../../src/log/contract.ts';
import { MemoryReplicaLog } from '../../../support/replication-sim/memory-replica-log.ts';

/** Compile-time: the real partition log can be handed to the replication core as is. */
export function asReplicaLogView(log: PartitionLogApi): ReplicaLogView {
  return log;
}

function logWith(epochs: readonly number[]): MemoryReplicaLog {
  const log = new MemoryReplicaLog('never');
  epochs.forEach((epoch, offset) => log.appendAsFollower([{ offset, epoch, value: `v${offset}` }]));
  return log;
}

describe('MemoryReplicaLog', () => {
  test('endOffsetForEpoch answers the largest epoch ≤ the one asked and where it ends', () => {
    const log = logWith([1, 1, 3, 3, 3, 6]);
    expect(log.endOffsetForEpoch(0)).toBeNull();
    expect(log.endOffsetForEpoch(1)).toEqual({ epoch: 1, endOffset: 2 });
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 1, endOffset: 2 });
    expect(log.endOffsetForEpoch(5)).toEqual({ epoch: 3, endOffset: 5 });
    expect(log.endOffsetForEpoch(9)).toEqual({ epoch: 6, endOffset: 6 });
    expect(log.latestEpoch()).toBe(6);
  });

  test('assigning an epoch at the LEO replaces an empty one; truncation drops entries at it', () => {
    const log = logWith([0, 0]);
    log.assignEpoch(2, 2);
    log.assignEpoch(3, 2); // Epoch 2 never got a record.
    expect(log.epochEntries).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 3, startOffset: 2 },
    ]);
    log.truncateTo(2);
    expect(log.latestEpoch()).toBe(0);
    log.checkInvariants();
  });

  test('a crash keeps only the flushed prefix; truncation lowers the checkpointed HW', () => {
    const log = logWith([0, 0, 0]);
    log.flushNow();
    log.appendAsFollower([{ offset: 3, epoch: 1, value: 'v3' }]);
    log.highWatermarkCheckpoint = 4;
    log.crash();
    expect(log.logEndOffset).toBe(3);
    expect(log.latestEpoch()).toBe(0);
    expect(log.highWatermarkCheckpoint).toBe(3);
    log.truncateFullyAndStartAt(10);
    expect([log.logStartOffset, log.logEndOffset, log.latestEpoch()]).toEqual([10, 10, null]);
  });
});
