// Goal (issue 14): the console's live feed reads only while someone watches (no timer with zero
// subscribers), bounds its subscribers, sends a change at once and folds rates and lag into its
// history correctly: rates from each node's produce and consumer-fetch totals (a node that
// restarted or did not answer adds nothing, so no spike), and the first event carries the
// minutes the nodes sampled before anyone watched. Method: ConsoleFeed and NodeSampler on a
// ManualClock with a scripted reader.
import { expect, test } from 'vitest';
import { ApiError } from '../../../../src/api/errors.ts';
import { ConsoleFeed } from '../../../../src/api/console/console-feed.ts';
import {
  advanceHistory,
  emptyHistory,
  partitionHealth,
  type ConsoleReading,
} from '../../../../src/api/console/console-view.ts';
import {
  NodeSampler,
  nodeHistoryPointsMax,
  nodeSampleIntervalMs,
  ratesFromHistories,
  type NodeTotals,
} from '../../../../src/api/console/console-history.ts';
import { ManualClock } from '../../../support/broker/manual-clock.ts';

/** Node 1 has produced `hw` records and served `served`; more nodes' totals in `others`. */
function reading(
  hw: number,
  committed: number,
  leader: number | null = 1,
  others: (NodeTotals | null)[] = [],
  served = committed,
): ConsoleReading {
  const node = (nodeId: number, totals: NodeTotals | null) => ({
    nodeId,
    url: `http://n${nodeId}`,
    status: null,
    totals,
  });
  return {
    nodeId: 1,
    consoleWrite: false,
    cluster: { clusterId: 'c', controllerId: 1, brokers: [] },
    raft: [
      node(1, { producedRecords: hw, consumedRecords: served }),
      ...others.map((t, i) => node(i + 2, t)),
    ],
    topics: [
      {
        name: 't',
        topicId: 'x',
        configs: {},
        partitions: [
          {
            partition: 0,
            leader,
            leaderEpoch: 0,
            replicas: [1, 2],
            isr: [1],
            logStartOffset: 0,
            highWatermark: hw,
            sizeBytes: 100,
            offsetsSource: 'leader',
          },
        ],
      },
    ],
    topicsLeftOut: 0,
    groups: [
      {
        group: 'g',
        state: 'stable',
        protocol: 'consumer',
        groupEpoch: 1,
        assignor: 'uniform',
        members: [],
        offsets: [
          {
            topic: 't',
            partition: 0,
            owner: null,
            committedOffset: committed,
            highWatermark: hw,
            lag: hw - committed,
            lagSeconds: 0,
          },
        ],
      },
    ],
    groupsLeftOut: 0,
    streams: [],
    streamsLeftOut: 0,
  };
}

function setUp(subscribersMax = 2) {
  const clock = new ManualClock();
  let wallMs = 1_000_000;
  let hw = 0;
  const reads: number[] = [];
  const withHistories: boolean[] = [];
  const watchedAt: string[][] = [];
  const idle = { count: 0 };
  const feed = new ConsoleFeed(
    { readIntervalMs: 500, subscribersMax, historyPointsMax: 4, resendMs: 1_000 },
    {
      clock,
      sampleIntervalMs: nodeSampleIntervalMs,
      wallClock: { wallMs: () => wallMs },
      read: (withHistory, watched) => {
        reads.push(clock.nowMs());
        watchedAt.push([...watched]);
        withHistories.push(withHistory);
        const histories = [
          { t: [990, 1000], producedRecords: [0, 50], consumedRecords: [0, 20] },
          { t: [991, 1001], producedRecords: [10, 40], consumedRecords: [5, 5] },
        ];
        return Promise.resolve({ ...reading(hw, 0), ...(withHistory ? { histories } : {}) });
      },
      onReadError: (error) => {
        throw error;
      },
      onIdle: () => (idle.count += 1),
    },
  );
  const tick = async (ms: number) => {
    wallMs += ms;
    clock.advance(ms);
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
  };
  const setHw = (n: number) => (hw = n);
  return { clock, feed, reads, withHistories, watchedAt, idle, tick, setHw };
}

