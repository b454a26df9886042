// Goal: leader changes and ISR shrinks/expands are counted once each as the image applies them;
// refused commands, new topics and restored snapshots count nothing.
import { describe, expect, test } from 'vitest';
import { MetadataImage, type MetadataCommand } from '../../../src/broker/index.ts';
import { PartitionChangeCounts } from '../../../src/broker/partition-metrics.ts';

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
