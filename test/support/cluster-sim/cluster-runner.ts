// One swarm run of the cluster simulator, as the seed sweep and `npm run sim -- --cluster` use
// it: the fault phase, then heal, restart and converge, then the end-of-run checks. Returns
// null or the first problem (a violated invariant carries the seed, options and last events).
import { ClusterSim, type ClusterSimOptions } from './cluster-sim.ts';

export const clusterFaultPhaseMs = 3000;

export interface ClusterRunSummary {
  readonly problem: string | null;
  /** Leader elections and ISR changes committed, summed over partitions (how much happened). */
  readonly leaderEpochs: number;
  readonly partitionEpochs: number;
  readonly ackedAll: number;
  readonly crashes: number;
}

export async function runClusterSeed(
  options: ClusterSimOptions,
  faultPhaseMs = clusterFaultPhaseMs,
): Promise<ClusterRunSummary> {
  const sim = new ClusterSim(options);
  let problem: string | null = null;
  try {
    await sim.runFor(faultPhaseMs);
    if (await sim.converge()) {
      const problems = sim.finalProblems();
      problem = problems.length === 0 ? null : problems.join('; ');
    } else {
      const states = sim.ghosts.map((_, p) => JSON.stringify(sim.committedState(p)));
      problem = `liveness: no convergence (${states.join(' ')}) controller ${sim.controller()?.id}`;
    }
  } catch (error) {
    problem = error instanceof Error ? error.message : String(error);
  }
  let leaderEpochs = 0;
  let partitionEpochs = 0;
  for (let p = 0; p < options.partitionCount; p += 1) {
    leaderEpochs += sim.committedState(p)?.leaderEpoch ?? 0;
    partitionEpochs += sim.committedState(p)?.partitionEpoch ?? 0;
  }
  const ackedAll = sim.ghosts.reduce((sum, ghost) => sum + ghost.ackedAll.size, 0);
  return { problem, leaderEpochs, partitionEpochs, ackedAll, crashes: sim.crashes };
}
