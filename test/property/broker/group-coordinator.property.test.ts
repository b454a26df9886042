// Goal: the coordinator never gives a partition two owners, and once the group is quiet every
// subscribed partition is owned and `uniform` is balanced — over random schedules of members
// joining, leaving, crashing (session expiry), restarting (static), changing subscriptions,
// and topics gaining partitions. Method: fast-check schedules drive the pure core with a
// simulated clock; members are modelled as taking assigned partitions at once and giving up
// revoked ones after a random delay, listing what they own in every heartbeat. The seed is
// printed; replay a failure with it in fc.assert's parameters.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import {
  GroupCoordinatorCore,
  fromTopicPartitions,
  resolveTopics,
  toTopicPartitions,
  topicOfKey,
  type AssignorName,
  type GroupCoreConfig,
  type MemberHeartbeat,
  type TopicsView,
} from '../../../src/broker/group/index.ts';

const config: GroupCoreConfig = {
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  rebalanceTimeoutMsDefault: 30_000,
  rebalanceTimeoutMsMax: 300_000,
  groupsPerCoordinatorMax: 10,
  groupMembersMax: 20,
  subscriptionTopicsMax: 10,
  offsetMetadataMax: 100,
};

const subscriptions: readonly Pick<
  MemberHeartbeat,
  'subscribedTopics' | 'subscribedTopicRegex'
>[] = [
  { subscribedTopics: ['t'] },
  { subscribedTopics: ['t', 'u'] },
  { subscribedTopicRegex: 'u|v' },
];

type Op =
  | { op: 'join'; who: number; sub: number; isStatic: boolean }
  | { op: 'hb'; who: number }
  | { op: 'leave'; who: number }
  | { op: 'crash'; who: number }
  | { op: 'restart'; who: number }
  | { op: 'sub'; who: number; sub: number }
  | { op: 'grow'; topic: 't' | 'u' | 'v' }
  | { op: 'advance'; ms: number };

const who = fc.integer({ min: 0, max: 5 });
const sub = fc.integer({ min: 0, max: subscriptions.length - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('join' as const), who, sub, isStatic: fc.boolean() }),
  },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('hb' as const), who }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('leave' as const), who }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('crash' as const), who }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restart' as const), who }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('sub' as const), who, sub }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('grow' as const),
      topic: fc.constantFrom('t' as const, 'u' as const, 'v' as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      ms: fc.integer({ min: 0, max: 6_000 }),
    }),
  },
);

interface ModelMember {
  memberId: string | null;
  epoch: number;
  instanceId: string | null;
  sub: number;
  alive: boolean;
  owned: Set<string>;
  /** Revoked partitions and when the member lets go of each. */
  releasing: Map<string, number>;
}

class Topics implements TopicsView {
  readonly counts = new Map<string, number>([
    ['t', 3],
    ['u', 2],
    ['v', 1],
  ]);
  partitionCount(topic: string): number | null {
    return this.counts.get(topic) ?? null;
  }
  topicNames(): readonly string[] {
    return [...this.counts.keys()];
  }
}

