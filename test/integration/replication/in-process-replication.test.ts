// Goal: the replication data plane between real brokers and real h2c servers in one process
// (metadata shared in memory in place of Raft): followers fetch and truncate by leader epoch,
// the leader's HW and acks=all follow the ISR, lagging followers leave the ISR through a
// committed compare-and-set record and rejoin once caught up, and every replica is
// byte-identical below the HW. Failover here is the controller's decision made by the test.
import { afterEach, describe, expect, test } from 'vitest';
import {
  BrokerError,
  toPartitionState,
  type Broker,
  type MetadataCommand,
} from '../../../src/broker/index.ts';
import { onNodeUnavailable } from '../../../src/broker/replication/index.ts';
import { toNodeId } from '../../../src/common/index.ts';
import { encodeBatch } from '../../../src/log/index.ts';
import { InProcessCluster } from '../../support/broker/in-process-cluster.ts';
import { batchBytesBelow } from '../../support/cluster/log-compare.ts';
import { until } from '../../support/poll.ts';

const topic = 'orders';
let cluster: InProcessCluster | null = null;

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

function batch(values: readonly string[]): Promise<Buffer> {
  return encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    records: values.map((v) => ({ key: null, value: Buffer.from(v), headers: [], timestampMs: 1 })),
  });
}

function leaderOf(c: InProcessCluster, partition = 0): number {
  const anyBroker = c.nodes.find((n) => n.broker !== null)?.broker as Broker;
  const leader = anyBroker.describeTopic(topic).partitions[partition]?.leader;
  if (leader === null || leader === undefined) throw new Error('no leader');
  return leader;
}

function isrOf(c: InProcessCluster, partition = 0): readonly number[] {
  const anyBroker = c.nodes.find((n) => n.broker !== null)?.broker as Broker;
  return anyBroker.describeTopic(topic).partitions[partition]?.isr ?? [];
}

async function produce(broker: Broker, i: number, acks: 0 | 1 | 'all' = 'all', timeoutMs = 5000) {
  const batches = await batch([`r${i}-a`, `r${i}-b`]);
  return broker.produce({ topic, partition: 0, batches, acks, timeoutMs });
}

async function createTopic(c: InProcessCluster): Promise<void> {
  await c.broker(1).createTopic({
    name: topic,
    partitions: 1,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '2' },
  });
  for (const node of c.nodes) await node.broker?.whenReconciled();
}

/** Every live replica holds the same bytes below the leader's HW. */
async function expectIdenticalBelowHighWatermark(c: InProcessCluster): Promise<void> {
  const leader = c.broker(leaderOf(c));
  const hw = leader.listOffsets(topic, 0).highWatermark;
  const dumps = await Promise.all(
    c.nodes.map((node) => batchBytesBelow(node.dataDir, topic, 0, hw)),
  );
  const reference = dumps[leaderOf(c) - 1] as Buffer;
  expect(reference.length).toBeGreaterThan(0);
  for (const [i, dump] of dumps.entries()) {
    if (c.nodes[i]?.broker === null) continue;
    expect(dump.equals(reference), `node ${i + 1} differs below HW ${hw}`).toBe(true);
  }
}

