// Goal (issue 10, DESIGN.md §7.3-4): a consumer's reads are monotonic — the high watermark and
// log start offset it is answered never go back, a record once read never changes or vanishes,
// nothing is read at or above the HW, offsets are dense, and every record read was produced
// (no phantom, no value at two offsets). Method: as read-your-writes.property.test.ts — fault
// profiles from fast-check, the seeded cluster simulator's client history, the history checker —
// with leader failover made frequent. The checker's power: a leader that serves its whole log
// and claims its log end as the HW must be caught. Replay: RILL_PROPERTY_SEED, RILL_PROPERTY_RUNS.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { formatAnomalies } from '../../support/checker/checker.ts';
import {
  firstCaughtSeed,
  mutationProfile,
  runSimHistory,
  simOptionsOf,
  simProfile,
  simRegressions,
  type SimProfile,
} from '../../support/checker/sim-histories.ts';

const seed = Number(process.env['RILL_PROPERTY_SEED'] ?? Date.now() % 2 ** 31);
// As many histories as fit in the time budget (at most RILL_PROPERTY_RUNS), at least a floor.
const numRuns = Number(process.env['RILL_PROPERTY_RUNS'] ?? 2_000);
const budgetMs = Number(process.env['RILL_PROPERTY_SECONDS'] ?? 45) * 1000;
const runsFloor = Math.min(numRuns, 30);

/** Failover-heavy: a leader crash or isolation is likely in every run. */
const failoverProfile = simProfile.map((p): SimProfile => ({
  ...p,
  crashProbability: Math.max(p.crashProbability, 0.005),
  partitionProbability: Math.max(p.partitionProbability, 0.005),
}));


test('monotonic reads, no changed or phantom record, over simulated failovers', async () => {
  console.log(`monotonic-reads property seed=${seed} runs≤${numRuns} budget=${budgetMs} ms`);
  let histories = 0;
  let reads = 0;
  let records = 0;
  await fc.assert(
    fc.asyncProperty(failoverProfile, async (profile) => {
      const run = await runSimHistory(simOptionsOf(profile), profile.faultPhaseMs);
      histories += 1;
      reads += run.check.stats.fetches;
      records += run.check.stats.recordsRead;
      expect(run.simProblem, `simulator seed ${profile.seed}`).toBeNull();
      expect(formatAnomalies(run.check.anomalies), `simulator seed ${profile.seed}`).toBe('');
    }),
    {
      seed,
      numRuns,
      interruptAfterTimeLimit: budgetMs,
      markInterruptAsFailure: false,
      examples: simRegressions.map((profile) => [profile]),
    },
  );
  console.log(`monotonic-reads: ${histories} histories, ${reads} reads, ${records} records read`);
  expect(histories).toBeGreaterThanOrEqual(runsFloor);
  expect(records).toBeGreaterThan(histories);
}, 240_000);

test('a leader that serves above the HW (and calls its log end the HW) is caught', async () => {
  const caught = await firstCaughtSeed(
    60,
    (s) =>
      simOptionsOf(
        mutationProfile(s, { partitionProbability: 0.05, delayMsMax: 60, acksAllShare: 0.5 }),
        { unsafeLeader: 'serve-above-hw' },
      ),
    ['monotonic-reads', 'changed-record', 'phantom'],
  );
  console.log(`serve-above-hw caught at seed ${caught?.seed}:\n${caught?.report}`);
  expect(caught).not.toBeNull();
}, 120_000);
