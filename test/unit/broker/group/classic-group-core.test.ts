// Goal: the classic group protocol's core (JoinGroup/SyncGroup/Heartbeat/LeaveGroup): join
// phases, protocol choice, leader relay of the assignment, MEMBER_ID_REQUIRED, generations and
// their codes, session and rebalance timeouts, static membership, one kind per group, commits,
// and that replaying its records rebuilds a Stable group. Method: drive the pure cores with a
// hand-moved clock; parked requests are tokens whose replies the test collects.
import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../../../src/common/index.ts';
import {
  ClassicGroupCore,
  GroupCoordinatorCore,
  decodeGroupRecord,
  encodeGroupRecord,
  type ClassicGroupConfig,
  type ClassicJoinRequest,
  type ClassicReply,
  type GroupCoreConfig,
  type GroupRecord,
  type TopicsView,
} from '../../../../src/broker/group/index.ts';

const coreConfig: GroupCoreConfig = {
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  rebalanceTimeoutMsDefault: 30_000,
  rebalanceTimeoutMsMax: 300_000,
  groupsPerCoordinatorMax: 3,
  groupMembersMax: 3,
  subscriptionTopicsMax: 4,
  offsetMetadataMax: 8,
};
const classicConfig: ClassicGroupConfig = {
  sessionTimeoutMsMin: 1_000,
  sessionTimeoutMsMax: 60_000,
  initialRebalanceDelayMs: 0,
  protocolsMax: 4,
  metadataBytesMax: 64,
};
const topics: TopicsView = {
  partitionCount: (t) => (t === 't' ? 4 : null),
  topicNames: () => ['t'],
};
const bytes = (...values: number[]) => Uint8Array.from(values);

function setup(config: ClassicGroupConfig = classicConfig) {
  const groups = new GroupCoordinatorCore(coreConfig, new SeededRandom(3));
  const classic = new ClassicGroupCore(config, new SeededRandom(5), groups);
  const log: GroupRecord[] = [];
  const replies = new Map<number, ClassicReply>();
  let now = 1_000;
  let nextToken = 1;
  const take = (outcome: {
    readonly records: readonly GroupRecord[];
    readonly replies: readonly ClassicReply[];
  }) => {
    log.push(...outcome.records);
    for (const reply of outcome.replies) {
      expect(replies.has(reply.token)).toBe(false);
      replies.set(reply.token, reply);
    }
    classic.checkInvariants();
    groups.checkInvariants();
  };
  const join = (extra: Partial<ClassicJoinRequest> = {}): number => {
    const token = nextToken++;
    const request: ClassicJoinRequest = {
      memberId: '',
      instanceId: null,
      clientId: 'c',
      clientHost: '/127.0.0.1',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 20_000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: bytes(1) }],
      requireKnownMemberId: false,
      ...extra,
    };
    take(classic.join('g', 0, request, token, now));
    return token;
  };
  const sync = (
    memberId: string,
    generationId: number,
    assignments: { memberId: string; assignment: Uint8Array }[] = [],
  ): number => {
    const token = nextToken++;
    const request = {
      memberId,
      instanceId: null,
      generationId,
      protocolType: null,
      protocolName: null,
      assignments,
    };
    take(classic.sync('g', request, token, now));
    return token;
  };
  const reply = (token: number) => replies.get(token);
  const joined = (token: number) => {
    const r = replies.get(token);
    if (r?.kind !== 'join') throw new Error(`token ${token}: ${JSON.stringify(r)}`);
    return r.answer;
  };
  const synced = (token: number) => {
    const r = replies.get(token);
    if (r?.kind !== 'sync') throw new Error(`token ${token}: ${JSON.stringify(r)}`);
    return r.answer;
  };
  const errorOf = (token: number) => {
    const r = replies.get(token);
    return r?.kind === 'error' ? r.error.code : null;
  };
  const tick = (ms: number) => {
    now += ms;
    take(classic.tick(now));
  };
  const hb = (memberId: string, generationId: number, instanceId: string | null = null) =>
    classic.heartbeat('g', { memberId, instanceId }, generationId, now);
  return { groups, classic, log, join, sync, reply, joined, synced, errorOf, tick, take, hb };
}

