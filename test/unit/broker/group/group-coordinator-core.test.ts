// Goal: the coordinator core's protocol (docs/api.md "Consumer groups"): joins, incremental
// revocation, session expiry, static membership, leave, epochs and their codes, commits, limits,
// and that replaying its records rebuilds the same groups. Method: drive the pure core with a
// hand-moved clock and a mutable topic table.
import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../../../src/common/index.ts';
import {
  GroupCoordinatorCore,
  decodeGroupRecord,
  encodeGroupRecord,
  type GroupCoreConfig,
  type GroupRecord,
  type MemberHeartbeatAnswer,
  type TopicsView,
} from '../../../../src/broker/group/index.ts';

const config: GroupCoreConfig = {
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  rebalanceTimeoutMsDefault: 30_000,
  rebalanceTimeoutMsMax: 300_000,
  groupsPerCoordinatorMax: 3,
  groupMembersMax: 3,
  subscriptionTopicsMax: 4,
  offsetMetadataMax: 8,
};

class Topics implements TopicsView {
  readonly counts = new Map<string, number>([
    ['t', 4],
    ['u', 2],
    ['other', 1],
  ]);
  partitionCount(topic: string): number | null {
    return this.counts.get(topic) ?? null;
  }
  topicNames(): readonly string[] {
    return [...this.counts.keys()];
  }
}

function setup() {
  const core = new GroupCoordinatorCore(config, new SeededRandom(7));
  const topics = new Topics();
  const log: GroupRecord[] = [];
  let now = 1_000;
  const hb = (request: Parameters<GroupCoordinatorCore['heartbeat']>[2]): MemberHeartbeatAnswer => {
    const { answer, records } = core.heartbeat('g', 0, request, now, topics);
    log.push(...records);
    core.checkInvariants();
    return answer;
  };
  const join = (extra: object = {}) =>
    hb({ memberId: '', memberEpoch: 0, subscribedTopics: ['t'], ...extra });
  return {
    core,
    topics,
    log,
    hb,
    join,
    advance: (ms: number) => {
      now += ms;
      log.push(...core.tick(now, topics, false));
    },
    now: () => now,
  };
}

const partitionsOf = (answer: MemberHeartbeatAnswer): number[] =>
  answer.assignment?.flatMap((a) => a.partitions) ?? [];

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as { code: string }).code;
  }
  return 'none';
}

