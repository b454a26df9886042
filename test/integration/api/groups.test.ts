// Goal (issue 8 items 2, 3, 5): the consumer-group routes of docs/api.md through HTTP on a real
// 3-node in-process cluster — coordinator look-up (creating __consumer_offsets), join and
// assignment, NOT_COORDINATOR elsewhere, commit and fetch, describe with lag from any node,
// list, reset with dry-run, delete; bad input answers its documented code and the node stays
// up; and coordinator failover: the node leading the group's partition stops, the new leader
// replays it and has the offsets and the members. Method: h2c requests, polling with deadlines.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { coordinatorPartition } from '../../../src/api/murmur2.ts';
import { encodeBatch } from '../../../src/log/index.ts';
import { H2c, type H2cResponse } from '../../support/api/h2c.ts';
import { InProcessCluster } from '../../support/broker/in-process-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

let cluster: InProcessCluster;
const clients = new Map<string, H2c>();
const client = (url: string): H2c => {
  let c = clients.get(url);
  if (c === undefined) {
    c = new H2c(url);
    clients.set(url, c);
  }
  return c;
};
const urlOf = (id: number): string => cluster.node(id).url;

beforeAll(async () => {
  cluster = await InProcessCluster.start(3, 10_000, {
    offsetsTopicPartitions: 3,
    tickIntervalMs: 50,
    core: {
      // Long: the test does not heartbeat between steps, and a loaded machine is slow.
      sessionTimeoutMs: 120_000,
      heartbeatIntervalMs: 200,
      rebalanceTimeoutMsDefault: 10_000,
      rebalanceTimeoutMsMax: 60_000,
      groupsPerCoordinatorMax: 100,
      groupMembersMax: 10,
      subscriptionTopicsMax: 50,
      offsetMetadataMax: 64,
    },
  });
  await cluster
    .broker(1)
    .createTopic({ name: 't', partitions: 4, replicationFactor: 2, configs: {} });
  for (let p = 0; p < 4; p += 1) {
    const batches = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      compression: 'none',
      records: Array.from({ length: 5 }, (_, i) => ({
        key: null,
        value: Buffer.from(`v${i}`),
        headers: [],
        timestampMs: Date.now() - 60_000,
      })),
    });
    const leader = cluster.broker(1).describeTopic('t').partitions[p]!.leader!;
    await cluster
      .broker(leader)
      .produce({ topic: 't', partition: p, batches, acks: 'all', timeoutMs: 5_000 });
  }
}, 60_000);

afterAll(async () => {
  for (const c of clients.values()) await c.client.close();
  await cluster.close();
});

/** Retries while the answer is a retriable coordinator 503. */
async function settled(what: string, send: () => Promise<H2cResponse>): Promise<H2cResponse> {
  return pollUntil(what, 20_000, async () => {
    const response = await send();
    return response.status === 503 ? undefined : response;
  });
}

async function coordinatorOf(group: string): Promise<{ id: number; url: string }> {
  const response = await settled('coordinator', () =>
    client(urlOf(1)).get(`/v1/groups/${group}/coordinator`),
  );
  expect(response.status).toBe(200);
  const body = response.json<{ partition: number; coordinator: { id: number; url: string } }>();
  expect(body.partition).toBe(coordinatorPartition(group, 3));
  return body.coordinator;
}

const code = (r: H2cResponse): string => r.json<{ error: { code: string } }>().error.code;

