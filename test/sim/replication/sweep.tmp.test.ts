import { expect, test } from 'vitest';
import { SimCluster, swarmOptions } from '../../support/replication-sim/sim-cluster.ts';
import { checkConverged } from '../../support/replication-sim/sim-checker.ts';

test('sweep', () => {
  const failures: string[] = [];
  for (let seed = 1; seed <= 40; seed += 1) {
    const cluster = new SimCluster(swarmOptions(seed));
    try {
      cluster.runFor(5000);
      if (!cluster.converge()) failures.push(`no convergence ${cluster.describe()} ${JSON.stringify(cluster.controller.state)} ` + cluster.trace.slice(-30).join('\n'));
      const problems = checkConverged(cluster);
      if (problems.length) failures.push(problems.join(',') + cluster.describe());
    } catch (error) {
      failures.push(String(error).slice(0, 3000));
    }
  }
  console.log(failures.slice(0, 2).join('\n\n=====\n'));
  console.log('failures', failures.length);
  expect(failures).toEqual([]);
});
