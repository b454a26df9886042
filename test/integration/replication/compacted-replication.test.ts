// Goal: each replica of a compacted topic compacts on its own, and replication works across
// the gaps compaction leaves: followers keep fetching after their leader cleaned, a follower
// whose data was wiped re-replicates the leader's compacted log from offset 0, and all
// replicas then hold the same latest value per key below the HW and the same bytes from the
// highest cleaner point up. Method: three in-process brokers over real h2c (cleaner every
// 200 ms), keyed acks=all produces, waiting by polling.
import { rmSync } from 'node:fs';
import { afterEach, expect, test } from 'vitest';
import type { Broker } from '../../../src/broker/index.ts';
import { encodeBatch } from '../../../src/log/index.ts';
import { InProcessCluster } from '../../support/broker/in-process-cluster.ts';
import {
  batchBytesBelow,
  cleanerPointOf,
  latestValuesBelow,
} from '../../support/cluster/log-compare.ts';
import { until } from '../../support/poll.ts';

const topic = 'profiles';
let cluster: InProcessCluster | null = null;

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

function leaderOf(c: InProcessCluster): number {
  const anyBroker = c.nodes.find((n) => n.broker !== null)?.broker as Broker;
  const leader = anyBroker.describeTopic(topic).partitions[0]?.leader;
  if (leader === null || leader === undefined) throw new Error('no leader');
  return leader;
}

async function produceRound(broker: Broker, round: number): Promise<void> {
  const records = Array.from({ length: 4 }, (_, i) => ({
    key: Buffer.from(`user-${(round * 4 + i) % 9}`),
    value: (round + i) % 13 === 12 ? null : Buffer.from(`${round}-${i}-${'p'.repeat(60)}`),
    headers: [],
    timestampMs: 1_700_000_000_000 + round,
  }));
  const batches = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: round % 3 === 0 ? 'gzip' : 'none',
    records,
  });
  // acks=1 but every tenth round: acks=all waits a follower fetch round each time.
  const acks = round % 10 === 9 ? 'all' : 1;
  await broker.produce({ topic, partition: 0, batches, acks, timeoutMs: 10_000 });
}

async function expectSameLatestValues(c: InProcessCluster, hw: number): Promise<void> {
  const live = c.nodes.filter((n) => n.broker !== null);
  const latest = await Promise.all(live.map((n) => latestValuesBelow(n.dataDir, topic, 0, hw)));
  expect(latest[0]?.size).toBeGreaterThan(0);
  for (const values of latest) expect(values).toEqual(latest[0]);
  const points = await Promise.all(live.map((n) => cleanerPointOf(n.dataDir, topic, 0)));
  const from = Math.max(...points);
  const above = await Promise.all(live.map((n) => batchBytesBelow(n.dataDir, topic, 0, hw, from)));
  for (const bytes of above) expect(bytes.equals(above[0] as Buffer)).toBe(true);
}

test('replicas compact on their own and replicate across the gaps', async () => {
  cluster = await InProcessCluster.start(3, 2000);
  const c = cluster;
  await c.broker(1).createTopic({
    name: topic,
    partitions: 1,
    replicationFactor: 3,
    configs: {
      'cleanup.policy': 'compact',
      'segment.bytes': '1024',
      'min.cleanable.dirty.ratio': '0.01',
      'min.insync.replicas': '2',
    },
  });
  for (const node of c.nodes) await node.broker?.whenReconciled();
  const leaderId = leaderOf(c);
  for (let round = 0; round < 60; round += 1) await produceRound(c.broker(leaderId), round);
  await until('every replica cleaned its log', () =>
    c.nodes.every((n) => (n.broker?.cleanerStats().runs ?? 0) > 0),
  );
  // Followers go on fetching after their leader compacted.
  for (let round = 60; round < 80; round += 1) await produceRound(c.broker(leaderId), round);
  const hw = () => c.broker(leaderId).listOffsets(topic, 0).highWatermark;
  expect(hw()).toBe(320);
  await until('replicas agree', async () => {
    try {
      await expectSameLatestValues(c, hw());
      return true;
    } catch {
      return false;
    }
  });
  await expectSameLatestValues(c, hw());

  // A follower that lost its disk re-replicates the leader's compacted log from offset 0.
  const follower = [1, 2, 3].find((id) => id !== leaderId) as number;
  await c.stopNode(follower);
  rmSync(c.node(follower).dataDir, { recursive: true, force: true });
  await c.startNode(follower);
  await until('the wiped follower caught up', async () => {
    const latest = await latestValuesBelow(c.node(follower).dataDir, topic, 0, hw());
    const leaderLatest = await latestValuesBelow(c.node(leaderId).dataDir, topic, 0, hw());
    return latest.size > 0 && JSON.stringify([...latest]) === JSON.stringify([...leaderLatest]);
  });
  await expectSameLatestValues(c, hw());
}, 60_000);
