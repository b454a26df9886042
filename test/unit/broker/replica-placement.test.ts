// Goal: replica placement spreads leaders evenly and never repeats a node in a partition.
// Method: exhaustive small cases checked against those two properties.
import { expect, test } from 'vitest';
import { assignReplicas } from '../../../src/broker/index.ts';

test('every partition has distinct replicas and leaders are spread evenly', () => {
  for (let n = 1; n <= 6; n += 1) {
    const nodes = Array.from({ length: n }, (_, i) => i + 1);
    for (let rf = 1; rf <= n; rf += 1) {
      for (const start of [0, 1, n - 1]) {
        const assignment = assignReplicas(nodes, 4 * n, rf, start);
        for (const replicas of assignment) {
          expect(replicas).toHaveLength(rf);
          expect(new Set(replicas).size).toBe(rf);
        }
        const leaders = new Map<number, number>();
        for (const [leader] of assignment) leaders.set(leader!, (leaders.get(leader!) ?? 0) + 1);
        expect([...leaders.values()]).toEqual(Array(n).fill(4));
      }
    }
  }
});

test('followers shift every round, so follower sets differ across rounds', () => {
  const assignment = assignReplicas([1, 2, 3, 4], 8, 2, 0);
  expect(assignment.slice(0, 4)).toEqual([
    [1, 2],
    [2, 3],
    [3, 4],
    [4, 1],
  ]);
  expect(assignment.slice(4)).toEqual([
    [1, 3],
    [2, 4],
    [3, 1],
    [4, 2],
  ]);
});
