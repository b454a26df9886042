// Goal (issue 8): kill -9 the node that coordinates a group (it leads the group's
// __consumer_offsets partition): the controller elects a new leader from the ISR, that node
// replays the partition and answers with the committed offsets and the members, whose
// heartbeats carry on with their ids, epochs and partitions. Method: three `rill broker`
// processes on loopback, HTTP/2 requests, polling with deadlines.
import { afterEach, expect, test } from 'vitest';
import { RillCluster, type JsonResponse } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

let cluster: RillCluster | null = null;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = null;
});

/** Asks `ask()` until the answer is not a retriable 503 or 421 from a stale view. */
async function answered(what: string, ask: () => Promise<JsonResponse>): Promise<JsonResponse> {
  return pollUntil(
    what,
    30_000,
    async () => {
      const response = await ask().catch(() => undefined);
      if (response === undefined || response.status === 503 || response.status === 421)
        return undefined;
      return response;
    },
    100,
  );
}

test('kill -9 of the coordinator: offsets survive and the member carries on', async () => {
  cluster = await RillCluster.start(3, 1_500);
  const c = cluster;
  const created = await c.post(1, '/v1/topics', {
    name: 'orders',
    partitions: 3,
    replicationFactor: 3,
    configs: {},
  });
  expect(created.status).toBe(201);
  const located = await answered('coordinator', () => c.get(1, '/v1/groups/g/coordinator'));
  const coordinator = (located.body as { coordinator: { id: number } }).coordinator.id;
  const join = await answered('join', () =>
    c.post(coordinator, '/v1/groups/g/heartbeat', {
      memberId: '',
      memberEpoch: 0,
      subscribedTopics: ['orders'],
    }),
  );
  expect(join.status).toBe(200);
  const member = join.body as {
    memberId: string;
    memberEpoch: number;
    assignment: { topic: string; partitions: number[] }[];
  };
  expect(member.assignment).toEqual([{ topic: 'orders', partitions: [0, 1, 2] }]);
  const commit = await c.post(coordinator, '/v1/groups/g/offsets', {
    memberId: member.memberId,
    memberEpoch: member.memberEpoch,
    offsets: [{ topic: 'orders', partition: 1, offset: 7 }],
  });
  expect(commit.status).toBe(200);

  // A heartbeat just before the kill: the member's session (10 s) runs from here.
  const fresh = await c.post(coordinator, '/v1/groups/g/heartbeat', {
    memberId: member.memberId,
    memberEpoch: member.memberEpoch,
    ownedPartitions: member.assignment,
  });
  expect(fresh.status).toBe(200);
  await c.kill(coordinator);
  const survivor = c.ids.find((id) => id !== coordinator)!;
  const next = await pollUntil(
    'a new coordinator',
    30_000,
    async () => {
      const r = await c.get(survivor, '/v1/groups/g/coordinator').catch(() => undefined);
      const id = (r?.body as { coordinator?: { id: number } } | null)?.coordinator?.id;
      return r?.status === 200 && id !== coordinator ? id : undefined;
    },
    100,
  );
  const offsets = await answered('offsets', () => c.get(next!, '/v1/groups/g/offsets'));
  expect(offsets.body).toEqual({
    offsets: [{ topic: 'orders', partition: 1, offset: 7, metadata: '' }],
  });
  const beat = await answered('heartbeat', () =>
    c.post(next!, '/v1/groups/g/heartbeat', {
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      ownedPartitions: member.assignment,
    }),
  );
  expect(beat.status).toBe(200);
  expect((beat.body as typeof member).assignment).toEqual(member.assignment);
  const described = await answered('describe', () => c.get(survivor, '/v1/groups/g'));
  expect((described.body as { members: unknown[] }).members).toHaveLength(1);
}, 120_000);
