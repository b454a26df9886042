// Goal: leader changes and ISR shrinks/expands are counted once each as the image applies them;
// refused commands, new topics and restored snapshots count nothing. Follower lag: offsets from
// followers that fetched in this epoch, time from those not holding the leader's log end.
import { describe, expect, test } from 'vitest';
import { MetadataImage, type MetadataCommand } from '../../../src/broker/index.ts';
import { PartitionChangeCounts, replicaLag } from '../../../src/broker/partition-metrics.ts';
import type { FollowerProgress } from '../../../src/broker/replication/index.ts';
import { toNodeId } from '../../../src/common/index.ts';

const register = (nodeId: number): MetadataCommand => ({
  type: 'register-node',
  nodeId,
  url: `http://127.0.0.1:${9090 + nodeId}`,
  incarnationId: `inc-${nodeId}`,
});

function change(epoch: number, leader: number, isr: number[]): MetadataCommand {
  return {
    type: 'change-partition',
    topic: 't',
    partition: 0,
    expectedPartitionEpoch: epoch,
    leader,
    leaderEpoch: epoch + 1,
    replicas: [1, 2, 3],
    isr,
  };
}

describe('partition change counts', () => {
  test('elections, shrinks and expands; refusals and restores count nothing', () => {
    const image = new MetadataImage();
    const counts = new PartitionChangeCounts(image);
    const commands: MetadataCommand[] = [
      register(1),
      register(2),
      register(3),
      {
        type: 'create-topic',
        name: 't',
        topicId: 'id-t',
        partitions: [{ replicas: [1, 2, 3] }],
        configs: {},
      },
      change(0, 2, [2, 3]), // new leader 2, ISR 3 → 2: one election, one shrink
      change(0, 3, [3]), // stale partition epoch: refused
      change(1, 2, [1, 2, 3]), // same leader, ISR 2 → 3: one expand
    ];
    const results = commands.map((command, i) => image.apply(command, i + 1));
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true, false, true]);
    expect([counts.leaderElections, counts.isrShrinks, counts.isrExpands]).toEqual([1, 1, 1]);
    const other = new MetadataImage();
    const otherCounts = new PartitionChangeCounts(other);
    other.restore(image.snapshot());
    other.apply(change(2, 1, [1]), 100);
    expect([otherCounts.leaderElections, otherCounts.isrShrinks, otherCounts.isrExpands]).toEqual([
      1, 1, 0,
    ]);
  });
});

function progress(id: number, logEndOffset: number | null, lastCaughtUpMs: number) {
  const p: FollowerProgress = {
    id: toNodeId(id),
    logEndOffset,
    lastCaughtUpMs,
    lastFetchMs: lastCaughtUpMs,
    lastFetchLeaderEndOffset: logEndOffset ?? 0,
  };
  return p;
}

describe('replica lag', () => {
  test('caught-up followers lag 0; the slowest sets offsets, the longest behind sets time', () => {
    expect(replicaLag([], 10, 5_000)).toEqual({ offsetsMax: 0, msMax: 0 });
    // Holding the leader's log end: 0 whatever the age of its last catch-up.
    expect(replicaLag([progress(2, 10, 1_000)], 10, 5_000)).toEqual({ offsetsMax: 0, msMax: 0 });
    const lag = replicaLag(
      [progress(2, 7, 4_000), progress(3, 9, 2_500), progress(4, 10, 0)],
      10,
      5_000,
    );
    expect(lag).toEqual({ offsetsMax: 3, msMax: 2_500 });
  });

  test('a follower not heard from in this epoch counts in time only', () => {
    expect(replicaLag([progress(2, null, 1_000)], 50, 4_000)).toEqual({
      offsetsMax: 0,
      msMax: 3_000,
    });
  });
});
