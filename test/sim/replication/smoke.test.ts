import { expect, test } from 'vitest';
import { SimCluster, defaultSimOptions } from '../../support/replication-sim/sim-cluster.ts';
import { checkConverged } from '../../support/replication-sim/sim-checker.ts';

test('smoke', () => {
  const cluster = new SimCluster({ ...defaultSimOptions, seed: 1, produceProbability: 0.5 });
  cluster.runFor(3000);
  expect(cluster.converge()).toBe(true);
  console.log(cluster.ghost.ackedAll.size, cluster.controller.history.length, cluster.node(1).log.logEndOffset);
  expect(checkConverged(cluster)).toEqual([]);
});