/** Two members through one generation: a is leader, b follows; returns their ids. */
function twoMembers(t: ReturnType<typeof setup>) {
  const ja = t.join();
  const a = t.joined(ja);
  expect(a.generationId).toBe(1);
  expect(a.leaderId).toBe(a.memberId);
  t.synced(t.sync(a.memberId, 1, [{ memberId: a.memberId, assignment: bytes(9) }]));
  // b's join starts generation 2: a learns it from its heartbeat and rejoins.
  const jb = t.join();
  expect(t.reply(jb)).toBeUndefined();
  expect(t.classic.heartbeat('g', { memberId: a.memberId, instanceId: null }, 1, 1_000)).toBe(
    'REBALANCE_IN_PROGRESS',
  );
  const ja2 = t.join({ memberId: a.memberId });
  const a2 = t.joined(ja2);
  const b2 = t.joined(jb);
  expect(a2.generationId).toBe(2);
  expect(a2.leaderId).toBe(a.memberId);
  expect(a2.members.map((m) => m.memberId).sort()).toEqual([a.memberId, b2.memberId].sort());
  expect(b2.members).toEqual([]);
  return { a: a.memberId, b: b2.memberId };
}

describe('join and sync', () => {
  test('the leader gets every member and its assignment reaches each member', () => {
    const t = setup();
    const { a, b } = twoMembers(t);
    const sb = t.sync(b, 2);
    expect(t.reply(sb)).toBeUndefined(); // Waits for the leader.
    const sa = t.sync(a, 2, [
      { memberId: a, assignment: bytes(1, 1) },
      { memberId: b, assignment: bytes(2, 2) },
    ]);
    expect(t.synced(sa).assignment).toEqual(bytes(1, 1));
    expect(t.synced(sb).assignment).toEqual(bytes(2, 2));
    expect(t.synced(sb).protocolName).toBe('range');
    expect(t.groups.stateOf('g')).toBe('stable');
    expect(t.classic.heartbeat('g', { memberId: b, instanceId: null }, 2, 1_000)).toBe('NONE');
  });

  test('JoinGroup v4+: an unknown member gets MEMBER_ID_REQUIRED, then joins with that id', () => {
    const t = setup();
    const first = t.join({ requireKnownMemberId: true, clientId: 'kafkajs' });
    expect(t.errorOf(first)).toBe('MEMBER_ID_REQUIRED');
    const r = t.reply(first);
    const memberId = r?.kind === 'error' ? String(r.error.details['memberId']) : '';
    expect(memberId.startsWith('kafkajs-')).toBe(true);
    expect(t.joined(t.join({ memberId, requireKnownMemberId: true })).memberId).toBe(memberId);
    expect(() => t.join({ memberId: 'nobody' })).toThrow(/UNKNOWN_MEMBER_ID|not in/);
  });

  test('the chosen protocol is one every member supports, by vote', () => {
    const t = setup();
    const p = (name: string) => ({ name, metadata: bytes(7) });
    const a = t.joined(t.join({ protocols: [p('roundrobin'), p('range')] }));
    expect(a.protocolName).toBe('roundrobin');
    t.sync(a.memberId, 1, []);
    const jb = t.join({ protocols: [p('range'), p('cooperative-sticky')] });
    t.join({ memberId: a.memberId, protocols: [p('roundrobin'), p('range')] });
    expect(t.joined(jb).protocolName).toBe('range');
    expect(() => t.join({ protocols: [p('sticky')] })).toThrow(/protocol/);
    expect(() => t.join({ protocolType: 'connect', protocols: [p('range')] })).toThrow(/protocol/);
  });

  test('stale generation, unknown member and sync during a join phase are refused', () => {
    const t = setup();
    const { a, b } = twoMembers(t);
    expect(() => t.sync(b, 1)).toThrow(/generation/);
    expect(() => t.sync('x', 2)).toThrow(/not in the group/);
    expect(() => t.classic.heartbeat('g', { memberId: a, instanceId: null }, 3, 0)).toThrow(
      /generation 3/,
    );
    t.join(); // A third member starts generation 3.
    expect(() => t.sync(a, 2)).toThrow(/rebalancing/);
  });

  test('a sync waiting when a rebalance starts is told REBALANCE_IN_PROGRESS', () => {
    const t = setup();
    const { b } = twoMembers(t);
    const sb = t.sync(b, 2);
    t.join();
    expect(t.errorOf(sb)).toBe('REBALANCE_IN_PROGRESS');
  });

  test('the group is full at groupMembersMax, pending ids included', () => {
    const t = setup();
    t.join({ requireKnownMemberId: true });
    t.join({ requireKnownMemberId: true });
    t.join({ requireKnownMemberId: true });
    expect(() => t.join({ requireKnownMemberId: true })).toThrow(/3 members/);
  });

  test('session timeout out of range: INVALID_SESSION_TIMEOUT', () => {
    const t = setup();
    expect(() => t.join({ sessionTimeoutMs: 500 })).toThrow(/sessionTimeoutMs/);
  });
});

