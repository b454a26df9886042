// Replica placement for a new topic (pure): leaders round-robin over the nodes from a start
// index, followers on the next nodes with a shift that changes every full round, as Kafka's
// AdminUtils does, so leaders and follower pairs both spread. The proposer picks the start.
import { assert } from '../common/index.ts';

/** `nodeIds` must be distinct and sorted; returns one replica list per partition, leader first. */
export function assignReplicas(
  nodeIds: readonly number[],
  partitionCount: number,
  replicationFactor: number,
  startIndex: number,
): number[][] {
  const n = nodeIds.length;
  assert(replicationFactor >= 1 && replicationFactor <= n, 'replication factor out of range');
  assert(partitionCount >= 1, 'partition count must be positive');
  assert(Number.isInteger(startIndex) && startIndex >= 0, 'start index must be a natural');
  const assignments: number[][] = [];
  for (let p = 0; p < partitionCount; p += 1) {
    const leaderIndex = (startIndex + p) % n;
    const shift = n > 1 ? Math.floor(p / n) % (n - 1) : 0;
    const replicas = [nodeIds[leaderIndex] as number];
    for (let k = 1; k < replicationFactor; k += 1) {
      const offset = 1 + ((shift + k - 1) % (n - 1));
      replicas.push(nodeIds[(leaderIndex + offset) % n] as number);
    }
    assignments.push(replicas);
  }
  return assignments;
}
