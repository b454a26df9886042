// Goal (issue 10, DESIGN.md §7.1-2): what clients observe holds read-your-writes — after an
// acks=all write is acknowledged at offset o, every later fetch from a leader of that epoch or
// newer answers a high watermark above o and, where it reaches o, that record — and no
// acknowledged acks=all write is lost. Method: fast-check draws fault profiles (crashes of any
// node and of the controller, network partitions, loss, duplication, slow nodes); the seeded
// cluster simulator records every client operation; the history checker judges them. The
// checker's power is shown by a leader that acknowledges acks=all after its own append only:
// it must be caught, and so must a follower that truncates to its HW on a leader change. Replay: RILL_PROPERTY_SEED=<seed>; more runs: RILL_PROPERTY_RUNS=<n>.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { formatAnomalies } from '../../support/checker/checker.ts';
import { swarmClusterOptions } from '../../support/cluster-sim/cluster-sim.ts';
import { hwTruncatingFollower } from '../../support/replication-sim/mutant-followers.ts';
import { runSimHistory, simOptionsOf, simProfile } from '../../support/checker/sim-histories.ts';

const seed = Number(process.env['RILL_PROPERTY_SEED'] ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env['RILL_PROPERTY_RUNS'] ?? 60);

test('read-your-writes and no acknowledged write lost, over simulated faults', async () => {
  console.log(`read-your-writes property seed=${seed} runs=${numRuns}`);
  let ackedAll = 0;
  let fetches = 0;
  await fc.assert(
    fc.asyncProperty(simProfile, async (profile) => {
      const run = await runSimHistory(simOptionsOf(profile), profile.faultPhaseMs);
      ackedAll += run.check.stats.ackedAll;
      fetches += run.check.stats.fetches;
      const found = formatAnomalies(run.check.anomalies);
      expect(run.simProblem, `simulator seed ${profile.seed}`).toBeNull();
      expect(found, `simulator seed ${profile.seed}`).toBe('');
      expect(run.check.stats.undecided, 'the final reads reach every acked write').toBe(0);
    }),
    { seed, numRuns },
  );
  console.log(
    `read-your-writes: ${numRuns} histories, ${ackedAll} acks=all acked, ${fetches} reads`,
  );
  expect(ackedAll).toBeGreaterThan(numRuns);
}, 240_000);

test('a leader that acknowledges acks=all on its own append is caught', async () => {
  let caught = 0;
  let runs = 0;
  for (let s = 1; s <= 40 && caught === 0; s += 1) {
    runs += 1;
    const options = simOptionsOf(
      {
        seed: s,
        nodeCount: 3,
        partitionCount: 1,
        crashProbability: 0.01,
        controllerCrashProbability: 0,
        partitionProbability: 0.02,
        slowNodeProbability: 0.02,
        lossProbability: 0,
        duplicateProbability: 0,
        delayMsMax: 20,
        acksAllShare: 1,
        faultPhaseMs: 2_000,
      },
      { unsafeLeader: 'ack-on-append', checkInvariants: false },
    );
    const run = await runSimHistory(options, 2_000);
    const kinds = new Set(run.check.anomalies.map((a) => a.kind));
    if (kinds.has('lost-write') || kinds.has('read-your-writes')) {
      caught += 1;
      console.log(`ack-on-append caught at seed ${s}:\n${formatAnomalies(run.check.anomalies)}`);
    }
  }
  console.log(`ack-on-append caught after ${runs} seeds`);
  expect(caught).toBe(1);
}, 120_000);

test('a follower that truncates to its HW on a leader change (before KIP-101) is caught', async () => {
  let caughtAt: number | null = null;
  for (let s = 1; s <= 60 && caughtAt === null; s += 1) {
    const options = swarmClusterOptions(s, {
      nodeCount: 3,
      minInsyncReplicas: 1,
      acksAllShare: 1,
      flush: 'always',
      controllerCrashProbability: 0.01,
      crashProbability: 0.02,
      followerFactory: hwTruncatingFollower,
      checkInvariants: false,
    });
    const run = await runSimHistory(options, 3_000);
    const kinds = new Set(run.check.anomalies.map((a) => a.kind));
    if (kinds.has('lost-write') || kinds.has('changed-record')) {
      caughtAt = s;
      console.log(
        `hw-truncating follower caught at seed ${s}:\n${formatAnomalies(run.check.anomalies)}`,
      );
    }
  }
  expect(caughtAt).not.toBeNull();
}, 180_000);
