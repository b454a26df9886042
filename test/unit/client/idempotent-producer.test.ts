// Goal: the idempotent producer (issue 9) — on by default, up to five batches in flight per
// partition, a batch whose acknowledgement was lost retried into a duplicate answer (stored
// once, acknowledged at its original offset), batches that overtook a failed one resent after
// it in order, UNKNOWN_PRODUCER_ID resolved with a new identity, INVALID_PRODUCER_EPOCH
// reported, and 20 and 200 concurrent send() to one partition (one batch a request, or five:
// a produce of several stamped batches) all acknowledged once at distinct offsets; with
// `idempotent: false` a lost acknowledgement stores the batch twice.
// Method: the fake cluster (its brokers check batches with the broker's own producer-state
// table) as the Transport port and a ManualClock; seeded randomness, seed printed.
import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import type { ClientError } from '../../../src/api/client/client-error.ts';
import { MetadataCache, defaultMetadataConfig } from '../../../src/api/client/metadata-cache.ts';
import { Producer, type ProducerConfig } from '../../../src/api/client/producer.ts';
import { FakeCluster } from './fake-cluster.ts';
import { ManualClock, settle } from './manual-clock.ts';

const seed = Date.now() % 1_000_000;
console.log(`idempotent producer test seed ${seed}`);

function setup(config: Partial<ProducerConfig> = {}, partitions = 1) {
  const clock = new ManualClock();
  const cluster = new FakeCluster('t', partitions, () => clock.nowMs());
  const metadata = new MetadataCache(
    { ...defaultMetadataConfig, bootstrapUrls: [FakeCluster.url(1)] },
    { transport: cluster, clock },
  );
  const producer = new Producer(
    {
      lingerMs: 0,
      retryBackoff: { backoffMs: 100, backoffMaxMs: 1_000, jitter: 0.2 },
      ...config,
    },
    {
      transport: cluster,
      metadata,
      clock,
      wallClock: { wallMs: () => 1_700_000_000_000 + clock.nowMs() },
      random: new SeededRandom(seed),
    },
  );
  return { clock, cluster, producer };
}

/** One record a batch, one batch a request: 60-byte values (96 with framing), 160-byte batches. */
const oneRecordBatches = { batchSizeBytes: 160, requestBytesMax: 160 };
const value = (i: number) => `${i}`.padStart(3, '0').repeat(20);

async function sendAll(producer: Producer, clock: ManualClock, count: number) {
  const acks = Array.from({ length: count }, (_, i) =>
    producer.send({ topic: 't', partition: 0, value: value(i) }),
  );
  for (let round = 0; round < 50; round += 1) await clock.advance(200);
  return Promise.all(acks);
}

