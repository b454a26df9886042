// Goal: no replication invariant breaks under random faults, and the cluster always converges.
// Method: swarm testing — each seed draws its own fault profile (loss, delay, crashes,
// partitions, acks mix) and runs whole brokers in one process for a few virtual seconds with
// every §2.3 invariant checked after each event, then a liveness phase (heal, restart all)
// and P-DIV. Replay one seed: SIM_SEED=123 npx vitest run test/sim/replication/seed-sweep.
// More: SIM_RUNS=2000 for a longer sweep.
import { describe, expect, test } from 'vitest';
import { SimCluster, swarmOptions } from '../../support/replication-sim/sim-cluster.ts';
import { checkConverged } from '../../support/replication-sim/sim-checker.ts';
import type { SimFlush } from '../../support/replication-sim/memory-replica-log.ts';
import { hwTruncatingFollower } from '../../support/replication-sim/mutant-followers.ts';

const runs = Number(process.env.SIM_RUNS ?? 100);
const onlySeed = process.env.SIM_SEED === undefined ? null : Number(process.env.SIM_SEED);
const safetyPhaseMs = 4000;
/** Long sweeps run synchronously, so give vitest room: about 0.5 s per seed at worst. */
const sweepTimeoutMs = Math.max(60_000, runs * 500);

function seeds(offset: number): number[] {
  if (onlySeed !== null) return [onlySeed];
  return Array.from({ length: runs }, (_, i) => offset + i);
}

/** Runs one seed; returns a failure description with seed and options, or null. */
function runSeed(seed: number, flush: SimFlush, mutant = false): string | null {
  const overrides = mutant ? { flush, followerFactory: hwTruncatingFollower } : { flush };
  const cluster = new SimCluster(swarmOptions(seed, overrides));
  try {
    cluster.runFor(safetyPhaseMs);
    if (!cluster.converge()) {
      return (
        `no convergence ${cluster.describe()} state=${JSON.stringify(cluster.controller.state)}\n` +
        cluster.trace.slice(-40).join('\n')
      );
    }
    const problems = checkConverged(cluster);
    return problems.length === 0
      ? null
      : `${problems.slice(0, 10).join('; ')}\n${cluster.describe()}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

describe('replication seed sweep', () => {
  for (const flush of ['always', 'never'] as const) {
    test(
      `log.flush=${flush}: invariants hold and every seed converges`,
      () => {
        const offset = flush === 'always' ? 1 : 100_001;
        const failures: string[] = [];
        for (const seed of seeds(offset)) {
          const failure = runSeed(seed, flush);
          if (failure !== null) failures.push(failure);
          if (failures.length >= 3) break;
        }
        if (failures.length > 0) console.error(failures.join('\n\n'));
        expect(failures).toEqual([]);
      },
      sweepTimeoutMs,
    );
  }

  test('the sweep catches the HW-truncation mutant within 60 seeds', () => {
    let caught: string | null = null;
    for (let seed = 1; seed <= 60 && caught === null; seed += 1)
      caught = runSeed(seed, 'always', true);
    expect(caught).toMatch(/StrongIsr|acked .* missing|P-DIV|lost acked/);
  });

  test('the sweep is deterministic: one seed twice gives the same history', () => {
    const trace = (): string => {
      const cluster = new SimCluster(swarmOptions(4242));
      cluster.runFor(2000);
      return JSON.stringify([
        cluster.controller.history,
        cluster.nodes.map((n) => n.log.records),
        cluster.trace,
      ]);
    };
    expect(trace()).toBe(trace());
  });
});