describe('replication between in-process brokers', () => {
  test('acks=all waits for the ISR; followers hold the same bytes', async () => {
    cluster = await InProcessCluster.start(3, 1000);
    const c = cluster;
    await createTopic(c);
    const leader = c.broker(leaderOf(c));
    for (let i = 0; i < 40; i += 1) {
      const result = await produce(leader, i);
      expect(result.lastOffset).toBe(2 * i + 1);
    }
    expect(leader.listOffsets(topic, 0).highWatermark).toBe(80);
    await until('followers at the LEO', async () => {
      const dumps = await Promise.all(c.nodes.map((n) => batchBytesBelow(n.dataDir, topic, 0, 80)));
      return dumps.every((d) => d.length === dumps[0]?.length);
    });
    await expectIdenticalBelowHighWatermark(c);
    expect([...isrOf(c)].sort()).toEqual([1, 2, 3]);
  });

  test('a stopped follower leaves the ISR, acks=all goes on, and it rejoins after restart', async () => {
    cluster = await InProcessCluster.start(3, 600);
    const c = cluster;
    await createTopic(c);
    const leaderId = leaderOf(c);
    const leader = c.broker(leaderId);
    const follower = [1, 2, 3].find((id) => id !== leaderId) as number;
    await produce(leader, 0);
    await c.stopNode(follower);
    // The first write after the stop waits until the ISR drops the follower, then acks.
    for (let i = 1; i < 30; i += 1) await produce(leader, i, 'all', 10_000);
    await until('ISR without the stopped follower', () => !isrOf(c).includes(follower));
    await c.startNode(follower);
    for (let i = 30; i < 40; i += 1) await produce(leader, i);
    await until('the follower back in the ISR', () => isrOf(c).includes(follower));
    await expectIdenticalBelowHighWatermark(c);
  });

  test('two replicas down: acks=all is refused or times out, never falsely acknowledged', async () => {
    cluster = await InProcessCluster.start(3, 500);
    const c = cluster;
    await createTopic(c);
    const leaderId = leaderOf(c);
    const leader = c.broker(leaderId);
    await produce(leader, 0);
    const others = [1, 2, 3].filter((id) => id !== leaderId);
    for (const id of others) await c.stopNode(id);
    const codes = new Set<string>();
    for (let i = 1; i < 6; i += 1) {
      try {
        await produce(leader, i, 'all', 1500);
        throw new Error('acknowledged with one replica alive');
      } catch (error) {
        if (!(error instanceof BrokerError)) throw error;
        codes.add(error.code);
      }
    }
    for (const code of codes) {
      expect([
        'NOT_ENOUGH_REPLICAS',
        'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
        'REQUEST_TIMED_OUT',
      ]).toContain(code);
    }
    await until('ISR shrunk to the leader', () => isrOf(c).length === 1);
    await expect(produce(leader, 9)).rejects.toMatchObject({ code: 'NOT_ENOUGH_REPLICAS' });
    // Nothing past the last acknowledged offset is visible to a consumer.
    expect(leader.listOffsets(topic, 0).highWatermark).toBe(2);
  });

  test('failover: the new leader keeps every acknowledged record; the old one truncates', async () => {
    cluster = await InProcessCluster.start(3, 1000);
    const c = cluster;
    await createTopic(c);
    const oldLeaderId = leaderOf(c);
    let acked = 0;
    for (let i = 0; i < 20; i += 1)
      acked = (await produce(c.broker(oldLeaderId), i)).lastOffset + 1;
    await c.stopNode(oldLeaderId);
    // The controller's decision, committed as it would be through Raft.
    const survivor = c.nodes.find((n) => n.image !== null)?.image;
    const image = survivor?.partition(topic, 0);
    if (image === undefined) throw new Error('no partition');
    const state = toPartitionState(image);
    const live = new Set([1, 2, 3].filter((id) => id !== oldLeaderId).map(toNodeId));
    const next = onNodeUnavailable(state, toNodeId(oldLeaderId), {
      liveNodes: live,
      ineligible: new Set(),
      uncleanLeaderElection: false,
    });
    if (next === null || next.leader === null) throw new Error('no new leader');
    const command: MetadataCommand = {
      type: 'change-partition',
      topic,
      partition: 0,
      expectedPartitionEpoch: state.partitionEpoch,
      leader: next.leader,
      leaderEpoch: next.leaderEpoch,
      replicas: next.replicas,
      isr: next.isr,
    };
    c.bus.commit(command, null);
    const newLeader = c.broker(next.leader);
    // listOffsets throws until the new leader has the partition; until() retries on throw.
    await until('new leader settled', () => newLeader.listOffsets(topic, 0).highWatermark >= acked);
    for (let i = 20; i < 30; i += 1) await produce(newLeader, i);
    await c.startNode(oldLeaderId);
    const hw = newLeader.listOffsets(topic, 0).highWatermark;
    expect(hw).toBe(60);
    await until('old leader caught up', async () => {
      const dump = await batchBytesBelow(c.node(oldLeaderId).dataDir, topic, 0, hw);
      const reference = await batchBytesBelow(c.node(next.leader as number).dataDir, topic, 0, hw);
      return dump.equals(reference);
    });
    await until('old leader back in the ISR', () => isrOf(c).includes(oldLeaderId));
    await expectIdenticalBelowHighWatermark(c);
  });
});