describe('timeouts', () => {
  test('a member that does not rejoin within the rebalance timeout is removed', () => {
    const t = setup();
    const { a, b } = twoMembers(t);
    t.sync(a, 2, []);
    t.sync(b, 2);
    const jc = t.join(); // Generation 3: a rejoins, b never does.
    t.join({ memberId: a });
    for (let i = 0; i < 4; i += 1) {
      t.tick(4_900);
      expect(t.hb(b, 2)).toBe('REBALANCE_IN_PROGRESS'); // Alive, but not rejoining.
    }
    expect(t.reply(jc)).toBeUndefined();
    t.tick(401); // The rebalance timeout (20 s) ends the join phase without b.
    expect(t.joined(jc).generationId).toBe(3);
    expect(() => t.classic.heartbeat('g', { memberId: b, instanceId: null }, 3, 0)).toThrow(
      /not in the group/,
    );
  });

  test('a silent member expires after its session timeout and the others rebalance', () => {
    const t = setup();
    const { a, b } = twoMembers(t);
    t.sync(a, 2, []);
    t.sync(b, 2);
    for (let i = 0; i < 10; i += 1) {
      t.tick(1_001);
      expect(t.hb(a, 2)).toBe(i < 9 ? 'NONE' : 'REBALANCE_IN_PROGRESS');
    }
    expect(t.joined(t.join({ memberId: a })).members.map((m) => m.memberId)).toEqual([a]);
  });

  test('a leader that never syncs: the members that did not sync are removed', () => {
    const t = setup();
    const { b } = twoMembers(t);
    const sb = t.sync(b, 2);
    t.tick(20_001);
    expect(t.errorOf(sb)).toBe('REBALANCE_IN_PROGRESS');
    const again = t.join({ memberId: b });
    expect(t.joined(again).members.map((m) => m.memberId)).toEqual([b]);
  });

  test('the initial rebalance delay gathers members that join close together', () => {
    const t = setup({ ...classicConfig, initialRebalanceDelayMs: 3_000 });
    const ja = t.join();
    t.tick(2_000);
    const jb = t.join();
    t.tick(2_000);
    expect(t.reply(ja)).toBeUndefined(); // Extended by b's join.
    t.tick(1_001);
    expect(t.joined(ja).generationId).toBe(1);
    expect(t.joined(jb).generationId).toBe(1);
  });

  test('unused MEMBER_ID_REQUIRED ids are forgotten after the session timeout', () => {
    const t = setup();
    for (let i = 0; i < 3; i += 1) t.join({ requireKnownMemberId: true });
    t.tick(10_001);
    expect(t.groups.group('g')).toBeUndefined(); // Empty, no offsets: forgotten.
    t.join({ requireKnownMemberId: true });
  });
});

