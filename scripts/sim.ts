// `npm run sim -- --seeds N [--steps S] [--nodes K] [--seed X] [--fault F]`: runs the seeded
// Raft simulator. Seeds run from X (default 1) to X+N-1; `--seed X` alone replays one run.
// With `--cluster` it runs the whole-cluster simulator instead (brokers, controller and
// replication; test/support/cluster-sim), with a swarm fault profile drawn from each seed.
// Prints one line per violation (seed, tick, replay command); the LAST line is always
// `seeds=N violations=V steps=… commits=… messages=… elapsed_ms=…`.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { runSimulation, simDefaults } from '../test/support/raft-sim/sim-runner.ts';
import type { StorageFault } from '../test/support/raft-sim/memory-storage.ts';
import { runClusterSeed } from '../test/support/cluster-sim/cluster-runner.ts';
import { swarmClusterOptions } from '../test/support/cluster-sim/cluster-sim.ts';

const faults: readonly StorageFault[] = ['none', 'forget-vote', 'lose-tail'];

function integer(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be an integer`);
  return value;
}

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    steps: { type: 'string' },
    nodes: { type: 'string' },
    seed: { type: 'string' },
    fault: { type: 'string' },
    verbose: { type: 'boolean' },
    cluster: { type: 'boolean' },
  },
});
if (values.cluster === true) {
  await runCluster(integer(values.seed, 1, 'seed'), integer(values.seeds, 1, 'seeds'));
  process.exit();
}

/** The whole-cluster sweep; the last line is `seeds=N violations=V … elapsed_ms=…`. */
async function runCluster(firstSeed: number, seeds: number): Promise<void> {
  const started = performance.now();
  let violations = 0;
  let elections = 0;
  for (let seed = firstSeed; seed < firstSeed + seeds; seed += 1) {
    const run = await runClusterSeed(swarmClusterOptions(seed));
    elections += run.leaderEpochs;
    if (run.problem === null) continue;
    violations += 1;
    console.log(`violation seed=${seed}: ${run.problem} (npm run sim -- --cluster --seed ${seed})`);
  }
  const elapsed = Math.round(performance.now() - started);
  console.log(
    `seeds=${seeds} violations=${violations} elections=${elections} elapsed_ms=${elapsed}`,
  );
  process.exitCode = violations > 0 ? 1 : 0;
}
const fault = (values.fault ?? 'none') as StorageFault;
if (!faults.includes(fault)) throw new Error(`--fault must be one of ${faults.join(', ')}`);
const nodes = values.nodes === undefined ? null : integer(values.nodes, 3, 'nodes');
const started = performance.now();
const summary = runSimulation({
  firstSeed: integer(values.seed, 1, 'seed'),
  seeds: integer(values.seeds, 1, 'seeds'),
  steps: integer(values.steps, simDefaults.steps, 'steps'),
  nodes,
  fault,
  livenessTicksMax: simDefaults.livenessTicksMax,
  onSeed: (done, violations) => {
    if (done % 1000 === 0) process.stderr.write(`… ${done} seeds, ${violations} violations\n`);
  },
  onViolation: (outcome, replay) =>
    console.log(
      `violation seed=${outcome.seed} step=${outcome.step}: ${outcome.violation} (${replay})`,
    ),
});
const elapsed = Math.round(performance.now() - started);
console.log(
  `seeds=${summary.seeds} violations=${summary.violations} steps=${summary.steps} ` +
    `commits=${summary.commits} messages=${summary.messages} elapsed_ms=${elapsed}`,
);
process.exitCode = summary.violations > 0 && fault === 'none' ? 1 : 0;
