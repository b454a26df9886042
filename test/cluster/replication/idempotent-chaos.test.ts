// Goal: exactly-once, in-order produce on real processes (issue 9) — with the client's default
// idempotence, under kill -9 and SIGSTOP of partition leaders and responses dropped after the
// broker wrote (the client sees a broken connection and retries), every acknowledged send is
// in the log exactly once at the offset it was acknowledged with, N acknowledged sends have N
// distinct offsets, no record is stored twice, and each partition holds the producer's records
// in send order.
// Method: a fast-check property over nemesis schedules (which leader, kill or pause, when; the
// drop probability), each run on a fresh three-node cluster (RF=3, min.insync.replicas=2);
// the seed is printed. Responses are dropped by a Transport wrapper around the real one.
import fc from 'fast-check';
import { afterEach, expect, test } from 'vitest';
import {
  ClientError,
  H2Transport,
  RillClient,
  systemClock,
  systemRandom,
  systemWallClock,
  type RecordMetadata,
  type Transport,
} from '../../../src/api/client/index.ts';
import { SeededRandom } from '../../../src/common/index.ts';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

const topic = 'exactly-once';
const partitions = 2;
let cluster: RillCluster | null = null;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = null;
});

/** Produce answers seen and dropped by droppingTransport. */
interface DropCount {
  produces: number;
  dropped: number;
}

/**
 * Drops a produce's answer after the broker handled it: the fifth always (so every run has
 * one), any other with probability `dropP`.
 */
function droppingTransport(
  inner: Transport,
  random: SeededRandom,
  dropP: number,
  count: DropCount,
): Transport {
  return {
    async request(url, request) {
      const response = await inner.request(url, request);
      if (request.method !== 'POST' || !request.path.includes('/records')) return response;
      count.produces += 1;
      if (count.produces === 5 || random.chance(dropP)) {
        count.dropped += 1;
        throw new ClientError('CLIENT_CONNECTION', `${url}: answer dropped by the test`);
      }
      return response;
    },
    close: () => inner.close(),
  };
}

async function leaderOf(c: RillCluster, partition: number): Promise<number> {
  return pollUntil(`a leader of ${partition}`, 20_000, async () => {
    for (const id of c.ids) {
      if (!c.isRunning(id)) continue;
      const { status, body } = await c.get(id, `/v1/topics/${topic}`);
      const leader = status === 200 ? body.partitions[partition]?.leader : null;
      if (typeof leader === 'number' && c.isRunning(leader)) return leader;
    }
    return undefined;
  });
}

/** Every record of the partition below its HW, read from the leader, as values in order. */
async function readAll(
  c: RillCluster,
  partition: number,
): Promise<{ offset: number; value: string }[]> {
  const out: { offset: number; value: string }[] = [];
  let offset = 0;
  for (;;) {
    const leader = await leaderOf(c, partition);
    const path = `/v1/topics/${topic}/partitions/${partition}/records?offset=${offset}&maxBytes=1048576`;
    const { status, body } = await c.get(leader, path);
    if (status !== 200) continue;
    for (const record of body.records) out.push({ offset: record.offset, value: record.value });
    if (body.nextOffset >= body.highWatermark) return out;
    offset = body.nextOffset;
  }
}

interface Nemesis {
  readonly victimPartition: number;
  readonly fault: 'kill' | 'pause';
  readonly afterSends: number;
  readonly dropP: number;
}

async function runOnce(nemesis: Nemesis, seed: number): Promise<void> {
  const c = await RillCluster.start(3, 1_500, 3, ['--replica-lag-time-max-ms', '1000']);
  cluster = c;
  await pollUntil('the topic created', 20_000, async () => {
    const created = await c.post(1, '/v1/topics', {
      name: topic,
      partitions,
      replicationFactor: 3,
      configs: { 'min.insync.replicas': '2' },
    });
    return created.status === 201 ? true : undefined;
  });
  const random = new SeededRandom(seed);
  const count: DropCount = { produces: 0, dropped: 0 };
  const transport = droppingTransport(new H2Transport(), random, nemesis.dropP, count);
  const client = new RillClient(
    { bootstrapUrls: c.ids.map((id) => c.url(id)), requestTimeoutMs: 5_000 },
    { transport, clock: systemClock, wallClock: systemWallClock, random: systemRandom() },
  );
  const producer = client.producer({
    lingerMs: 1,
    batchSizeBytes: 1_024,
    retriesMax: 1_000,
    requestTimeoutMs: 3_000,
    deliveryTimeoutMs: 90_000,
    retryBackoff: { backoffMs: 50, backoffMaxMs: 500, jitter: 0.2 },
  });
  const total = 400;
  const acked = new Map<string, RecordMetadata>();
  const failed: string[] = [];
  const sends: Promise<void>[] = [];
  let victim: number | null = null;
  for (let i = 0; i < total; i += 1) {
    const value = `v${String(i).padStart(4, '0')}`;
    const send = producer.send({ topic, partition: i % partitions, value }).then(
      (metadata) => void acked.set(value, metadata),
      () => void failed.push(value),
    );
    sends.push(send);
    if (i === nemesis.afterSends) {
      victim = await leaderOf(c, nemesis.victimPartition);
      if (nemesis.fault === 'kill') await c.kill(victim);
      else c.pause(victim, true);
    }
    // Paced over about two seconds, so the faults fall among many requests.
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 2_000));
  if (victim !== null && nemesis.fault === 'pause') c.pause(victim, false);
  if (victim !== null && nemesis.fault === 'kill') await c.startNode(victim);
  await Promise.all(sends);
  await client.close();
  const seen = new Map<string, number[]>();
  for (let p = 0; p < partitions; p += 1) {
    const records = await readAll(c, p);
    let lastIndex = -1;
    for (const { offset, value } of records) {
      seen.set(value, [...(seen.get(value) ?? []), offset]);
      const index = Number(value.slice(1));
      expect(index, `seed ${seed}: ${value} out of send order in partition ${p}`).toBeGreaterThan(
        lastIndex,
      );
      lastIndex = index;
    }
  }
  const duplicates = [...seen].filter(([, offsets]) => offsets.length > 1);
  expect(duplicates, `seed ${seed}: stored twice`).toEqual([]);
  const offsets = new Set([...acked.values()].map((m) => `${m.partition}:${m.offset}`));
  expect(offsets.size, `seed ${seed}: acknowledged offsets are distinct`).toBe(acked.size);
  for (const [value, metadata] of acked) {
    expect(seen.get(value), `seed ${seed}: acknowledged ${value}`).toEqual([metadata.offset]);
  }
  console.log(
    `seed ${seed} ${JSON.stringify(nemesis)}: acked=${acked.size} failed=${failed.length} ` +
      `duplicates=${duplicates.length} produces=${count.produces} dropped=${count.dropped}`,
  );
  await c.stopAll();
  cluster = null;
}

test('exactly once and in order under leader kills, pauses and dropped answers', async () => {
  const seed = Date.now() % 2 ** 31;
  console.log(`idempotent chaos seed=${seed}`);
  const nemesis = fc.record({
    victimPartition: fc.nat(partitions - 1),
    fault: fc.constantFrom('kill' as const, 'pause' as const),
    afterSends: fc.integer({ min: 50, max: 250 }),
    dropP: fc.constantFrom(0.05, 0.15),
  });
  await fc.assert(
    fc.asyncProperty(nemesis, fc.integer(), (n, runSeed) => runOnce(n, runSeed)),
    { seed, numRuns: 2, endOnFailure: true },
  );
}, 240_000);
