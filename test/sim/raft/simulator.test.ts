// Goal: the Raft core survives the seeded simulator (drops, duplicates, delays, partitions,
// crashes, snapshots, membership changes, transfers) with zero violations, and the simulator can
// fail: lying storage twins (forget-vote, lose-tail) are caught. Method: runSimulation over a
// fixed seed range; a failure prints the seed and the replay command.
import { describe, expect, test } from 'vitest';
import { SimCluster } from '../../support/raft-sim/sim-cluster.ts';
import { runSimulation, simDefaults } from '../../support/raft-sim/sim-runner.ts';

const seeds = Number(process.env['RAFT_SIM_SEEDS'] ?? 200);
const firstSeed = Number(process.env['RAFT_SIM_FIRST_SEED'] ?? 1);

describe('raft simulator', () => {
  test(`no violations over ${seeds} seeds from ${firstSeed}`, () => {
    const summary = runSimulation({
      firstSeed,
      seeds,
      steps: simDefaults.steps,
      nodes: null,
      fault: 'none',
      livenessTicksMax: simDefaults.livenessTicksMax,
      onViolation: (outcome, replay) =>
        console.log(`seed=${outcome.seed} step=${outcome.step}: ${outcome.violation} (${replay})`),
    });
    expect(summary.failures.map((f) => `seed=${f.seed}: ${f.violation}`)).toEqual([]);
    expect(summary.commits).toBeGreaterThan(seeds * 20);
  }, 300_000); // ~15 s of CPU; the margin is for a shared, loaded CI machine.

  test('mutation: storage that forgets term and vote on restart is caught (forget-vote)', () => {
    const summary = runSimulation({
      firstSeed: 1,
      seeds: 60,
      steps: 600,
      nodes: null,
      fault: 'forget-vote',
      livenessTicksMax: simDefaults.livenessTicksMax,
    });
    console.log(`forget-vote: ${summary.violations} of 60 seeds caught`);
    expect(summary.violations).toBeGreaterThan(0);
  });

  test('mutation: storage that loses acknowledged entries on restart is caught (lose-tail)', () => {
    const summary = runSimulation({
      firstSeed: 1,
      seeds: 30,
      steps: 600,
      nodes: null,
      fault: 'lose-tail',
      livenessTicksMax: simDefaults.livenessTicksMax,
    });
    console.log(`lose-tail: ${summary.violations} of 30 seeds caught`);
    expect(summary.violations).toBeGreaterThan(0);
  });

  test('a seed replays exactly', () => {
    const options = {
      seed: 4242,
      steps: 400,
      nodes: 5,
      fault: 'none',
      livenessTicksMax: 400,
    } as const;
    expect(new SimCluster(options).run()).toEqual(new SimCluster(options).run());
  });
});
