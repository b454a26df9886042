// Goal (issue 13 item 3): GET /v1/topics/{t} answers every partition's high watermark and log
// start offset from any node, marking where each came from: its own leader or follower replica,
// or the leader asked for this answer ('leader-remote'), with the age of what is not its own;
// a leader that is down leaves them null quickly instead of failing the describe. Real brokers
// and h2c servers in one process.
import { afterEach, describe, expect, test } from 'vitest';
import { H2Transport } from '../../../src/api/client/index.ts';
import { describeForwardTimeoutMs } from '../../../src/api/server/routes/topic-describe.ts';
import type { TopicDescriptionBody } from '../../../src/api/wire.ts';
import type { Broker } from '../../../src/broker/index.ts';
import { encodeBatch } from '../../../src/log/index.ts';
import { InProcessCluster } from '../../support/broker/in-process-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

let cluster: InProcessCluster | null = null;
const http = new H2Transport();

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

async function describeVia(url: string, topic: string): Promise<TopicDescriptionBody> {
  const response = await http.request(url, {
    method: 'GET',
    path: `/v1/topics/${topic}`,
    responseBytesMax: 1024 * 1024,
    timeoutMs: 5_000,
  });
  expect(response.status).toBe(200);
  return JSON.parse(response.body.toString('utf8')) as TopicDescriptionBody;
}

async function produce(broker: Broker, topic: string, partition: number, count: number) {
  const batches = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    records: Array.from({ length: count }, (_, i) => ({
      key: null,
      value: Buffer.from(`v${i}`),
      headers: [],
      timestampMs: 1,
    })),
  });
  await broker.produce({ topic, partition, batches, acks: 'all', timeoutMs: 5_000 });
}

/** [partition, HW, log start] of every partition, the numbers a user compares. */
function offsets(d: TopicDescriptionBody): [number, number | null, number | null][] {
  return d.partitions.map((p) => [p.partition, p.highWatermark, p.logStartOffset]);
}

describe('describe from any node', () => {
  test('RF=1, 3 partitions on 3 nodes: every node shows the same offsets', async () => {
    cluster = await InProcessCluster.start(3, 10_000);
    const c = cluster;
    const created = await c.broker(1).createTopic({
      name: 'spread',
      partitions: 3,
      replicationFactor: 1,
      configs: {},
    });
    for (const node of c.nodes) await node.broker?.whenReconciled();
    const leaders = created.partitions.map((p) => p.leader);
    expect(new Set(leaders).size).toBe(3);
    for (const p of created.partitions)
      await produce(c.broker(p.leader ?? 0), 'spread', p.partition, p.partition + 2);
    const expected: [number, number, number][] = [
      [0, 2, 0],
      [1, 3, 0],
      [2, 4, 0],
    ];
    for (const node of c.nodes) {
      const described = await describeVia(node.url, 'spread');
      expect(offsets(described), `described by node ${node.id}`).toEqual(expected);
      for (const p of described.partitions) {
        const source = p.leader === node.id ? 'leader' : 'leader-remote';
        expect(p.offsetsSource, `node ${node.id} partition ${p.partition}`).toBe(source);
        if (source === 'leader') {
          expect(p).not.toHaveProperty('offsetsAgeMs');
          continue;
        }
        // Asked for this answer: at most the round trip, bounded by the forward timeout.
        expect(Number.isInteger(p.offsetsAgeMs)).toBe(true);
        expect(p.offsetsAgeMs).toBeGreaterThanOrEqual(0);
        expect(p.offsetsAgeMs).toBeLessThanOrEqual(describeForwardTimeoutMs);
      }
    }
  });

  test('RF=3: followers report the leader HW learnt from fetch answers', async () => {
    cluster = await InProcessCluster.start(3, 10_000);
    const c = cluster;
    const created = await c.broker(1).createTopic({
      name: 'copies',
      partitions: 1,
      replicationFactor: 3,
      configs: {},
    });
    for (const node of c.nodes) await node.broker?.whenReconciled();
    const leader = created.partitions[0]?.leader ?? 0;
    await produce(c.broker(leader), 'copies', 0, 5);
    for (const node of c.nodes) {
      // A follower learns the HW from its next fetch answer: poll, never sleep.
      const described = await pollUntil(`node ${node.id} HW 5`, 5_000, async () => {
        const d = await describeVia(node.url, 'copies');
        return d.partitions[0]?.highWatermark === 5 ? d : undefined;
      });
      expect(offsets(described)).toEqual([[0, 5, 0]]);
      const source = node.id === leader ? 'leader' : 'follower';
      expect(described.partitions[0]?.offsetsSource).toBe(source);
      const age = described.partitions[0]?.offsetsAgeMs;
      if (source === 'leader') expect(age).toBeUndefined();
      else expect(Number.isInteger(age)).toBe(true);
    }
  });

  test('a leader that is down leaves its offsets null, and the describe still answers', async () => {
    cluster = await InProcessCluster.start(3, 10_000);
    const c = cluster;
    const created = await c.broker(1).createTopic({
      name: 'gone',
      partitions: 3,
      replicationFactor: 1,
      configs: {},
    });
    for (const node of c.nodes) await node.broker?.whenReconciled();
    const asker = c.nodes[0]?.id ?? 1;
    const stopped = created.partitions.find((p) => p.leader !== asker)?.leader ?? 0;
    await c.stopNode(stopped);
    const started = performance.now();
    const described = await describeVia(c.node(asker).url, 'gone');
    const elapsedMs = performance.now() - started;
    expect(elapsedMs).toBeLessThan(3_000);
    for (const p of described.partitions) {
      if (p.leader === stopped) {
        expect(p.highWatermark).toBeNull();
        expect(p.offsetsSource).toBeNull();
      } else {
        expect(p.highWatermark).toBe(0);
      }
    }
  });
});
