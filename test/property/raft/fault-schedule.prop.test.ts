// Goal: no fault schedule (message loss, duplication, reordering, crashes, restarts, snapshots,
// transfers) breaks Raft safety, and a broken storage twin is caught with a SHRUNK schedule.
// Method: fast-check generates schedules as data for runSchedule; failures print the seed and
// the minimal schedule (replay with { seed, path } in fc.assert).
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { runSchedule, type ScheduleAction } from '../../support/raft-sim/schedule-runner.ts';

const node = fc.nat({ max: 4 });
const pick = fc.nat({ max: 1000 });
const fault: fc.Arbitrary<ScheduleAction> = fc.oneof(
  { weight: 3, arbitrary: node.map((n) => ({ type: 'tick', node: n }) as const) },
  { weight: 3, arbitrary: pick.map((p) => ({ type: 'deliver', pick: p }) as const) },
  { weight: 2, arbitrary: pick.map((p) => ({ type: 'drop', pick: p }) as const) },
  { weight: 2, arbitrary: pick.map((p) => ({ type: 'duplicate', pick: p }) as const) },
  { weight: 2, arbitrary: node.map((n) => ({ type: 'crash', node: n }) as const) },
  { weight: 2, arbitrary: node.map((n) => ({ type: 'isolate', node: n }) as const) },
  { weight: 2, arbitrary: fc.constant({ type: 'heal' } as const) },
  { weight: 2, arbitrary: node.map((n) => ({ type: 'restart', node: n }) as const) },
  { weight: 4, arbitrary: fc.constant({ type: 'propose' } as const) },
  { weight: 1, arbitrary: node.map((n) => ({ type: 'compact', node: n }) as const) },
  { weight: 1, arbitrary: node.map((n) => ({ type: 'transfer', node: n }) as const) },
);
/** A round: a few faults or workload actions, then time passes and messages flow. */
const round = fc
  .record({
    actions: fc.array(fault, { maxLength: 3 }),
    ticks: fc.nat({ max: 2 }),
    flushes: fc.array(pick, { minLength: 1, maxLength: 3 }),
  })
  .map(({ actions, ticks, flushes }): ScheduleAction[] => [
    ...actions,
    ...Array.from({ length: ticks }, () => ({ type: 'tick-all' }) as const),
    ...flushes.map((p) => ({ type: 'flush', pick: p }) as const),
  ]);
const schedule = fc.array(round, { minLength: 5, maxLength: 80 }).map((rounds) => rounds.flat());
const seed = Number(process.env['RAFT_PROP_SEED'] ?? 20261122);

describe('raft under random fault schedules', () => {
  test('safety holds for every schedule (3 and 5 nodes)', () => {
    const result = fc.check(
      fc.property(fc.constantFrom(3, 5), schedule, (nodes, actions) => {
        const outcome = runSchedule(nodes, actions);
        if (outcome !== null) throw new Error(`${outcome.violation} at action ${outcome.at}`);
      }),
      { seed, numRuns: 300 },
    );
    if (result.failed) {
      console.log(`seed=${result.seed} path=${result.counterexamplePath}`);
      console.log(JSON.stringify(result.counterexample));
    }
    expect(result.failed).toBe(false);
  });

  test('mutation: voters that grant every vote are caught, shrunk to a short schedule', () => {
    const result = fc.check(
      fc.property(schedule, (actions) => runSchedule(3, actions, 'grant-all-votes') === null),
      { seed, numRuns: 2000 },
    );
    expect(result.failed).toBe(true);
    const shrunk = result.counterexample?.[0] ?? [];
    console.log(
      `grant-all-votes caught: seed=${result.seed} path=${result.counterexamplePath} ` +
        `shrunk to ${shrunk.length} actions: ${JSON.stringify(shrunk)}`,
    );
    expect(shrunk.length).toBeLessThan(60);
  });
});