describe('membership', () => {
  test('a join gets every partition, an id, an epoch and the heartbeat interval', () => {
    const { join } = setup();
    const a = join();
    expect(a.memberId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.memberEpoch).toBeGreaterThan(0);
    expect(a.heartbeatIntervalMs).toBe(1_000);
    expect(partitionsOf(a)).toEqual([0, 1, 2, 3]);
  });

  test('a partition moves only after its old owner stops listing it', () => {
    const { hb, join, core } = setup();
    const a = join();
    const b = join();
    expect(partitionsOf(b)).toEqual([]); // All four still granted to a.
    expect(core.stateOf('g')).toBe('reconciling');
    const a2 = hb({
      memberId: a.memberId,
      memberEpoch: a.memberEpoch,
      ownedPartitions: [{ topic: 't', partitions: [0, 1, 2, 3] }],
    });
    expect(partitionsOf(a2)).toHaveLength(2);
    const b2 = hb({ memberId: b.memberId, memberEpoch: b.memberEpoch, ownedPartitions: [] });
    expect(partitionsOf(b2)).toEqual([]); // a has not confirmed yet.
    hb({
      memberId: a.memberId,
      memberEpoch: a2.memberEpoch,
      ownedPartitions: [{ topic: 't', partitions: partitionsOf(a2) }],
    });
    const b3 = hb({ memberId: b.memberId, memberEpoch: b2.memberEpoch, ownedPartitions: [] });
    expect([...partitionsOf(a2), ...partitionsOf(b3)].sort()).toEqual([0, 1, 2, 3]);
    expect(core.stateOf('g')).toBe('stable'); // Every member holds exactly its target.
  });

  test('a silent member expires after the session timeout and its partitions move', () => {
    const { hb, join, advance, core } = setup();
    const a = join();
    const b = join();
    advance(9_000);
    const b2 = hb({ memberId: b.memberId, memberEpoch: b.memberEpoch, ownedPartitions: [] });
    expect(partitionsOf(b2)).toEqual([]);
    advance(1_500);
    expect(core.group('g')?.members.has(a.memberId)).toBe(false);
    const b3 = hb({ memberId: b.memberId, memberEpoch: b2.memberEpoch, ownedPartitions: [] });
    expect(partitionsOf(b3)).toEqual([0, 1, 2, 3]);
    expect(codeOf(() => hb({ memberId: a.memberId, memberEpoch: a.memberEpoch }))).toBe(
      'UNKNOWN_MEMBER_ID',
    );
  });

  test('leave (-1) reassigns at once', () => {
    const { hb, join } = setup();
    const a = join();
    const b = join();
    expect(hb({ memberId: a.memberId, memberEpoch: -1 })).toEqual({
      memberId: a.memberId,
      memberEpoch: -1,
    });
    expect(partitionsOf(hb({ memberId: b.memberId, memberEpoch: b.memberEpoch }))).toEqual([
      0, 1, 2, 3,
    ]);
  });

  test('static member: leaving with -2 and rejoining keeps the assignment, no rebalance', () => {
    const { hb, join, core, advance } = setup();
    const a = join({ instanceId: 'i1' });
    const epoch = core.group('g')?.groupEpoch;
    hb({ memberId: a.memberId, memberEpoch: -2 });
    advance(3_000);
    const again = join({ instanceId: 'i1' });
    expect(again.memberId).not.toBe(a.memberId);
    expect(partitionsOf(again)).toEqual([0, 1, 2, 3]);
    expect(core.group('g')?.groupEpoch).toBe(epoch);
    expect(codeOf(() => hb({ memberId: a.memberId, memberEpoch: a.memberEpoch }))).toBe(
      'UNKNOWN_MEMBER_ID',
    );
  });

  test('static member: a live holder keeps its instanceId; a silent one (kill -9) yields', () => {
    const { join, advance, core } = setup();
    join({ instanceId: 'i1' });
    expect(codeOf(() => join({ instanceId: 'i1' }))).toBe('UNRELEASED_INSTANCE_ID');
    const epoch = core.group('g')?.groupEpoch;
    advance(2_500);
    expect(partitionsOf(join({ instanceId: 'i1' }))).toEqual([0, 1, 2, 3]);
    expect(core.group('g')?.groupEpoch).toBe(epoch);
  });

  test('epochs: other than current or previous is fenced; a new partition count rebalances', () => {
    const { hb, join, topics, advance, core, now } = setup();
    const a = join();
    expect(codeOf(() => hb({ memberId: a.memberId, memberEpoch: a.memberEpoch + 5 }))).toBe(
      'FENCED_MEMBER_EPOCH',
    );
    topics.counts.set('t', 6);
    advance(0); // The tick is told nothing changed: the target stays.
    expect(partitionsOf(hb({ memberId: a.memberId, memberEpoch: a.memberEpoch }))).toHaveLength(4);
    core.tick(now(), topics, true);
    const next = hb({ memberId: a.memberId, memberEpoch: a.memberEpoch, ownedPartitions: [] });
    expect(partitionsOf(next)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test('subscription change and regex subscription', () => {
    const { hb, join } = setup();
    const a = join({ subscribedTopics: undefined, subscribedTopicRegex: '[tu]' });
    expect(a.assignment?.map((x) => x.topic)).toEqual(['t', 'u']);
    const b = hb({
      memberId: a.memberId,
      memberEpoch: a.memberEpoch,
      subscribedTopics: ['u'],
      ownedPartitions: a.assignment,
    });
    expect(b.assignment).toEqual([{ topic: 'u', partitions: [0, 1] }]);
  });
});

describe('bad input and limits', () => {
  test('each answers its documented code and leaves the core consistent', () => {
    const { join, hb, core } = setup();
    expect(codeOf(() => hb({ memberId: 'nobody', memberEpoch: 3 }))).toBe('UNKNOWN_MEMBER_ID');
    expect(codeOf(() => hb({ memberId: '', memberEpoch: 0 }))).toBe('INVALID_REQUEST');
    expect(codeOf(() => join({ subscribedTopics: ['a', 'b', 'c', 'd', 'e'] }))).toBe(
      'INVALID_REQUEST',
    );
    for (const hostile of ['(a+)+', '(a|aa)*b', '(.*)*', '\\1', '(?=a)', 'x'.repeat(256), '[']) {
      expect(
        codeOf(() => join({ subscribedTopics: undefined, subscribedTopicRegex: hostile })),
        hostile,
      ).toBe('INVALID_REQUEST');
    }
    expect(core.group('g')).toBeUndefined(); // Refusals created nothing.
    join();
    join();
    join();
    expect(codeOf(() => join())).toBe('GROUP_MAX_SIZE_REACHED');
    for (const g of ['g2', 'g3'])
      core.heartbeat(
        g,
        0,
        { memberId: '', memberEpoch: 0, subscribedTopics: ['t'] },
        0,
        new Topics(),
      );
    expect(
      codeOf(() =>
        core.heartbeat(
          'g4',
          0,
          { memberId: '', memberEpoch: 0, subscribedTopics: ['t'] },
          0,
          new Topics(),
        ),
      ),
    ).toBe('BROKER_BUSY');
    core.checkInvariants();
  });
});

describe('offsets', () => {
  test('commit fencing, admin commits and per-partition errors', () => {
    const { core, join, topics, now } = setup();
    const commit = (
      memberId: string,
      memberEpoch: number,
      offsets: { topic: string; partition: number; offset: number; metadata?: string }[],
    ) => core.commitOffsets('g', 0, { memberId, memberEpoch, offsets }, now(), topics).answer;
    expect(commit('', -1, [{ topic: 't', partition: 0, offset: 5 }])).toEqual([
      { topic: 't', partition: 0 },
    ]);
    const a = join();
    expect(codeOf(() => commit('', -1, []))).toBe('NON_EMPTY_GROUP');
    expect(codeOf(() => commit('zzz', 1, []))).toBe('UNKNOWN_MEMBER_ID');
    expect(codeOf(() => commit(a.memberId, a.memberEpoch + 1, []))).toBe('FENCED_MEMBER_EPOCH');
    expect(codeOf(() => commit(a.memberId, a.memberEpoch - 2, []))).toBe('STALE_MEMBER_EPOCH');
    const answer = commit(a.memberId, a.memberEpoch, [
      { topic: 't', partition: 1, offset: 7, metadata: 'ok' },
      { topic: 't', partition: 2, offset: 7, metadata: 'too long!' },
      { topic: 't', partition: 9, offset: 7 },
    ]);
    expect(answer.map((e) => e.error?.code ?? 'ok')).toEqual([
      'ok',
      'OFFSET_METADATA_TOO_LARGE',
      'UNKNOWN_TOPIC_OR_PARTITION',
    ]);
    expect([...(core.group('g')?.offsets.keys() ?? [])].sort()).toEqual(['t:0', 't:1']);
    expect(codeOf(() => core.deleteGroup('g'))).toBe('NON_EMPTY_GROUP');
    expect(codeOf(() => core.deleteGroup('nope'))).toBe('GROUP_ID_NOT_FOUND');
  });
});

describe('replay', () => {
  test('replaying the encoded records rebuilds members, grants and offsets', () => {
    const { core, hb, join, log, topics, now } = setup();
    const a = join({ instanceId: 's' });
    join();
    const a2 = hb({
      memberId: a.memberId,
      memberEpoch: a.memberEpoch,
      ownedPartitions: a.assignment,
    });
    const c = core.commitOffsets(
      'g',
      0,
      {
        memberId: a.memberId,
        memberEpoch: a2.memberEpoch,
        offsets: [{ topic: 't', partition: 0, offset: 3 }],
      },
      now(),
      topics,
    );
    log.push(...c.records);
    const fresh = new GroupCoordinatorCore(config, new SeededRandom(1));
    for (const record of log) {
      const { key, value } = encodeGroupRecord(record);
      const decoded = decodeGroupRecord(key, value);
      expect(decoded).not.toBeNull();
      fresh.replay(0, decoded!);
    }
    fresh.finishLoad(0, now());
    const [original, rebuilt] = [core.group('g')!, fresh.group('g')!];
    expect(rebuilt.groupEpoch).toBe(original.groupEpoch);
    expect(rebuilt.offsets).toEqual(original.offsets);
    expect([...rebuilt.members.keys()].sort()).toEqual([...original.members.keys()].sort());
    for (const [id, member] of original.members) {
      expect(rebuilt.members.get(id)?.granted).toEqual(member.granted);
      expect(rebuilt.members.get(id)?.target).toEqual(member.target);
    }
    fresh.unload(0);
    expect(fresh.group('g')).toBeUndefined();
    expect(decodeGroupRecord(new TextEncoder().encode('junk'), null)).toBeNull();
  });
});