describe('static membership (KIP-345)', () => {
  test('a restart with the same instance id keeps the assignment without a rebalance', () => {
    const t = setup();
    const a = t.joined(t.join({ instanceId: 'i-a' }));
    t.sync(a.memberId, 1, []);
    const jb = t.join({ instanceId: 'i-b', memberId: '' });
    t.joined(t.join({ memberId: a.memberId, instanceId: 'i-a' }));
    const b = t.joined(jb);
    t.sync(b.memberId, 2);
    t.sync(a.memberId, 2, [{ memberId: b.memberId, assignment: bytes(4) }]);
    const restarted = t.joined(t.join({ instanceId: 'i-b' }));
    expect(restarted.memberId).not.toBe(b.memberId);
    expect(restarted.generationId).toBe(2);
    const s = t.sync(restarted.memberId, 2);
    expect(t.synced(s).assignment).toEqual(bytes(4));
    // The old incarnation is fenced.
    expect(() =>
      t.classic.heartbeat('g', { memberId: b.memberId, instanceId: 'i-b' }, 2, 0),
    ).toThrow(/held by another/);
  });

  test("the leader's restart keeps every assignment, and it is answered as a follower", () => {
    // librdkafka's test 0102 (static group rebalance) expects no rebalance here, as Kafka.
    const t = setup();
    const a = t.joined(t.join({ instanceId: 'i-a' }));
    t.sync(a.memberId, 1, []);
    const jb = t.join({ instanceId: 'i-b', memberId: '' });
    t.joined(t.join({ memberId: a.memberId, instanceId: 'i-a' }));
    const b = t.joined(jb);
    expect(a.leaderId).toBe(a.memberId);
    t.sync(b.memberId, 2);
    const assignments = [
      { memberId: a.memberId, assignment: bytes(3) },
      { memberId: b.memberId, assignment: bytes(4) },
    ];
    t.sync(a.memberId, 2, assignments);
    const restarted = t.joined(t.join({ instanceId: 'i-a' }));
    expect(restarted).toMatchObject({ generationId: 2, leaderId: a.memberId, members: [] });
    expect(restarted.memberId).not.toBe(a.memberId);
    expect(t.synced(t.sync(restarted.memberId, 2)).assignment).toEqual(bytes(3));
    // The other member sees no rebalance.
    expect(t.classic.heartbeat('g', { memberId: b.memberId, instanceId: 'i-b' }, 2, 0)).toBe(
      'NONE',
    );
  });

  test('LeaveGroup v3: a batch by instance id, with per-member codes', () => {
    const t = setup();
    const a = t.joined(t.join({ instanceId: 'i-a' }));
    t.sync(a.memberId, 1, []);
    const out = t.classic.leave(
      'g',
      [
        { memberId: '', instanceId: 'i-a' },
        { memberId: 'x', instanceId: null },
        { memberId: 'wrong', instanceId: 'i-z' },
      ],
      2_000,
    );
    t.take(out);
    expect(out.answer.map((e) => e?.code ?? null)).toEqual([
      null,
      'UNKNOWN_MEMBER_ID',
      'UNKNOWN_MEMBER_ID',
    ]);
    expect(t.groups.group('g')).toBeUndefined();
  });

  test('a static member that leaves lets the others rebalance; a wrong id is fenced', () => {
    const t = setup();
    const { a, b } = twoMembers(t);
    const sa = t.sync(a, 2, []);
    t.sync(b, 2);
    expect(t.synced(sa).assignment).toEqual(new Uint8Array());
    const out = t.classic.leave('g', [{ memberId: b, instanceId: null }], 2_000);
    t.take(out);
    expect(out.answer).toEqual([null]);
    expect(t.classic.heartbeat('g', { memberId: a, instanceId: null }, 2, 0)).toBe(
      'REBALANCE_IN_PROGRESS',
    );
    expect(t.joined(t.join({ memberId: a })).generationId).toBe(3);
  });
});

