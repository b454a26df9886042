// Goal (issue 13 trial finding 3, issue 7): the first acks=all write to a freshly created RF=3
// topic is acknowledged promptly on every partition — the followers learn of the partition and
// fetch it without waiting out an idle long poll or the ISR lag limit. Method: three real
// `rill broker` processes with default replication settings; per round a new topic of three
// partitions is created through the client library and one record is produced with acks=all
// to each partition at once, as a user would right after `rill topic create`. Each write must
// succeed (a generous deadline: the machine is shared); the times are printed.
import { loadavg } from 'node:os';
import { afterEach, expect, test } from 'vitest';
import { RillClient } from '../../../src/api/client/index.ts';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

const rounds = 3;
let cluster: RillCluster | null = null;
let client: RillClient | null = null;

afterEach(async () => {
  await client?.close();
  client = null;
  await cluster?.stopAll();
  cluster = null;
});

test('create an RF=3 topic, then acks=all at once: every partition acknowledged', async () => {
  const c = await RillCluster.start(3, 6_000);
  cluster = c;
  const rill = new RillClient({ bootstrapUrls: c.ids.map((id) => c.url(id)) });
  client = rill;
  // Every node registered: a creation before that is refused (too few live nodes).
  await pollUntil('three live nodes', 30_000, async () => {
    const view = await rill.admin().describeCluster();
    return view.brokers.filter((b) => b.status === 'alive').length === 3 ? true : undefined;
  });
  const firstAckMs: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const topic = `fresh-${round}`;
    const producer = rill.producer({ acks: 'all', lingerMs: 0 });
    const startMs = performance.now();
    await rill.admin().createTopic({
      name: topic,
      partitions: 3,
      replicationFactor: 3,
      configs: { 'min.insync.replicas': '2' },
    });
    const createdMs = performance.now();
    const acked = await Promise.all(
      [0, 1, 2].map(async (partition) => {
        const metadata = await producer.send({ topic, partition, value: Buffer.from('first') });
        expect(metadata.offset).toBe(0);
        return Math.round(performance.now() - createdMs);
      }),
    );
    await producer.close();
    firstAckMs.push(...acked);
    console.log(
      `round ${round}: create ${Math.round(createdMs - startMs)} ms, then first acks=all per ` +
        `partition ${acked.join(' / ')} ms (load ${loadavg()[0]?.toFixed(1)})`,
    );
  }
  // Generous: a shared machine can be slow; a follower that waited out the ISR lag limit
  // (10 s) and then a client retry would still show here.
  expect(Math.max(...firstAckMs)).toBeLessThan(20_000);
}, 120_000);