describe('consumer groups over HTTP', () => {
  let coordinator: { id: number; url: string };
  let member: { memberId: string; memberEpoch: number };

  test('coordinator look-up creates __consumer_offsets; a join gets every partition', async () => {
    coordinator = await coordinatorOf('g1');
    const topic = cluster.broker(1).describeTopic('__consumer_offsets');
    expect(topic.partitions).toHaveLength(3);
    expect(topic.configs['cleanup.policy']).toBe('compact');
    const joined = await settled('join', () =>
      client(coordinator.url).post('/v1/groups/g1/heartbeat', {
        memberId: '',
        memberEpoch: 0,
        subscribedTopics: ['t'],
      }),
    );
    expect(joined.status).toBe(200);
    member = joined.json();
    expect(joined.json().assignment).toEqual([{ topic: 't', partitions: [0, 1, 2, 3] }]);
    const other = [1, 2, 3].find((id) => id !== coordinator.id)!;
    const elsewhere = await client(urlOf(other)).post('/v1/groups/g1/heartbeat', member);
    expect(elsewhere.status).toBe(421);
    expect(elsewhere.json().error).toMatchObject({ code: 'NOT_COORDINATOR', coordinator });
  });

  test('commit, fetch, describe with lag from any node, list', async () => {
    const c = client(coordinator.url);
    const committed = await c.post('/v1/groups/g1/offsets', {
      ...member,
      offsets: [{ topic: 't', partition: 0, offset: 2, metadata: 'm' }],
    });
    expect(committed.json()).toEqual({ offsets: [{ topic: 't', partition: 0 }] });
    const fetched = await c.get('/v1/groups/g1/offsets?topic=t');
    expect(fetched.json()).toEqual({
      offsets: [{ topic: 't', partition: 0, offset: 2, metadata: 'm' }],
    });
    for (const id of [1, 2, 3]) {
      const described = await client(urlOf(id)).get('/v1/groups/g1');
      expect(described.status).toBe(200);
      const body = described.json();
      expect(body.members).toHaveLength(1);
      const p0 = body.offsets.find((o: { partition: number }) => o.partition === 0);
      expect(p0).toMatchObject({
        committedOffset: 2,
        highWatermark: 5,
        lag: 3,
        owner: member.memberId,
      });
      expect(p0.lagSeconds).toBeGreaterThan(50);
      const p1 = body.offsets.find((o: { partition: number }) => o.partition === 1);
      expect(p1).toMatchObject({ committedOffset: null, lag: null, highWatermark: 5 });
      const listed = await client(urlOf(id)).get('/v1/groups');
      expect(listed.json().groups).toContainEqual({
        group: 'g1',
        state: 'stable',
        members: 1,
        protocol: 'consumer',
      });
    }
    const metrics = (await c.get('/metrics')).body.toString('utf8');
    expect(metrics).toMatch(/rill_group_lag_records\{group="g1",topic="t",partition="0"\} 3/);
  });

  test('bad input answers documented codes; the node stays up', async () => {
    const c = client(coordinator.url);
    const hb = (body: unknown) => c.post('/v1/groups/g1/heartbeat', body);
    expect(code(await hb({ memberId: 'nobody', memberEpoch: 4 }))).toBe('UNKNOWN_MEMBER_ID');
    expect(code(await hb({ memberId: member.memberId, memberEpoch: 'x' }))).toBe('INVALID_REQUEST');
    expect(code(await hb({ memberId: member.memberId, memberEpoch: member.memberEpoch + 9 }))).toBe(
      'FENCED_MEMBER_EPOCH',
    );
    const many = Array.from({ length: 51 }, (_, i) => `t${i}`);
    const oversize = await hb({ memberId: '', memberEpoch: 0, subscribedTopics: many });
    expect([oversize.status, code(oversize)]).toEqual([400, 'INVALID_REQUEST']);
    for (const regex of ['(a+)+$', '(x|xx)*y', '\\1', 'a'.repeat(300)]) {
      const hostile = await hb({ memberId: '', memberEpoch: 0, subscribedTopicRegex: regex });
      expect([hostile.status, code(hostile)], regex).toEqual([400, 'INVALID_REQUEST']);
    }
    const unknown = await client(urlOf(1)).get('/v1/groups/nope');
    expect([unknown.status, code(unknown)]).toEqual([404, 'GROUP_ID_NOT_FOUND']);
    const stale = await c.post('/v1/groups/g1/offsets', {
      memberId: member.memberId,
      memberEpoch: member.memberEpoch - 2,
      offsets: [],
    });
    expect([stale.status, code(stale)]).toEqual([409, 'STALE_MEMBER_EPOCH']);
    expect(code(await c.get('/v1/groups?bogus=1'))).toBe('INVALID_REQUEST');
    expect((await c.get('/healthz')).status).toBe(200);
  });

  test('reset is refused with members; after leave: dry-run, reset, delete', async () => {
    const any = client(urlOf(1));
    const refused = await any.post('/v1/groups/g1/offsets/reset', { topic: 't', to: 'earliest' });
    expect([refused.status, code(refused)]).toEqual([409, 'NON_EMPTY_GROUP']);
    const left = await client(coordinator.url).post('/v1/groups/g1/heartbeat', {
      memberId: member.memberId,
      memberEpoch: -1,
    });
    expect(left.json()).toEqual({ memberId: member.memberId, memberEpoch: -1 });
    const dry = await any.post('/v1/groups/g1/offsets/reset', {
      topic: 't',
      to: { offset: 4 },
      dryRun: true,
    });
    expect(dry.json().offsets).toHaveLength(4);
    expect(
      (await client(coordinator.url).get('/v1/groups/g1/offsets')).json().offsets,
    ).toHaveLength(1);
    const reset = await any.post('/v1/groups/g1/offsets/reset', { topic: 't', to: 'latest' });
    expect(reset.json().offsets.map((o: { offset: number }) => o.offset)).toEqual([5, 5, 5, 5]);
    const described = (await any.get('/v1/groups/g1')).json();
    expect(described.state).toBe('empty');
    expect(described.offsets.every((o: { lag: number }) => o.lag === 0)).toBe(true);
    expect((await any.request({ method: 'DELETE', path: '/v1/groups/g1' })).status).toBe(204);
    expect((await any.get('/v1/groups/g1')).status).toBe(404);
  });

  test('coordinator failover: the new leader replays the offsets and the members', async () => {
    const group = 'g2';
    const where = await coordinatorOf(group);
    const joined = (
      await settled('join', () =>
        client(where.url).post(`/v1/groups/${group}/heartbeat`, {
          memberId: '',
          memberEpoch: 0,
          subscribedTopics: ['t'],
        }),
      )
    ).json();
    const commit = await client(where.url).post(`/v1/groups/${group}/offsets`, {
      memberId: joined.memberId,
      memberEpoch: joined.memberEpoch,
      offsets: [{ topic: 't', partition: 3, offset: 4 }],
    });
    expect(commit.status).toBe(200);
    await cluster.stopNode(where.id);
    await cluster.startNode(where.id); // The harness moves its leaderships to the ISR.
    const moved = await pollUntil('a new coordinator', 20_000, async () => {
      const c = await coordinatorOf(group);
      return c.id === where.id ? undefined : c;
    });
    const offsets = await settled('offsets', () =>
      client(moved.url).get(`/v1/groups/${group}/offsets`),
    );
    expect(offsets.json().offsets).toEqual([{ topic: 't', partition: 3, offset: 4, metadata: '' }]);
    const again = await settled('heartbeat', () =>
      client(moved.url).post(`/v1/groups/${group}/heartbeat`, {
        memberId: joined.memberId,
        memberEpoch: joined.memberEpoch,
        ownedPartitions: joined.assignment,
      }),
    );
    expect(again.status).toBe(200);
    expect(again.json().assignment).toEqual([{ topic: 't', partitions: [0, 1, 2, 3] }]);
  });
});
