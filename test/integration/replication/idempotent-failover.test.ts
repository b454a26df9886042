// Goal: the producer state moves with leadership (issue 9): followers build it from the
// batches they replicate, so a batch acknowledged by a leader that then dies, retried on the
// new leader, answers its original offsets (duplicate) instead of being stored again; the
// producer's next batch continues its sequence there, and a gap is still refused.
// Method: three in-process brokers on real h2c servers (metadata on a shared bus in place of
// Raft); the test commits the controller's failover decision itself. Waits poll a condition.
import { afterEach, expect, test } from 'vitest';
import {
  toPartitionState,
  type Broker,
  type MetadataCommand,
  type ProducerIdentity,
} from '../../../src/broker/index.ts';
import { onNodeUnavailable } from '../../../src/broker/replication/index.ts';
import { toNodeId } from '../../../src/common/index.ts';
import { encodeBatch } from '../../../src/log/index.ts';
import { InProcessCluster } from '../../support/broker/in-process-cluster.ts';
import { until } from '../../support/poll.ts';

const topic = 'idem-failover';
let cluster: InProcessCluster | null = null;

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

function batch(p: ProducerIdentity, sequence: number, values: readonly string[]) {
  return encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    producerId: BigInt(p.producerId),
    producerEpoch: p.producerEpoch,
    baseSequence: sequence,
    records: values.map((v) => ({ key: null, value: Buffer.from(v), headers: [], timestampMs: 1 })),
  });
}

function produce(broker: Broker, batches: Buffer) {
  return broker.produce({ topic, partition: 0, batches, acks: 'all', timeoutMs: 5000 });
}

/** Stops the leader and commits the failover a controller would make; returns the new one. */
async function failOver(c: InProcessCluster, oldLeaderId: number, acked: number): Promise<Broker> {
  await c.stopNode(oldLeaderId);
  const image = c.nodes.find((n) => n.image !== null)?.image?.partition(topic, 0);
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
  await until('new leader settled', () => newLeader.listOffsets(topic, 0).highWatermark >= acked);
  return newLeader;
}

test('a batch retried on the new leader after a failover is deduplicated', async () => {
  // A generous lag limit: a loaded machine must not shrink the ISR under min.insync.replicas.
  cluster = await InProcessCluster.start(3, 10_000);
  const c = cluster;
  await c.broker(1).createTopic({
    name: topic,
    partitions: 1,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '2' },
  });
  for (const node of c.nodes) await node.broker?.whenReconciled();
  const producer = await c.broker(2).initProducer(null);
  const oldLeaderId = c.broker(1).describeTopic(topic).partitions[0]?.leader as number;
  const first = await batch(producer, 0, ['a', 'b']);
  const second = await batch(producer, 2, ['c']);
  const firstAnswer = await produce(c.broker(oldLeaderId), Buffer.from(first));
  const secondAnswer = await produce(c.broker(oldLeaderId), Buffer.from(second));
  expect(firstAnswer.duplicate).toBeUndefined();
  const newLeader = await failOver(c, oldLeaderId, secondAnswer.lastOffset + 1);
  // The acknowledgements were lost with the old leader: the client retries both.
  const retried = await produce(newLeader, Buffer.from(first));
  expect(retried).toMatchObject({
    baseOffset: firstAnswer.baseOffset,
    lastOffset: firstAnswer.lastOffset,
    duplicate: true,
  });
  expect((await produce(newLeader, Buffer.from(second))).duplicate).toBe(true);
  const third = await produce(newLeader, await batch(producer, 3, ['d']));
  expect(third.baseOffset).toBe(secondAnswer.lastOffset + 1);
  await expect(produce(newLeader, await batch(producer, 9, ['gap']))).rejects.toMatchObject({
    code: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
  });
  expect(newLeader.listOffsets(topic, 0).highWatermark).toBe(third.lastOffset + 1);
});
