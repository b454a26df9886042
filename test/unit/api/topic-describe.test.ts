// Goal: describe-from-any-node asks only alive leader nodes other than itself, once each, and
// takes a leader's offsets only when that node answered as the leader in the same epoch.
import { describe, expect, test } from 'vitest';
import { leadersToAsk, mergeLeaderAnswers } from '../../../src/api/server/routes/topic-describe.ts';
import type { PartitionDescription, TopicDescription } from '../../../src/broker/index.ts';

function partition(n: number, leader: number | null, known: boolean): PartitionDescription {
  return {
    partition: n,
    leader,
    leaderEpoch: 4,
    replicas: leader === null ? [1] : [leader],
    isr: leader === null ? [1] : [leader],
    logStartOffset: known ? 0 : null,
    highWatermark: known ? 7 : null,
    sizeBytes: known ? 100 : null,
    offsetsSource: known ? 'leader' : null,
  };
}

const topic = (partitions: PartitionDescription[]): TopicDescription => ({
  name: 't',
  topicId: 'id',
  configs: {},
  partitions,
});

const brokers = [1, 2, 3, 4].map((id) => ({
  id,
  url: `http://n${id}`,
  status: id === 4 ? ('fenced' as const) : ('alive' as const),
}));

describe('describe from any node', () => {
  test('asks each alive other leader once; not itself, not fenced nodes, not leaderless', () => {
    const d = topic([
      partition(0, 1, true),
      partition(1, 2, false),
      partition(2, 2, false),
      partition(3, 3, false),
      partition(4, 4, false),
      partition(5, null, false),
      partition(6, 1, false),
    ]);
    expect([...leadersToAsk(d, brokers, 1)]).toEqual([
      [2, 'http://n2'],
      [3, 'http://n3'],
    ]);
  });

  test('merges answers given as leader in the same epoch only', () => {
    const d = topic([partition(0, 2, false), partition(1, 2, false), partition(2, 3, false)]);
    const fromTwo = [
      { ...partition(0, 2, true), highWatermark: 11, logStartOffset: 3 },
      { ...partition(1, 2, true), leaderEpoch: 5 },
    ];
    const fromThree = [{ ...partition(2, 3, true), offsetsSource: 'follower' as const }];
    const merged = mergeLeaderAnswers(
      d,
      new Map([
        [2, { partitions: fromTwo, askedAtMs: 1_000 }],
        [3, { partitions: fromThree, askedAtMs: 1_000 }],
      ]),
      1_042.4,
    );
    expect(
      merged.partitions.map((p) => [
        p.highWatermark,
        p.logStartOffset,
        p.offsetsSource,
        p.offsetsAgeMs,
      ]),
    ).toEqual([
      [11, 3, 'leader-remote', 42],
      [null, null, null, undefined],
      [null, null, null, undefined],
    ]);
  });
});
