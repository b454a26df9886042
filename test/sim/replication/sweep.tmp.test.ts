import { expect, test } from 'vitest';
import { SimCluster, swarmOptions } from '../../support/replication-sim/sim-cluster.ts';
import { checkConverged } from '../../support/replication-sim/sim-checker.ts';

test('sweep', () => {
  const failures: string[] = [];
  let epochs = 0, acked = 0, losses = 0, truncs = 0;
  const flush = (process.env.FLUSH ?? 'always') as 'always' | 'never';
  for (let seed = 1; seed <= Number(process.env.N ?? 40); seed += 1) {
    const cluster = new SimCluster(swarmOptions(seed, { flush }));
    try {
      cluster.runFor(5000);
      if (!cluster.converge()) failures.push(`no convergence ${cluster.describe()} ${JSON.stringify(cluster.controller.state)} ` + cluster.trace.slice(-30).join('\n'));
      const problems = checkConverged(cluster);
      if (problems.length) failures.push(problems.join(',') + cluster.describe());
      epochs += cluster.controller.state.leaderEpoch; acked += cluster.ghost.ackedAll.size; losses += cluster.ghost.allowedLoss.length;
      truncs += cluster.trace.filter(l => l.includes('truncates')).length;
    } catch (error) {
      failures.push(String(error).slice(0, 3000));
    }
  }
  console.log(failures.slice(0, 2).join('\n\n=====\n'));
  console.log('failures', failures.length, { epochs, acked, losses, truncs });
  expect(failures).toEqual([]);
});
