// Goal: clients reach leaders from any node of a three-node cluster: the topic-level JSON
// produce route places records by murmur2 key and forwards to leaders, answering offsets in
// request order; partition routes on a non-leader answer 421 with the leader; and the client
// library's Producer and Consumer ride through a kill -9 of a leader with acks=all, every
// acknowledged record read back at its offset. Method: `rill broker` processes on loopback.
import { afterEach, expect, test } from 'vitest';
import { RillClient, partitionForKey } from '../../../src/api/client/index.ts';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

const topic = 'routed';
let cluster: RillCluster | null = null;
let client: RillClient | null = null;

afterEach(async () => {
  await client?.close();
  client = null;
  await cluster?.stopAll();
  cluster = null;
});

interface PartitionView {
  partition: number;
  leader: number | null;
  isr: number[];
}

async function partitions(c: RillCluster, asker: number): Promise<PartitionView[]> {
  const { body } = await c.get(asker, `/v1/topics/${topic}`);
  return body.partitions as PartitionView[];
}

test('topic-level produce works on any node; partition routes answer 421 off the leader', async () => {
  cluster = await RillCluster.start(3, 1_500, 3, ['--replica-lag-time-max-ms', '1000']);
  const c = cluster;
  const created = await c.post(1, '/v1/topics', {
    name: topic,
    partitions: 3,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '2' },
  });
  expect(created.status).toBe(201);
  await pollUntil('leaders everywhere, seen by every node', 10_000, async () => {
    const views = await Promise.all(c.ids.map((id) => partitions(c, id)));
    return views.every((v) => v.length === 3 && v.every((p) => p.leader !== null))
      ? true
      : undefined;
  });
  // Every leader has opened its replica (a fresh topic answers LEADER_NOT_AVAILABLE briefly).
  await pollUntil('every partition writable', 10_000, async () => {
    const records = [0, 1, 2].map((partition) => ({ partition, value: 'probe' }));
    const answer = await c.post(2, `/v1/topics/${topic}/records?acks=all`, { records });
    const offsets = answer.body.offsets as { offset?: number }[];
    return offsets.every((o) => o.offset !== undefined) ? true : undefined;
  });
  const keys = Array.from({ length: 30 }, (_, i) => `key-${i}`);
  for (const asker of c.ids) {
    const records = keys.map((key) => ({ key, value: `${key}@${asker}` }));
    const answer = await c.post(asker, `/v1/topics/${topic}/records?acks=all`, { records });
    expect(answer.status).toBe(200);
    const offsets = answer.body.offsets as { partition: number; offset: number }[];
    expect(offsets).toHaveLength(keys.length);
    keys.forEach((key, i) => {
      expect(offsets[i]?.partition, JSON.stringify(offsets[i])).toBe(
        partitionForKey(Buffer.from(key), 3),
      );
      expect(offsets[i]?.offset).toBeGreaterThanOrEqual(0);
    });
  }
  const [p0] = await partitions(c, 1);
  const other = c.ids.find((id) => id !== p0?.leader) as number;
  const refused = await c.post(other, `/v1/topics/${topic}/partitions/0/records`, {
    records: [{ value: 'x' }],
  });
  expect(refused.status).toBe(421);
  expect(refused.body.error.code).toBe('NOT_LEADER_OR_FOLLOWER');
  expect(refused.body.error.leader).toEqual({ id: p0?.leader, url: c.url(p0?.leader as number) });
});

test('Producer and Consumer ride through kill -9 of a leader; acknowledged records stay', async () => {
  cluster = await RillCluster.start(3, 1_500, 3, ['--replica-lag-time-max-ms', '1000']);
  const c = cluster;
  await c.post(1, '/v1/topics', {
    name: topic,
    partitions: 3,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '2' },
  });
  await pollUntil('leaders everywhere, seen by every node', 10_000, async () => {
    const views = await Promise.all(c.ids.map((id) => partitions(c, id)));
    return views.every((v) => v.length === 3 && v.every((p) => p.leader !== null))
      ? true
      : undefined;
  });
  client = new RillClient({ bootstrapUrls: c.ids.map((id) => c.url(id)) });
  const producer = client.producer({ acks: 'all', lingerMs: 1 });
  const acked = new Map<string, string>();
  const send = async (i: number) => {
    const value = `value-${i}`;
    const meta = await producer.send({ topic, key: `k${i % 17}`, value });
    acked.set(`${meta.partition}:${meta.offset}`, value);
  };
  await Promise.all(Array.from({ length: 100 }, (_, i) => send(i)));
  const victim = (await partitions(c, 1))[0]?.leader as number;
  await c.kill(victim);
  await Promise.all(Array.from({ length: 100 }, (_, i) => send(100 + i)));
  expect(acked.size).toBe(200);
  const consumer = client.consumer({ autoOffsetReset: 'earliest' });
  consumer.assign([0, 1, 2].map((partition) => ({ topic, partition })));
  const seen = new Map<string, string>();
  await pollUntil('every acknowledged record consumed', 20_000, async () => {
    for (const record of await consumer.poll({ maxWaitMs: 500 })) {
      seen.set(`${record.partition}:${record.offset}`, Buffer.from(record.value ?? []).toString());
    }
    return [...acked.keys()].every((k) => seen.has(k)) ? true : undefined;
  });
  consumer.close();
  for (const [at, value] of acked) expect(seen.get(at), at).toBe(value);
});
