// Goal (issue 10): when the leader and a follower crash together on disks that drop every
// write not yet fsynced (log.flush=never: their whole unsynced tails vanish,
// test/support/log/lossy-disk.ts), no acks=all record is lost while one ISR member survives,
// and once both are back every replica holds the same bytes below the HW. Method: real
// brokers in one process (InProcessCluster) with a LossyDisk under each node's logs;
// producers keep acks=all writes in flight through the crash. Seeded: LOSSY_FAILOVER_SEED.
import { afterEach, expect, test } from 'vitest';
import type { Broker } from '../../../src/broker/index.ts';
import { decodeBatches, encodeBatch } from '../../../src/log/index.ts';
import { InProcessCluster } from '../../support/broker/in-process-cluster.ts';
import { batchBytesBelow } from '../../support/cluster/log-compare.ts';
import { LossyDisk } from '../../support/log/lossy-disk.ts';
import { until } from '../../support/poll.ts';

const topic = 'lossy';
const seed = Number(process.env['LOSSY_FAILOVER_SEED'] ?? Date.now() % 2 ** 31);
let cluster: InProcessCluster | null = null;
const disks = new Map<number, LossyDisk>();

afterEach(async () => {
  await cluster?.close();
  cluster = null;
  for (const disk of disks.values()) disk.dispose();
  disks.clear();
});

function describeOf(c: InProcessCluster): { leader: number; isr: readonly number[] } {
  const broker = c.nodes.find((n) => n.broker !== null)?.broker as Broker;
  const partition = broker.describeTopic(topic).partitions[0];
  return { leader: partition?.leader ?? -1, isr: partition?.isr ?? [] };
}

/** Produces acks=all to whoever leads until `stop()`; records what was acknowledged where. */
function producer(c: InProcessCluster, name: string) {
  const acked = new Map<number, string>();
  let running = true;
  let sent = 0;
  const done = (async () => {
    while (running) {
      const value = `${name}-${sent}`;
      sent += 1;
      const batches = await encodeBatch({
        baseOffset: 0,
        partitionLeaderEpoch: -1,
        compression: 'none',
        records: [{ key: null, value: Buffer.from(value), headers: [], timestampMs: 1 }],
      });
      try {
        const leader = c.broker(describeOf(c).leader);
        const result = await leader.produce({
          topic,
          partition: 0,
          batches,
          acks: 'all',
          timeoutMs: 3000,
        });
        acked.set(result.baseOffset, value);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 20)); // Leader down: retry later.
      }
    }
  })();
  return {
    acked,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

async function valuesBelow(c: InProcessCluster, id: number, hw: number): Promise<string[]> {
  const bytes = await batchBytesBelow(c.node(id).dataDir, topic, 0, hw);
  const batches = await decodeBatches(bytes);
  return batches.flatMap((b) => b.records.map((r) => Buffer.from(r.value ?? []).toString()));
}

test('leader and follower lose their unsynced tails together; no acks=all record is lost', async () => {
  console.log(`lossy-disk failover seed=${seed}`);
  for (const id of [1, 2, 3]) disks.set(id, new LossyDisk(seed + id));
  // A long lag bound keeps all three in the ISR: every acks=all record is on the survivor.
  const c = await InProcessCluster.start(3, 30_000, {}, (id) =>
    (disks.get(id) as LossyDisk).port(),
  );
  cluster = c;
  await c.broker(1).createTopic({
    name: topic,
    partitions: 1,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '2', 'log.flush': 'never', 'segment.bytes': '4096' },
  });
  for (const node of c.nodes) await node.broker?.whenReconciled();
  const producers = [producer(c, 'a'), producer(c, 'b'), producer(c, 'c')];
  await until('some writes acknowledged', () => producers.every((p) => p.acked.size >= 30));
  const { leader } = describeOf(c);
  const follower = [1, 2, 3].find((id) => id !== leader) as number;
  const survivor = [1, 2, 3].find((id) => id !== leader && id !== follower) as number;
  // Power fails under both at once, writes in flight; then their processes go.
  const unsynced = [leader, follower].map((id) => (disks.get(id) as LossyDisk).unsyncedBytes);
  for (const id of [leader, follower]) (disks.get(id) as LossyDisk).crash();
  await Promise.allSettled([c.stopNode(leader), c.stopNode(follower)]);
  const dropped = [leader, follower].map((id) => (disks.get(id) as LossyDisk).stats.droppedBytes);
  console.log(
    `crashed leader ${leader} and follower ${follower}: unsynced=${unsynced} dropped=${dropped}`,
  );
  expect(Math.min(...dropped)).toBeGreaterThan(0);
  await c.startNode(leader);
  await c.startNode(follower);
  await until('the survivor leads', () => describeOf(c).leader === survivor);
  const ackedBefore = producers.map((p) => p.acked.size);
  await until('writes acknowledged by the new leader', () =>
    producers.every((p, i) => p.acked.size >= (ackedBefore[i] ?? 0) + 10),
  );
  await Promise.all(producers.map((p) => p.stop()));
  await until('all three back in the ISR', () => describeOf(c).isr.length === 3, 20_000);
  const hw = c.broker(survivor).listOffsets(topic, 0).highWatermark;
  let replicas: string[][] = [];
  await until('every replica at the HW', async () => {
    replicas = await Promise.all([1, 2, 3].map((id) => valuesBelow(c, id, hw)));
    return replicas.every((values) => values.length === hw);
  });
  for (const values of replicas) expect(values).toEqual(replicas[0]);
  const log = replicas[0] ?? [];
  let ackedCount = 0;
  for (const p of producers) {
    for (const [offset, value] of p.acked) {
      expect(log[offset], `acked ${value} at ${offset}`).toBe(value);
      ackedCount += 1;
    }
  }
  expect(new Set(log).size, 'no record twice').toBe(log.length);
  console.log(`hw=${hw} acked=${ackedCount} all present on 3 identical replicas`);
}, 60_000);