describe('idempotent producer', { timeout: 20_000 }, () => {
  test('on by default: one identity, batches stamped, five in flight per partition', async () => {
    const { clock, cluster, producer } = setup(oneRecordBatches);
    for (let i = 0; i < 7; i += 1) cluster.failures.push('hang');
    const acks = Array.from({ length: 7 }, (_, i) =>
      producer.send({ topic: 't', partition: 0, value: value(i) }),
    );
    await clock.advance(0);
    await settle();
    expect(cluster.producerInits).toBe(1);
    expect(cluster.calls).toHaveLength(5); // The sixth and seventh wait for room.
    for (let round = 0; round < 4; round += 1) {
      cluster.releaseHung();
      await clock.advance(0);
      await settle();
    }
    expect((await Promise.all(acks)).map((m) => m.offset)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  test('a lost acknowledgement is retried into a duplicate answer: stored once', async () => {
    const { clock, cluster, producer } = setup();
    cluster.failures.push({ status: 504, code: 'REQUEST_TIMED_OUT', written: true });
    const acks = await sendAll(producer, clock, 1);
    expect(acks.map((m) => m.offset)).toEqual([0]);
    expect(cluster.calls).toHaveLength(2);
    expect(cluster.duplicates).toBe(1);
    expect(cluster.logs.get(0)).toEqual([value(0)]);
  });

  test('without idempotence the same lost acknowledgement stores the batch twice', async () => {
    const { clock, cluster, producer } = setup({ idempotent: false });
    cluster.failures.push({ status: 504, code: 'REQUEST_TIMED_OUT', written: true });
    await sendAll(producer, clock, 1);
    expect(cluster.producerInits).toBe(0);
    expect(cluster.logs.get(0)).toEqual([value(0), value(0)]);
  });

  test('batches that overtook a failed one are resent after it, in order', async () => {
    const { clock, cluster, producer } = setup(oneRecordBatches);
    // The first batch fails unwritten; the four behind it find a gap (UNKNOWN_PRODUCER_ID for
    // a producer the partition has not seen, then OUT_OF_ORDER once it has).
    cluster.failures.push({ status: 503, code: 'LEADER_NOT_AVAILABLE' });
    const acks = await sendAll(producer, clock, 8);
    expect(acks.map((m) => m.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(cluster.logs.get(0)).toEqual(Array.from({ length: 8 }, (_, i) => value(i)));
    expect(cluster.producerInits).toBe(1); // No new identity was needed.
  });

  test('a lost ack among five in flight: every record once, in order', async () => {
    const { clock, cluster, producer } = setup(oneRecordBatches);
    cluster.failures.push('ok', 'ok', { status: 504, code: 'REQUEST_TIMED_OUT', written: true });
    const acks = await sendAll(producer, clock, 12);
    expect(acks.map((m) => m.offset)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(cluster.logs.get(0)).toEqual(Array.from({ length: 12 }, (_, i) => value(i)));
  });

  test('UNKNOWN_PRODUCER_ID: a new identity once earlier batches are settled', async () => {
    const { clock, cluster, producer } = setup(oneRecordBatches);
    await sendAll(producer, clock, 3);
    cluster.forgetProducers(); // Expired on the broker: sequence 3 is now unknown.
    const later = await sendAll(producer, clock, 3);
    expect(later.map((m) => m.offset)).toEqual([3, 4, 5]);
    expect(cluster.producerInits).toBe(2);
    expect(cluster.logs.get(0)).toEqual([0, 1, 2, 0, 1, 2].map(value));
  });

  test('idlePartitionsMax: a partition met after the drop gets a new identity', async () => {
    const { clock, cluster, producer } = setup({ idlePartitionsMax: 1 }, 2);
    const send = async (partition: number, v: string) => {
      const ack = producer.send({ topic: 't', partition, value: v });
      for (let round = 0; round < 5; round += 1) await clock.advance(200);
      return (await ack).offset;
    };
    expect(await send(0, 'a')).toBe(0);
    expect(await send(0, 'b')).toBe(1);
    expect(cluster.producerInits).toBe(1);
    // Partition 0's idle queue (next sequence 2) is dropped: the producer no longer knows
    // which partitions the identity wrote, so partition 1 goes under a new one.
    expect(await send(1, 'c')).toBe(0);
    expect(cluster.producerInits).toBe(2);
    // Partition 0 again: under the first identity its sequence 0 would be taken for a retry
    // of 'a' (answered, not written). A new identity starts it at 0 safely.
    expect(await send(0, 'd')).toBe(2);
    expect(cluster.producerInits).toBe(3);
    expect(cluster.duplicates).toBe(0);
    expect(cluster.logs.get(0)).toEqual(['a', 'b', 'd']);
    expect(cluster.logs.get(1)).toEqual(['c']);
  });

  test('INVALID_PRODUCER_EPOCH (fenced) is reported to the caller, nothing retried', async () => {
    const { clock, cluster, producer } = setup();
    cluster.failures.push({ status: 409, code: 'INVALID_PRODUCER_EPOCH' });
    const ack = producer.send({ topic: 't', partition: 0, value: 'x' }).catch((e: unknown) => e);
    await clock.advance(0);
    await settle();
    expect(((await ack) as ClientError).code).toBe('INVALID_PRODUCER_EPOCH');
    expect(cluster.calls).toHaveLength(1);
    expect(producer.bufferedBytes).toBe(0);
  });

  test('no identity to be had: the waiting records fail, none is dropped silently', async () => {
    const { clock, cluster, producer } = setup();
    cluster.initFailures.push({ status: 400, code: 'INVALID_REQUEST' });
    const ack = producer.send({ topic: 't', partition: 0, value: 'x' }).catch((e: unknown) => e);
    await clock.advance(0);
    await settle();
    expect(((await ack) as ClientError).code).toBe('INVALID_REQUEST');
    expect(cluster.calls).toHaveLength(0);
    expect(producer.bufferedBytes).toBe(0);
  });

  const shapes = {
    'one batch': oneRecordBatches,
    'up to five batches': { ...oneRecordBatches, requestBytesMax: 5 * 160 },
  };
  for (const [count, [shape, config]] of [20, 200].flatMap((n) =>
    Object.entries(shapes).map((entry) => [n, entry] as const),
  )) {
    test(`${count} concurrent send() to one partition, ${shape} a request: once`, async () => {
      const { clock, cluster, producer } = setup(config);
      // Scattered failures, written and not, while up to five batches are in flight.
      for (let i = 0; i < count; i += 1) {
        const r = (i * 7919 + seed) % 10;
        if (r === 0)
          cluster.failures.push({ status: 504, code: 'REQUEST_TIMED_OUT', written: true });
        else if (r === 1) cluster.failures.push({ status: 503, code: 'NOT_ENOUGH_REPLICAS' });
        else cluster.failures.push('ok');
      }
      const acks = await sendAll(producer, clock, count);
      const offsets = acks.map((m) => m.offset);
      expect(new Set(offsets).size, `seed ${seed}`).toBe(count);
      expect(offsets, `seed ${seed}`).toEqual(Array.from({ length: count }, (_, i) => i));
      expect(cluster.logs.get(0), `seed ${seed}`).toEqual(
        Array.from({ length: count }, (_, i) => value(i)),
      );
      const batchesPerCall = Math.max(...cluster.calls.map((call) => call.values.length));
      expect(batchesPerCall).toBe(shape === 'one batch' ? 1 : 5);
    });
  }
});
