// Goal: the two known failures of high-watermark truncation (KIP-101 scenarios 1 and 2) and
// the fast double failover of KIP-279 do not happen with leader-epoch truncation, and the
// checker catches each when a mutant follower reintroduces the old logic.
// Method: scripted, deterministic runs of the replication simulator (whole brokers, the
// scripted controller, a virtual clock); invariants are checked after every event.
import { describe, expect, test } from 'vitest';
import {
  SimCluster,
  defaultSimOptions,
  type SimOptions,
} from '../../support/replication-sim/sim-cluster.ts';
import { checkConverged } from '../../support/replication-sim/sim-checker.ts';
import { realFollower, type FollowerFactory } from '../../support/replication-sim/sim-node.ts';
import {
  hwTruncatingFollower,
  kip101OnlyFollower,
} from '../../support/replication-sim/mutant-followers.ts';

function cluster(options: Partial<SimOptions>): SimCluster {
  return new SimCluster({ ...defaultSimOptions, seed: 1, ...options });
}

function acked(sim: SimCluster, produceId: number): boolean {
  return sim.ghost.produced.get(produceId)?.result === 'acked';
}

/** What the checker reports for a scenario: the violation thrown mid-run, or end-of-run problems. */
function problemsOf(scenario: () => SimCluster): string {
  try {
    return finish(scenario()).join('; ');
  } catch (error) {
    return String(error);
  }
}

/** Converges and returns the end-of-run problems (P-DIV, lost acked writes). */
function finish(sim: SimCluster): string[] {
  if (!sim.converge()) return [`no convergence: ${JSON.stringify(sim.controller.state)}`];
  return checkConverged(sim);
}

/**
 * KIP-101 scenario 1. Leader 1 and follower 2 hold m1. m2 (acks=all) is acked once 2 has it,
 * but 2 restarts before it learns HW=2; then 1 dies and 2 takes over.
 */
function kip101LostWrite(followerFactory: FollowerFactory): SimCluster {
  const sim = cluster({ nodeCount: 2, minInsyncReplicas: 1, followerFactory });
  sim.settle();
  const m1 = sim.produce('m1', 'all');
  sim.must(() => acked(sim, m1) && sim.node(2).log.highWatermarkCheckpoint === 1, 'm1');
  sim.produce('m2', 'all');
  const leader = sim.node(1);
  sim.must(() => leader.role.kind === 'leader' && leader.role.replica.highWatermark === 2, 'HW 2');
  expect(sim.node(2).log.highWatermarkCheckpoint).toBe(1); // The response with HW=2 is in flight.
  sim.crash(2);
  sim.restart(2, { keepSession: true });
  sim.must(() => sim.node(2).role.kind === 'follower', 'node 2 follows again');
  sim.crash(1);
  sim.must(() => sim.node(2).role.kind === 'leader', 'node 2 leads');
  sim.runFor(500);
  return sim;
}

/**
 * KIP-101 scenario 2 (log.flush=never). Leader 1 flushed m1, m2; follower 2 flushed only m1.
 * Both lose power; 2 comes back first, leads and takes m3 at offset 1; then 1 returns.
 */
function kip101Divergence(followerFactory: FollowerFactory): SimCluster {
  const sim = cluster({ nodeCount: 2, minInsyncReplicas: 1, flush: 'never', followerFactory });
  sim.settle();
  const m1 = sim.produce('m1', 'all');
  sim.must(() => acked(sim, m1) && sim.node(2).log.logEndOffset === 1, 'm1');
  sim.node(1).log.flushNow();
  sim.node(2).log.flushNow();
  const m2 = sim.produce('m2', 'all');
  sim.must(() => acked(sim, m2) && sim.node(2).log.highWatermarkCheckpoint === 2, 'm2');
  sim.node(1).log.flushNow();
  sim.crash(1);
  sim.crash(2);
  expect(sim.node(2).log.logEndOffset).toBe(1);
  sim.restart(2, { keepSession: true });
  sim.must(() => sim.node(2).role.kind === 'leader', 'node 2 leads');
  const m3 = sim.produce('m3', 1);
  sim.must(() => acked(sim, m3), 'm3');
  sim.restart(1);
  sim.runFor(1000);
  return sim;
}

/**
 * KIP-279. 1 leads epoch 0 and writes m2 (acks=1) that only 3 gets. 1 dies; 2 leads epoch 1
 * and writes m3 at offset 1; 2 dies before 3 follows it; 3 leads epoch 2 with m2 at 1.
 */
function kip279FastFailover(
  followerFactory: FollowerFactory,
  assignEpochOnElection = true,
): SimCluster {
  const sim = cluster({
    nodeCount: 3,
    minInsyncReplicas: 1,
    followerFactory,
    assignEpochOnElection,
  });
  sim.settle();
  const m1 = sim.produce('m1', 'all');
  sim.must(() => acked(sim, m1), 'm1');
  sim.partition(1, 2);
  sim.produce('m2', 1);
  sim.must(() => sim.node(3).log.logEndOffset === 2, 'm2 on node 3');
  sim.crash(1);
  sim.partition(2, 3);
  sim.must(() => sim.node(2).role.kind === 'leader', 'node 2 leads');
  const m3 = sim.produce('m3', 1);
  sim.must(() => acked(sim, m3), 'm3');
  sim.crash(2);
  sim.must(() => sim.node(3).role.kind === 'leader', 'node 3 leads');
  expect(sim.node(3).log.values).toEqual(['m1', 'm2']);
  sim.heal();
  sim.restart(2);
  sim.restart(1);
  sim.runFor(1000);
  return sim;
}

describe('leader-epoch truncation', () => {
  test('P5 KIP-101 #1: HW truncation + immediate election loses nothing', () => {
    const sim = kip101LostWrite(realFollower);
    expect(sim.node(2).log.values).toEqual(['m1', 'm2']);
    expect(finish(sim)).toEqual([]);
  });

  test('P5 mutant: a follower that truncates to its HW loses the acked write', () => {
    expect(() => kip101LostWrite(hwTruncatingFollower)).toThrow(
      /acked m2@1 missing on ISR member 2/,
    );
  });

  test('P6 KIP-101 #2: no divergence after a double hard failure (flush=never)', () => {
    const sim = kip101Divergence(realFollower);
    expect(finish(sim)).toEqual([]);
    expect(sim.node(1).log.values.slice(0, 2)).toEqual(['m1', 'm3']);
  });

  test('P6 mutant: a follower that truncates to its HW diverges', () => {
    expect(problemsOf(() => kip101Divergence(hwTruncatingFollower))).toMatch(/P-DIV/);
  });

  test('P7 KIP-279: fast double failover converges', () => {
    const sim = kip279FastFailover(realFollower);
    expect(finish(sim)).toEqual([]);
    expect(sim.node(2).log.values.slice(0, 2)).toEqual(['m1', 'm2']);
  });

  test('P7 KIP-279: converges too when a leader opens its epoch only at its first append', () => {
    const sim = kip279FastFailover(realFollower, false);
    expect(finish(sim)).toEqual([]);
    expect(sim.node(2).log.values.slice(0, 2)).toEqual(['m1', 'm2']);
  });

  test('P7 mutant: KIP-101 end offsets without KIP-279 iteration diverge', () => {
    const problems = problemsOf(() => kip279FastFailover(kip101OnlyFollower));
    expect(problems).toMatch(/(Strong|Weak)Isr: leader 3 HW 2 but ISR member 2 has .*m3/);
  });
});