test('a topic a stream asks for by name is read while that stream is open', async () => {
  const { feed, watchedAt, tick } = setUp(3);
  const quiet = { send: () => undefined, close: () => undefined };
  const unwatchFar = feed.subscribe({ ...quiet }, 'far');
  feed.subscribe({ ...quiet }, null);
  const unwatchFar2 = feed.subscribe({ ...quiet }, 'far');
  await tick(0);
  expect(watchedAt.at(-1)).toEqual(['far']);
  unwatchFar();
  await tick(500);
  expect(watchedAt.at(-1)).toEqual(['far']);
  unwatchFar2();
  await tick(500);
  expect(watchedAt.at(-1)).toEqual([]);
});

test('no timer runs and nothing is read while nobody subscribes', async () => {
  const { clock, feed, reads, tick, idle } = setUp();
  expect(clock.pendingTimers).toBe(0);
  await tick(10_000);
  expect(reads).toEqual([]);
  const events: string[] = [];
  const unsubscribe = feed.subscribe({
    send: (_event, data) => events.push(data),
    close: () => undefined,
  });
  expect(feed.isActive).toBe(true);
  await tick(0);
  await tick(500);
  await tick(500);
  expect(reads.length).toBe(3);
  expect(events.length).toBeGreaterThanOrEqual(1);
  expect(idle.count).toBe(0);
  unsubscribe();
  expect(clock.pendingTimers).toBe(0);
  expect(feed.isActive).toBe(false);
  // What the reads kept (the streams page's cursors) is dropped with the last subscriber.
  expect(idle.count).toBe(1);
  await tick(10_000);
  expect(reads.length).toBe(3);
});

test('a change is sent at the next read, and a new subscriber gets the last view at once', async () => {
  const { feed, tick, setHw, withHistories } = setUp();
  const first: { hw: number; inRate: (number | null)[] }[] = [];
  const unsubscribe = feed.subscribe({
    close: () => undefined,
    send: (_event, data) => {
      const state = JSON.parse(data);
      first.push({ hw: state.topics[0].partitions[0].highWatermark, inRate: state.history.inRate });
    },
  });
  await tick(0);
  setHw(100);
  await tick(500);
  expect(first.at(-1)?.hw).toBe(100);
  // The nodes' samples first (50 + 30 records in 10 s), then the live reads: 100 records in 0.5 s.
  expect(first.at(-1)?.inRate).toEqual([8, null, 200]);
  const late: string[] = [];
  const second = feed.subscribe({
    send: (_event, data) => late.push(data),
    close: () => undefined,
  });
  expect(late.length).toBe(1);
  second();
  unsubscribe();
  // Only the first read of a watch asks the nodes for their samples.
  expect(withHistories).toEqual([true, false]);
});

test('subscribers beyond subscribersMax are refused with BROKER_BUSY naming the limit', () => {
  const { feed } = setUp(2);
  const send = () => undefined;
  const close = () => undefined;
  const a = feed.subscribe({ send, close });
  feed.subscribe({ send, close });
  let refusal: unknown = null;
  try {
    feed.subscribe({ send, close });
  } catch (error) {
    refusal = error;
  }
  expect(refusal).toBeInstanceOf(ApiError);
  expect((refusal as ApiError).code).toBe('BROKER_BUSY');
  expect((refusal as ApiError).details).toMatchObject({ limit: 'consoleSubscribersMax' });
  a();
  expect(() => feed.subscribe({ send, close })).not.toThrow();
});

