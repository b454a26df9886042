// Goal: kill -9 of the group coordinator's node — committed offsets survive (the new leader of
// the group's __consumer_offsets partition rebuilds the group from it) and the group goes on:
// its members find the new coordinator and every record, before and after, is printed
// (at-least-once). Method: a three-node cluster of `rill broker` processes, two `rill consume
// --group` children, the coordinator found with GET /v1/groups/{group}/coordinator.
import { afterEach, expect, test } from 'vitest';
import { RillClient } from '../../src/api/client/index.ts';
import { ConsumeMember, deliveries } from '../support/cluster/consume-member.ts';
import { RillCluster } from '../support/cluster/rill-cluster.ts';
import { pollUntil } from '../support/poll.ts';

const topic = 'payments';
const group = 'ledger';
let cluster: RillCluster | null = null;
let client: RillClient | null = null;
const members: ConsumeMember[] = [];

afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.kill()));
  await client?.close();
  client = null;
  await cluster?.stopAll();
  cluster = null;
});

interface Committed {
  partition: number;
  committedOffset: number | null;
}

test('kill -9 of the coordinator: offsets survive and the group continues', async () => {
  cluster = await RillCluster.start(3, 3_000);
  const c = cluster;
  const urls = c.ids.map((id) => c.url(id));
  const admin = new RillClient({ bootstrapUrls: urls });
  client = admin;
  await admin.admin().createTopic({ name: topic, partitions: 4, replicationFactor: 3 });
  let produced = 0;
  const produce = async (count: number): Promise<void> => {
    const producer = admin.producer({ acks: 'all' });
    const sends = Array.from({ length: count }, (_, i) =>
      producer.send({ topic, partition: (produced + i) % 4, value: `payment-${produced + i}` }),
    );
    await Promise.all(sends);
    await producer.close();
    produced += count;
  };
  members.push(new ConsumeMember(urls.join(','), topic, group));
  members.push(new ConsumeMember(urls.join(','), topic, group));
  await produce(100);
  await pollUntil('100 records printed', 30_000, () =>
    deliveries(members).size === 100 ? true : undefined,
  );
  // Auto-commit (5 s) brings every partition's committed offset to its end: 25 each.
  const committedOf = async (asker: number): Promise<Committed[]> => {
    const response = await c.get(asker, `/v1/groups/${group}`);
    if (response.status !== 200) return [];
    return (response.body.offsets as Committed[]).sort((a, b) => a.partition - b.partition);
  };
  await pollUntil('offsets committed', 20_000, async () =>
    (await committedOf(1)).every((o) => o.committedOffset === 25) ? true : undefined,
  );
  const found = await c.get(1, `/v1/groups/${group}/coordinator`);
  expect(found.status).toBe(200);
  const coordinatorId = found.body.coordinator.id as number;
  await c.kill(coordinatorId);
  const asker = c.ids.find((id) => id !== coordinatorId) as number;
  // The new coordinator replayed the offsets: none went back.
  const survived = await pollUntil('a new coordinator answering', 30_000, async () => {
    const offsets = await committedOf(asker);
    return offsets.length === 4 ? offsets : undefined;
  });
  expect(survived.map((o) => o.committedOffset)).toEqual([25, 25, 25, 25]);
  await produce(100);
  await pollUntil('the 100 records produced after the kill', 45_000, () =>
    deliveries(members).size === 200 ? true : undefined,
  );
  const moved = await c.get(asker, `/v1/groups/${group}/coordinator`);
  expect(moved.body.coordinator.id).not.toBe(coordinatorId);
});
