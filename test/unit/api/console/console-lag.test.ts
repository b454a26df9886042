// Goal (issue 14): a group's lag chart opens with the last minutes, from a bounded ring each
// coordinator keeps whether or not a console is open. Method: the pure ring and seeding
// functions with plain numbers, NodeSampler on a ManualClock, the bounds, and one in-process
// node whose sampler reads a group's lag through its own routes.
import { afterAll, expect, test } from 'vitest';
import {
  NodeSampler,
  addSample,
  emptyNodeHistory,
  nodeHistoryPointsMax,
  type NodeHistory,
} from '../../../../src/api/console/console-history.ts';
import {
  lagOfOffsets,
  lagSampledGroupsMax,
  lagSampledPartitionsMax,
  pickSampled,
  sampleGroupLags,
} from '../../../../src/api/console/console-lag.ts';
import { seededHistory } from '../../../../src/api/console/console-view.ts';
import type { RillApp } from '../../../../src/api/server/index.ts';
import { ManualClock } from '../../../support/broker/manual-clock.ts';
import { startServer } from '../../../support/api/console-node.ts';
import { pollUntil } from '../../../support/poll.ts';

const totals = { producedRecords: 0, consumedRecords: 0 };
const sample = (lags: Record<string, number | null>, groupsLeftOut = 0) => ({
  lags,
  groupsLeftOut,
});

test('the ring keeps each group aligned with t, fills gaps, drops a group that left', () => {
  let h: NodeHistory = emptyNodeHistory;
  h = addSample(h, 10_000, totals, 3, sample({ a: 5 }));
  h = addSample(h, 20_000, totals, 3, sample({ a: 7, b: 1 }));
  expect(h.lag).toEqual({ a: [5, 7], b: [null, 1] });
  // Not read this time: every group goes on with a gap.
  h = addSample(h, 30_000, totals, 3, null);
  expect(h.lag).toEqual({ a: [5, 7, null], b: [null, 1, null] });
  // Bounded by pointsMax; `a` is no longer coordinated here.
  h = addSample(h, 40_000, totals, 3, sample({ b: 0 }, 4));
  expect(h.t).toEqual([20, 30, 40]);
  expect(h.lag).toEqual({ b: [1, null, 0] });
  expect(h.lagGroupsLeftOut).toBe(4);
});

test("a watch starts with every coordinator's sampled lag on the rates' time grid", () => {
  const node1: NodeHistory = {
    t: [10, 20.2, 30],
    producedRecords: [0, 100, 200],
    consumedRecords: [0, 0, 0],
    lag: { g1: [40, 30, 20] },
  };
  // Node 2 took g2 over at 30 s; an older node's answer has no lag at all.
  const node2: NodeHistory = {
    t: [20, 30.1],
    producedRecords: [0, 10],
    consumedRecords: [0, 0],
    lag: { g2: [null, 9] },
  };
  const old: NodeHistory = { t: [30], producedRecords: [1], consumedRecords: [1] };
  const seeded = seededHistory([node1, node2, old], 10_000);
  expect(seeded.t).toEqual([10, 20, 30]);
  expect(seeded.lag).toEqual({ g1: [40, 30, 20], g2: [null, null, 9] });
  expect(seeded.inRate[0]).toBeNull();
  expect(seeded.inRate[2]).toBeCloseTo(100 / 9.8 + 10 / 10.1, 6);
  expect(seeded.sampledPoints).toBe(3);
});

test('lag sums HW minus committed over partitions with a known HW; bounds pick whole groups', () => {
  const offsets = [
    { topic: 't', partition: 0, offset: 5, metadata: '' },
    { topic: 't', partition: 1, offset: 9, metadata: '' },
    { topic: 'u', partition: 0, offset: 3, metadata: '' },
  ];
  const hws = new Map<string, number | null>([
    ['t:0', 15],
    ['t:1', 4], // Behind a reset: never negative.
    ['u:0', null],
  ]);
  expect(lagOfOffsets(offsets, hws)).toBe(10);
  expect(lagOfOffsets(offsets.slice(2), hws)).toBeNull();
  const groups = Array.from({ length: 5 }, (_, i) => [`g${i}`, offsets.slice(0, i)] as const);
  // Three groups at most; four partitions at most: g3 (3 partitions) no longer fits.
  const { picked, leftOut } = pickSampled(groups, 3, 4);
  expect(picked.map(([g]) => g)).toEqual(['g0', 'g1', 'g2']);
  expect(leftOut).toBe(2);
  expect(pickSampled(groups, 10, 4).picked.map(([g]) => g)).toEqual(['g0', 'g1', 'g2']);
  expect(lagSampledGroupsMax).toBe(100);
  expect(lagSampledPartitionsMax).toBe(2_000);
});

test('the sampler reads the lags with its totals; a failed lag read leaves a gap', async () => {
  const clock = new ManualClock();
  let wallMs = 1_000_000_000;
  let lag: number | Error = 12;
  const sampler = new NodeSampler({
    intervalMs: 10_000,
    schedule: (delayMs, run) => clock.schedule(delayMs, run),
    wallMs: () => wallMs,
    totals: () => Promise.resolve(totals),
    groupLags: () =>
      lag instanceof Error ? Promise.reject(lag) : Promise.resolve(sample({ g: lag })),
  });
  const tick = async () => {
    wallMs += 10_000;
    clock.advance(10_000);
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
  };
  await tick();
  lag = new Error('coordinator loading');
  await tick();
  lag = 3;
  await tick();
  expect(sampler.history.lag).toEqual({ g: [12, null, 3] });
  for (let i = 0; i < nodeHistoryPointsMax; i += 1) await tick();
  expect(sampler.history.lag?.['g']).toHaveLength(nodeHistoryPointsMax);
  sampler.stop();
});

let node: RillApp | undefined;
afterAll(async () => {
  await node?.close();
});

test("a coordinator samples its group's lag through its own routes", async () => {
  ({ app: node } = await startServer(false));
  const app = node;
  const json = { 'content-type': 'application/json' };
  const post = async (url: string, payload: object) =>
    (await app.inject({ method: 'POST', url, headers: json, payload })).statusCode;
  expect(await post('/v1/topics', { name: 'lagged', partitions: 2, replicationFactor: 1 })).toBe(
    201,
  );
  for (const partition of [0, 1]) {
    const records = Array.from({ length: 10 + partition * 5 }, (_, i) => ({ value: `r${i}` }));
    expect(
      await post(`/v1/topics/lagged/partitions/${partition}/records?acks=1`, { records }),
    ).toBe(200);
  }
  expect(await sampleGroupLags(app)).toEqual({ lags: {}, groupsLeftOut: 0 });
  const reset = { topic: 'lagged', to: { offset: 4 }, dryRun: false };
  // The first group creates __consumer_offsets: its coordinator loads, then answers.
  await pollUntil('the offset reset', 10_000, async () =>
    (await post('/v1/groups/readers/offsets/reset', reset)) === 200 ? true : undefined,
  );
  // Partition 0: 10 − 4; partition 1: 15 − 4.
  expect(await sampleGroupLags(app)).toEqual({ lags: { readers: 17 }, groupsLeftOut: 0 });
});