describe('one kind per group, commits, persistence', () => {
  test('a consumer group with members refuses classic joins, and the other way round', () => {
    const t = setup();
    t.groups.heartbeat(
      'g',
      0,
      { memberId: '', memberEpoch: 0, subscribedTopics: ['t'] },
      0,
      topics,
    );
    expect(() => t.join()).toThrow(/consumer protocol/);
    const u = setup();
    u.join();
    expect(() =>
      u.groups.heartbeat(
        'g',
        0,
        { memberId: '', memberEpoch: 0, subscribedTopics: ['t'] },
        0,
        topics,
      ),
    ).toThrow(/classic protocol/);
  });

  test('an empty classic group with offsets may become a consumer group', () => {
    const t = setup();
    const a = t.joined(t.join());
    t.sync(a.memberId, 1, []);
    t.classic.checkCommit('g', { memberId: a.memberId, instanceId: null }, 1);
    t.take({
      ...t.groups.commitChecked('g', 0, [{ topic: 't', partition: 0, offset: 5 }], 0, topics),
      replies: [],
    });
    t.take({
      ...t.classic.leave('g', [{ memberId: a.memberId, instanceId: null }], 0),
      replies: [],
    });
    expect(t.groups.stateOf('g')).toBe('empty');
    t.groups.heartbeat(
      'g',
      0,
      { memberId: '', memberEpoch: 0, subscribedTopics: ['t'] },
      0,
      topics,
    );
    expect(t.groups.group('g')?.protocol).toBe('consumer');
    expect(t.groups.group('g')?.offsets.get('t:0')?.offset).toBe(5);
  });

  test('commits are fenced by generation and member; a simple commit needs an empty group', () => {
    const t = setup();
    const { a, b } = twoMembers(t);
    expect(() => t.classic.checkCommit('g', { memberId: a, instanceId: null }, 2)).toThrow(
      /between join and sync/,
    );
    t.sync(a, 2, []);
    t.sync(b, 2);
    t.classic.checkCommit('g', { memberId: a, instanceId: null }, 2);
    expect(() => t.classic.checkCommit('g', { memberId: a, instanceId: null }, 1)).toThrow(
      /generation 1/,
    );
    expect(() => t.classic.checkCommit('g', { memberId: '', instanceId: null }, -1)).toThrow(
      /not in the group/,
    );
    expect(() =>
      t.groups.commitOffsets('g', 0, { memberId: '', memberEpoch: -1, offsets: [] }, 0, topics),
    ).toThrow(/has members/);
    expect(() => t.groups.deleteGroup('g')).toThrow(/has members/);
    t.classic.checkCommit('other', { memberId: '', instanceId: null }, -1);
  });

  test('replaying the records rebuilds the Stable group: members heartbeat on', () => {
    const t = setup();
    const { a, b } = twoMembers(t);
    t.sync(b, 2);
    t.sync(a, 2, [{ memberId: b, assignment: bytes(3, 1) }]);
    const copy = new GroupCoordinatorCore(coreConfig, new SeededRandom(1));
    const classic = new ClassicGroupCore(classicConfig, new SeededRandom(2), copy);
    for (const record of t.log) {
      const encoded = encodeGroupRecord(record);
      const decoded = decodeGroupRecord(encoded.key, encoded.value);
      expect(decoded).not.toBeNull();
      if (decoded !== null) copy.replay(0, decoded);
    }
    copy.finishLoad(0, 50_000);
    classic.finishLoad(0, 50_000);
    expect(copy.group('g')?.protocol).toBe('classic');
    expect(copy.stateOf('g')).toBe('stable');
    expect(classic.heartbeat('g', { memberId: b, instanceId: null }, 2, 50_000)).toBe('NONE');
    const s = classic.sync(
      'g',
      {
        memberId: b,
        instanceId: null,
        generationId: 2,
        protocolType: null,
        protocolName: null,
        assignments: [],
      },
      1,
      50_000,
    );
    expect(s.replies[0]?.kind === 'sync' && s.replies[0].answer.assignment).toEqual(bytes(3, 1));
    // The sessions restarted at the load: nobody expires at once.
    expect(classic.tick(55_000).replies).toEqual([]);
    classic.checkInvariants();
  });
});