function run(ops: readonly Op[], assignor: AssignorName, delays: readonly number[]): void {
  const core = new GroupCoordinatorCore(config, new SeededRandom(1));
  const topics = new Topics();
  const members: ModelMember[] = Array.from({ length: 6 }, (_, i) => ({
    memberId: null,
    epoch: 0,
    instanceId: null,
    sub: 0,
    alive: false,
    owned: new Set(),
    releasing: new Map(),
    instance: i,
  }));
  let now = 0;
  let step = 0;
  const delay = (): number => delays[step++ % delays.length] ?? 0;

  const releaseDue = (): void => {
    for (const m of members) {
      for (const [key, at] of m.releasing)
        if (at <= now) {
          m.owned.delete(key);
          m.releasing.delete(key);
        }
    }
  };
  const heartbeat = (m: ModelMember, request: MemberHeartbeat): void => {
    try {
      const { answer } = core.heartbeat('g', 0, request, now, topics);
      if (answer.memberEpoch < 0) return;
      m.memberId = answer.memberId;
      m.epoch = answer.memberEpoch;
      const assigned = fromTopicPartitions(answer.assignment ?? []);
      for (const key of assigned) {
        m.owned.add(key);
        m.releasing.delete(key);
      }
      for (const key of m.owned)
        if (!assigned.has(key) && !m.releasing.has(key)) m.releasing.set(key, now + delay());
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'UNKNOWN_MEMBER_ID' || code === 'FENCED_MEMBER_EPOCH') {
        m.memberId = null;
        m.owned.clear();
        m.releasing.clear();
      } else if (code !== 'UNRELEASED_INSTANCE_ID') throw error;
    }
  };
  const join = (m: ModelMember, subIndex: number): void => {
    m.sub = subIndex;
    m.alive = true;
    m.owned.clear();
    m.releasing.clear();
    heartbeat(m, {
      memberId: '',
      memberEpoch: 0,
      assignor,
      ...subscriptions[subIndex],
      ...(m.instanceId === null ? {} : { instanceId: m.instanceId }),
    });
  };
  const beat = (m: ModelMember): void => {
    if (!m.alive) return;
    if (m.memberId === null) {
      join(m, m.sub);
      return;
    }
    heartbeat(m, {
      memberId: m.memberId,
      memberEpoch: m.epoch,
      ownedPartitions: toTopicPartitions(m.owned),
    });
  };
  const check = (): void => {
    core.checkInvariants();
    const group = core.group('g');
    for (const m of members) {
      const state = m.memberId === null ? undefined : group?.members.get(m.memberId);
      if (state === undefined) continue;
      for (const key of m.owned)
        expect(state.granted.has(key), `${key} owned, not granted`).toBe(true);
    }
  };

  for (const o of ops) {
    const m = 'who' in o ? members[o.who]! : undefined;
    switch (o.op) {
      case 'join':
        if (m!.alive && m!.memberId !== null) break;
        m!.instanceId = o.isStatic ? `i${o.who}` : null;
        join(m!, o.sub);
        break;
      case 'hb':
        beat(m!);
        break;
      case 'leave':
        if (m!.memberId !== null && m!.alive)
          heartbeat(m!, { memberId: m!.memberId, memberEpoch: -1 });
        m!.alive = false;
        m!.memberId = null;
        m!.owned.clear();
        m!.releasing.clear();
        break;
      case 'crash':
        m!.alive = false;
        break; // Its owned set is a zombie's from now on.
      case 'restart':
        if (m!.instanceId !== null) {
          m!.memberId = null;
          now += delay();
          join(m!, m!.sub);
        }
        break;
      case 'sub':
        if (m!.alive && m!.memberId !== null) {
          m!.sub = o.sub;
          heartbeat(m!, {
            memberId: m!.memberId,
            memberEpoch: m!.epoch,
            ...subscriptions[o.sub],
            ownedPartitions: toTopicPartitions(m!.owned),
          });
        }
        break;
      case 'grow':
        topics.counts.set(o.topic, (topics.counts.get(o.topic) ?? 0) + 1);
        core.tick(now, topics, true);
        break;
      case 'advance':
        now += o.ms;
        break;
    }
    now += 50;
    releaseDue();
    core.tick(now, topics, false);
    check();
  }
  quietThenCheck(
    core,
    topics,
    members,
    () => now,
    (t) => {
      now = t;
    },
    beat,
    releaseDue,
    check,
    assignor,
  );
}

function quietThenCheck(
  core: GroupCoordinatorCore,
  topics: Topics,
  members: ModelMember[],
  getNow: () => number,
  setNow: (t: number) => void,
  beat: (m: ModelMember) => void,
  releaseDue: () => void,
  check: () => void,
  assignor: AssignorName,
): void {
  for (const m of members) for (const key of m.releasing.keys()) m.releasing.set(key, getNow());
  for (let round = 0; round < 15; round += 1) {
    setNow(getNow() + 1_000);
    core.tick(getNow(), topics, false);
    for (const m of members) {
      releaseDue();
      beat(m);
      check();
    }
  }
  const group = core.group('g');
  if (group === undefined || group.members.size === 0) return;
  expect(core.stateOf('g')).toBe('stable');
  const subscribed = new Set<string>();
  const targetOwner = new Map<string, string>();
  for (const state of group.members.values()) {
    for (const topic of resolveTopics(state, topics)) {
      for (let p = 0; p < (topics.partitionCount(topic) ?? 0); p += 1)
        subscribed.add(`${topic}:${p}`);
    }
    for (const key of state.target) targetOwner.set(key, state.memberId);
  }
  const owners = new Map<string, number>();
  for (const m of members) {
    if (m.alive && m.memberId !== null && group.members.has(m.memberId)) {
      for (const key of m.owned) owners.set(key, (owners.get(key) ?? 0) + 1);
    }
  }
  for (const key of subscribed) expect(owners.get(key), `${key} owned once`).toBe(1);
  if (assignor !== 'uniform') return;
  for (const from of group.members.values()) {
    for (const key of from.target) {
      for (const to of group.members.values()) {
        if (!resolveTopics(to, topics).has(topicOfKey(key))) continue;
        expect(from.target.size, `${key} could move to ${to.memberId}`).toBeLessThanOrEqual(
          to.target.size + 1,
        );
      }
    }
  }
}

test('at most one owner per partition; quiet groups are fully owned and balanced', () => {
  const seed = Date.now() ^ (Math.random() * 0x7fffffff);
  console.log(`group-coordinator property seed=${seed}`);
  fc.assert(
    fc.property(
      fc.array(op, { minLength: 1, maxLength: 80 }),
      fc.constantFrom<AssignorName>('uniform', 'range'),
      fc.array(fc.integer({ min: 0, max: 4_000 }), { minLength: 1, maxLength: 10 }),
      (ops, assignor, delays) => run(ops, assignor, delays),
    ),
    { seed, numRuns: 300 },
  );
});