test('history: rates from totals, no negative rate, lag per group, bounded points', () => {
  let history = advanceHistory(emptyHistory, reading(10, 0), 1_000, 3);
  history = advanceHistory(history, reading(30, 10), 2_000, 3);
  expect(history.inRate).toEqual([null, 20]);
  expect(history.outRate).toEqual([null, 10]);
  expect(history.lag['g']).toEqual([10, 20]);
  history = advanceHistory(history, reading(5, 0), 3_000, 3);
  expect(history.inRate).toEqual([null, 20, null]);
  history = advanceHistory(history, reading(15, 5), 5_000, 3);
  expect(history.t).toEqual([2, 3, 5]);
  expect(history.inRate).toEqual([20, null, 5]);
  expect(history.lag['g']).toEqual([20, 5, 10]);
});

test('partition health counts under-replicated and offline partitions', () => {
  expect(partitionHealth(reading(0, 0))).toEqual({ underReplicated: 1, offline: 0 });
  expect(partitionHealth(reading(0, 0, null))).toEqual({ underReplicated: 0, offline: 1 });
});

test('rates: a node that restarted or did not answer adds nothing, the others still count', () => {
  let history = advanceHistory(
    emptyHistory,
    reading(100, 0, 1, [{ producedRecords: 500, consumedRecords: 70 }], 40),
    1_000,
    10,
  );
  history = advanceHistory(
    history,
    reading(150, 0, 1, [{ producedRecords: 3, consumedRecords: 1 }], 60),
    2_000,
    10,
  );
  // Node 2 restarted (its totals went down): only node 1's 50 in and 20 out count, no spike.
  expect(history.inRate.at(-1)).toBe(50);
  expect(history.outRate.at(-1)).toBe(20);
  history = advanceHistory(history, reading(160, 0, 1, [null], 60), 3_000, 10);
  expect(history.inRate.at(-1)).toBe(10);
  expect(history.outRate.at(-1)).toBe(0);
  // Node 2 answers again: no rate for it until two of its readings follow each other.
  history = advanceHistory(
    history,
    reading(170, 0, 1, [{ producedRecords: 900, consumedRecords: 9 }], 60),
    4_000,
    10,
  );
  expect(history.inRate.at(-1)).toBe(10);
});

test("the nodes' rings become cluster rates on a shared grid", () => {
  const rates = ratesFromHistories(
    [
      { t: [10, 20, 30], producedRecords: [0, 100, 300], consumedRecords: [0, 0, 50] },
      { t: [20.3, 30.2], producedRecords: [7, 57], consumedRecords: [1, 0] },
    ],
    10_000,
  );
  expect(rates.t).toEqual([20, 30]);
  expect(rates.inRate[0]).toBe(10);
  expect(rates.inRate[1]).toBeCloseTo(20 + 50 / 9.9, 6);
  // Node 2's consumed total went down (a restart): its point adds nothing.
  expect(rates.outRate).toEqual([0, 5]);
});

test('every node samples its totals on the wall-clock grid into a bounded ring', async () => {
  const clock = new ManualClock();
  let wallMs = 1_000_003_000;
  let produced = 0;
  const sampler = new NodeSampler({
    intervalMs: nodeSampleIntervalMs,
    schedule: (delayMs, run) => clock.schedule(delayMs, run),
    wallMs: () => wallMs,
    totals: () => Promise.resolve({ producedRecords: produced, consumedRecords: 0 }),
  });
  expect(clock.pendingTimers).toBe(1);
  const tick = async (ms: number) => {
    wallMs += ms;
    clock.advance(ms);
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
  };
  await tick(7_000);
  expect(sampler.history.t).toEqual([1_000_010]);
  for (let i = 0; i < nodeHistoryPointsMax + 5; i += 1) {
    produced += 10;
    await tick(nodeSampleIntervalMs);
  }
  expect(sampler.history.t.length).toBe(nodeHistoryPointsMax);
  expect(sampler.history.producedRecords.at(-1)).toBe(produced);
  expect(clock.pendingTimers).toBe(1);
  sampler.stop();
  expect(clock.pendingTimers).toBe(0);
});
