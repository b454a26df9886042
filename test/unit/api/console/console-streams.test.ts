// Goal (issue 14): the console's streams view reads what Rill Streams commits — one checkpoint
// record per task in `<app>-checkpoints` — and shows per task its owner, the lag of each input
// partition (HW − checkpointed offset) and its changelog coverage; a tombstone removes a task,
// a record that is not a checkpoint is skipped, and tasks beyond consoleStreamsTasksMax are
// counted, not kept. Method: the pure functions with hand-written records and descriptions.
import { expect, test } from 'vitest';
import {
  applyCheckpoints,
  consoleStreamsTasksMax,
  parseCheckpoint,
  streamsView,
  taskPartition,
  type CheckpointCursor,
} from '../../../../src/api/console/console-streams.ts';
import type { GroupDescriptionBody, TopicDescriptionBody } from '../../../../src/api/wire.ts';

const empty: CheckpointCursor = {
  nextOffset: 0,
  highWatermark: null,
  tasks: new Map(),
  tasksLeftOut: 0,
};

function checkpoint(task: string, offsets: Record<string, number>, seq = 1): string {
  return JSON.stringify({
    task,
    seq,
    offsets,
    streamTimeMs: 5_000,
    changelogs: { counts: 7 },
    outputs: {},
  });
}

function record(offset: number, key: string | null, value: string | null) {
  return { offset, timestamp: 1_000 + offset, key, value };
}

function topic(name: string, hws: number[], logStart = 0): TopicDescriptionBody {
  return {
    name,
    topicId: name,
    configs: {},
    partitions: hws.map((hw, partition) => ({
      partition,
      leader: 1,
      leaderEpoch: 0,
      replicas: [1],
      isr: [1],
      logStartOffset: logStart,
      highWatermark: hw,
      sizeBytes: 0,
      offsetsSource: 'leader' as const,
    })),
  };
}

test('checkpoints fold into the latest per task; tombstones and garbage', () => {
  let cursor = applyCheckpoints(empty, {
    records: [
      record(0, 'lines#0', checkpoint('lines#0', { lines: 3 })),
      record(1, 'lines#1', checkpoint('lines#1', {})),
      record(2, 'lines#0', checkpoint('lines#0', { lines: 9 }, 2)),
      record(3, 'junk', 'not json'),
      record(4, 'odd', '{"task":"odd"}'),
    ],
    nextOffset: 5,
    highWatermark: 6,
    logStartOffset: 0,
  });
  expect(cursor.nextOffset).toBe(5);
  expect([...cursor.tasks.keys()].sort()).toEqual(['lines#0', 'lines#1']);
  expect(cursor.tasks.get('lines#0')).toMatchObject({
    seq: 2,
    offsets: { lines: 9 },
    writtenMs: 1_002,
  });
  cursor = applyCheckpoints(cursor, {
    records: [record(5, 'lines#1', null)],
    nextOffset: 6,
    highWatermark: 6,
    logStartOffset: 0,
  });
  expect([...cursor.tasks.keys()]).toEqual(['lines#0']);
  expect(parseCheckpoint('[1]', 0)).toBeNull();
  expect(taskPartition('a+b#12')).toBe(12);
  expect(taskPartition('nohash')).toBeNull();
});

test(`tasks beyond consoleStreamsTasksMax (${consoleStreamsTasksMax}) are counted only`, () => {
  const records = Array.from({ length: consoleStreamsTasksMax + 3 }, (_, i) =>
    record(i, `t#${i}`, checkpoint(`t#${i}`, { t: 0 })),
  );
  const cursor = applyCheckpoints(empty, {
    records,
    nextOffset: records.length,
    highWatermark: records.length,
    logStartOffset: 0,
  });
  expect(cursor.tasks.size).toBe(consoleStreamsTasksMax);
  expect(cursor.tasksLeftOut).toBe(3);
});

test('the view: owner from the assignment, lag per input from the HW, changelog coverage', () => {
  const cursor = applyCheckpoints(empty, {
    records: [
      record(0, 'lines#0', checkpoint('lines#0', { lines: 30 })),
      record(1, 'lines#1', checkpoint('lines#1', {})),
    ],
    nextOffset: 2,
    highWatermark: 2,
    logStartOffset: 0,
  });
  const group: GroupDescriptionBody = {
    group: 'wc',
    state: 'stable',
    protocol: 'consumer',
    groupEpoch: 3,
    assignor: 'uniform',
    members: [
      {
        memberId: 'm-1',
        instanceId: 'box-a',
        memberEpoch: 3,
        clientHost: null,
        subscribedTopics: ['lines'],
        subscribedTopicRegex: null,
        assignment: [{ topic: 'lines', partitions: [1] }],
      },
    ],
    offsets: [],
  };
  const topics = [
    topic('wc-checkpoints', [2]),
    topic('lines', [40, 5]),
    topic('wc-counts-changelog', [9, 0], 2),
  ];
  const [app] = streamsView(new Map([['wc-checkpoints', cursor]]), topics, [group]);
  expect(app).toMatchObject({
    applicationId: 'wc',
    groupState: 'stable',
    members: 1,
    lag: 15,
    caughtUp: true,
  });
  const [t0, t1] = app!.tasks;
  // lines#0: nobody is assigned lines[0]; 40 − 30 behind; its store covered to 7 of 9.
  expect(t0).toMatchObject({ task: 'lines#0', owner: null, lag: 10, partition: 0 });
  expect(t0!.stores).toEqual([
    {
      store: 'counts',
      changelog: 'wc-counts-changelog',
      covered: 7,
      logStartOffset: 2,
      highWatermark: 9,
    },
  ]);
  // lines#1 has processed nothing: it starts at 0, as the runtime does.
  expect(t1).toMatchObject({ task: 'lines#1', owner: 'm-1', ownerInstance: 'box-a', lag: 5 });
  expect(t1!.inputs).toEqual([
    { topic: 'lines', partition: 1, checkpointed: 0, highWatermark: 5, lag: 5 },
  ]);
});
