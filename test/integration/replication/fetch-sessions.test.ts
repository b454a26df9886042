// Goal: replication runs one incremental fetch session per (follower node, leader node) over
// every partition between them: acks=all works on all partitions at once, an idle cluster's
// session requests name no partition (an idle partition costs nothing on the wire), the leader
// answers a parked session as soon as one partition has data, and a HW advance reaches the
// followers without another append (within the HW-only delay), and an append costs each follower
// at most two answers. A leader restart makes followers start a full session.
// Method: three in-process brokers over real h2c; each node records its fetcher's session
// round trips (requests and answers) and the test reads them.
import { afterEach, describe, expect, test } from 'vitest';
import type { Broker } from '../../../src/broker/index.ts';
import { encodeBatch } from '../../../src/log/index.ts';
import {
  InProcessCluster,
  type RecordedExchange,
} from '../../support/broker/in-process-cluster.ts';
import { until } from '../../support/poll.ts';

const topic = 'many';
const partitions = 6;
let cluster: InProcessCluster | null = null;

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

async function produce(c: InProcessCluster, partition: number, value: string) {
  const leader = leaderOf(c, partition);
  const batches = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    records: [{ key: null, value: Buffer.from(value), headers: [], timestampMs: 1 }],
  });
  return c.broker(leader).produce({ topic, partition, batches, acks: 'all', timeoutMs: 5_000 });
}

function leaderOf(c: InProcessCluster, partition: number): number {
  const anyBroker = c.nodes.find((n) => n.broker !== null)?.broker as Broker;
  const leader = anyBroker.describeTopic(topic).partitions[partition]?.leader;
  if (leader === null || leader === undefined) throw new Error('no leader');
  return leader;
}

async function start(): Promise<InProcessCluster> {
  cluster = await InProcessCluster.start(3, 2_000);
  await cluster.broker(1).createTopic({
    name: topic,
    partitions,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '3' },
  });
  for (const node of cluster.nodes) await node.broker?.whenReconciled();
  return cluster;
}

/** Session exchanges recorded by every node from now on. */
function recordFromNow(c: InProcessCluster): () => RecordedExchange[] {
  const marks = c.nodes.map((node) => node.exchanges.length);
  return () => c.nodes.flatMap((node, i) => node.exchanges.slice(marks[i]));
}

describe('replication fetch sessions', () => {
  test('one session per follower and leader node carries every partition', async () => {
    const c = await start();
    for (let round = 0; round < 3; round += 1) {
      await Promise.all(
        Array.from({ length: partitions }, (_, p) => produce(c, p, `r${round}-p${p}`)),
      );
    }
    for (const node of c.nodes) {
      const sessions = node.broker?.replicationSessions();
      const leaders = new Set(
        Array.from({ length: partitions }, (_, p) => leaderOf(c, p)).filter((l) => l !== node.id),
      );
      // Source loops: one per distinct leader this node follows, never one per partition.
      expect(sessions?.following).toBe(leaders.size);
    }
    const leader0 = c.broker(leaderOf(c, 0));
    expect(leader0.listOffsets(topic, 0).highWatermark).toBe(3);
  });

  test('idle partitions cost nothing on the wire; one append answers a parked session', async () => {
    const c = await start();
    await Promise.all(Array.from({ length: partitions }, (_, p) => produce(c, p, `first-${p}`)));
    // Settle: every follower's session holds every partition at the leader's end.
    await until('sessions incremental and empty', () => {
      const recent = c.nodes.flatMap((node) => node.exchanges.slice(-2));
      return recent.length > 0 && recent.every((e) => e.call.partitions.length === 0);
    });
    const idle = recordFromNow(c);
    const startMs = Date.now();
    await until('a second of idle sessions', () => Date.now() - startMs >= 1_000);
    const quiet = idle();
    expect(quiet.length).toBeGreaterThan(0);
    for (const exchange of quiet) {
      expect(exchange.call.sessionId).toBeGreaterThan(0);
      expect(exchange.call.partitions).toEqual([]);
      expect(exchange.call.forgotten).toEqual([]);
      if (exchange.answer?.kind === 'ok') expect(exchange.answer.partitions).toEqual([]);
    }
    // Held up to the 200 ms maxWait each: a handful of round trips, not a spin.
    expect(quiet.length).toBeLessThan(6 * 2 * 3);

    const afterAppend = recordFromNow(c);
    const sent = Date.now();
    await produce(c, 4, 'wake');
    const ackMs = Date.now() - sent;
    const answered = afterAppend().filter(
      (e) => e.answer?.kind === 'ok' && e.answer.partitions.some((p) => p.partition === 4),
    );
    // Both followers got the record and then the HW that covers it.
    expect(answered.length).toBeGreaterThanOrEqual(2);
    // acks=all needs both followers; a parked session answers on the append, not at maxWait.
    expect(ackMs).toBeLessThan(2_000);
  });

  test('a HW advance reaches every follower without another append', async () => {
    const c = await start();
    const recorded = recordFromNow(c);
    const { lastOffset } = await produce(c, 2, 'hw');
    const leader = leaderOf(c, 2);
    await until('both followers saw HW past the record', () => {
      const seen = new Set<string>();
      for (const exchange of recorded()) {
        if (exchange.answer?.kind !== 'ok') continue;
        for (const p of exchange.answer.partitions) {
          if (p.partition === 2 && p.kind === 'records' && p.highWatermark > lastOffset) {
            seen.add(exchange.leaderUrl + exchange.call.replicaId);
          }
        }
      }
      return seen.size === 2;
    });
    expect(c.broker(leader).listOffsets(topic, 2).highWatermark).toBe(lastOffset + 1);
  });

  test('an append costs each follower at most two answers: the records, then the HW', async () => {
    const c = await start();
    await produce(c, 1, 'warm-up');
    const recorded = recordFromNow(c);
    const appends = 20;
    for (let i = 0; i < appends; i += 1) await produce(c, 1, `seq-${i}`);
    const answersByFollower = new Map<number, number>();
    for (const exchange of recorded()) {
      if (exchange.answer?.kind !== 'ok') continue;
      if (!exchange.answer.partitions.some((p) => p.partition === 1)) continue;
      const follower = exchange.call.replicaId;
      answersByFollower.set(follower, (answersByFollower.get(follower) ?? 0) + 1);
    }
    expect(answersByFollower.size).toBe(2);
    // A follower that appended what it was sent still holds the HW that came with it: the
    // leader does not answer again only to repeat it (that made three answers per append).
    for (const count of answersByFollower.values()) {
      expect(count).toBeGreaterThanOrEqual(appends);
      expect(count).toBeLessThanOrEqual(2 * appends);
    }
  });

  test('a restarted leader forgets its sessions; followers start full ones and go on', async () => {
    const c = await start();
    await Promise.all(Array.from({ length: partitions }, (_, p) => produce(c, p, `a-${p}`)));
    const victim = leaderOf(c, 0);
    const recorded = recordFromNow(c);
    await c.stopNode(victim);
    await c.startNode(victim);
    await until('a full session after the restart', () =>
      recorded().some((e) => e.call.sessionId === 0 && e.answer?.kind === 'ok'),
    );
    await until('acks=all again on every partition', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: partitions }, (_, p) => produce(c, p, `b-${p}`)),
      );
      return results.every((r) => r.status === 'fulfilled');
    });
  });
});
