// Goal (issue 9): a retried idempotent batch is deduplicated by a new leader — the followers
// built the producer state from the batches they replicated — after the leader is killed and
// after leadership moves back to a restarted node (which rebuilt its state from its log): the
// retry answers the original offsets with `duplicate: true`, nothing is written twice, and the
// producer's next sequence appends after it.
// Method: a three-node cluster (RF=3, min.insync.replicas=2); JSON produces with the `producer`
// field, acks=all; the high watermark and a read of the partition show what was written.
import { afterEach, expect, test } from 'vitest';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

const topic = 'idem-leader-change';
let cluster: RillCluster | null = null;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = null;
});

async function leaderOf(c: RillCluster, other?: number): Promise<number> {
  return pollUntil('a leader', 30_000, async () => {
    for (const id of c.ids) {
      if (!c.isRunning(id)) continue;
      const { status, body } = await c.get(id, `/v1/topics/${topic}`);
      const leader = status === 200 ? body.partitions[0]?.leader : null;
      if (typeof leader === 'number' && c.isRunning(leader) && leader !== other) return leader;
    }
    return undefined;
  });
}

test('a retried batch is deduplicated on a new leader and on a restarted one', async () => {
  const c = await RillCluster.start(3, 2_000);
  cluster = c;
  const created = await c.post(1, '/v1/topics', {
    name: topic,
    partitions: 1,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '2' },
  });
  expect(created.status).toBe(201);
  const init = await c.post(1, '/v1/producers', {});
  expect(init.status).toBe(200);
  const { producerId: id, producerEpoch: epoch } = init.body;
  const batch = (sequence: number, values: string[]) => ({
    records: values.map((value) => ({ value })),
    producer: { id, epoch, sequence },
  });
  const path = `/v1/topics/${topic}/partitions/0/records?acks=all&timeoutMs=10000`;
  const produce = async (body: unknown, other?: number) => {
    // A fresh leader may still be catching followers up: retry until it answers 200.
    return pollUntil('a produce answered', 30_000, async () => {
      const leader = await leaderOf(c, other);
      const answer = await c.post(leader, path, body).catch(() => null);
      return answer?.status === 200 ? { leader, body: answer.body } : undefined;
    });
  };
  const first = await produce(batch(0, ['a', 'b']));
  expect(first.body).toMatchObject({ baseOffset: 0, lastOffset: 1 });
  const second = await produce(batch(2, ['c']));
  expect(second.body).toMatchObject({ baseOffset: 2, lastOffset: 2 });
  // The leader dies; the retry of both batches reaches the new one.
  const oldLeader = first.leader;
  await c.kill(oldLeader);
  const afterKill = await produce(batch(0, ['a', 'b']), oldLeader);
  expect(afterKill.leader).not.toBe(oldLeader);
  expect(afterKill.body).toMatchObject({ baseOffset: 0, lastOffset: 1, duplicate: true });
  const secondAgain = await produce(batch(2, ['c']), oldLeader);
  expect(secondAgain.body).toMatchObject({ baseOffset: 2, duplicate: true });
  const third = await produce(batch(3, ['d']), oldLeader);
  expect(third.body).toMatchObject({ baseOffset: 3, lastOffset: 3 });
  expect(third.body.duplicate).toBeUndefined();
  // The old leader comes back (state rebuilt from its log) and takes over again when the
  // new one dies: the retries are deduplicated there too.
  await c.startNode(oldLeader);
  const secondLeader = afterKill.leader;
  await pollUntil('the old leader back in the ISR', 30_000, async () => {
    const { status, body } = await c.get(secondLeader, `/v1/topics/${topic}`);
    return status === 200 && body.partitions[0]?.isr.length === 3 ? true : undefined;
  });
  await c.kill(secondLeader);
  const onRestarted = await produce(batch(3, ['d']), secondLeader);
  expect(onRestarted.body).toMatchObject({ baseOffset: 3, duplicate: true });
  const read = await c.get(
    onRestarted.leader,
    `/v1/topics/${topic}/partitions/0/records?offset=0&maxWaitMs=0`,
  );
  expect(read.status).toBe(200);
  expect(read.body.records.map((r: { value: string }) => r.value)).toEqual(['a', 'b', 'c', 'd']);
}, 180_000);
