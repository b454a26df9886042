// Goal: the producer batches, retries retriable failures after a jittered exponential backoff
// (refreshing metadata when the leader moved) without reordering a partition's records, fails
// fast on non-retriable codes, and blocks send() while buffer.memory is full. Method: a fake
// in-memory cluster as the Transport port and a ManualClock; seeded randomness, seed printed.
import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import { ClientError } from '../../../src/api/client/client-error.ts';
import { MetadataCache, defaultMetadataConfig } from '../../../src/api/client/metadata-cache.ts';
import { Producer, type ProducerConfig } from '../../../src/api/client/producer.ts';
import { FakeCluster } from './fake-cluster.ts';
import { ManualClock, settle } from './manual-clock.ts';

const seed = Date.now() % 1_000_000;
console.log(`producer test seed ${seed}`);

function setup(config: Partial<ProducerConfig> = {}, partitions = 1) {
  const clock = new ManualClock();
  const cluster = new FakeCluster('t', partitions, () => clock.nowMs());
  const metadata = new MetadataCache(
    { ...defaultMetadataConfig, bootstrapUrls: [FakeCluster.url(1)] },
    { transport: cluster, clock },
  );
  const producer = new Producer(
    { retryBackoff: { backoffMs: 100, backoffMaxMs: 1_000, jitter: 0.2 }, ...config },
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

describe('Producer', { timeout: 10_000 }, () => {
  test('records linger, then go in one batch, and get dense offsets', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 5 });
    const acks = ['a', 'b', 'c'].map((value) => producer.send({ topic: 't', value }));
    await clock.advance(4);
    expect(cluster.calls).toHaveLength(0);
    await clock.advance(1);
    expect(cluster.calls.map((c) => c.values)).toEqual([['a', 'b', 'c']]);
    expect((await Promise.all(acks)).map((m) => m.offset)).toEqual([0, 1, 2]);
  });

  test('NOT_LEADER_OR_FOLLOWER: refresh metadata, back off, resend to the new leader', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 0 });
    const warm = producer.send({ topic: 't', partition: 0, value: 'warm' });
    await clock.advance(0);
    await warm;
    const pending = Promise.all(
      ['1', '2', '3'].map((value) => producer.send({ topic: 't', partition: 0, value })),
    );
    cluster.leaders.set(0, 2); // The leader moved; the producer still points at broker 1.
    const refreshesBefore = cluster.metadataRequests;
    await clock.advance(0);
    const refused = cluster.calls.at(-1);
    expect(refused?.url).toBe(FakeCluster.url(1));
    await clock.advance(79); // First retry after 100 ms ± 20%.
    expect(cluster.calls.at(-1)).toBe(refused);
    await clock.advance(41);
    const retried = cluster.calls.at(-1);
    expect(retried?.url).toBe(FakeCluster.url(2));
    expect(retried?.values).toEqual(['1', '2', '3']);
    expect(retried!.atMs - refused!.atMs, `seed ${seed}`).toBeGreaterThanOrEqual(80);
    expect(cluster.metadataRequests).toBeGreaterThan(refreshesBefore);
    expect((await pending).map((m) => m.offset)).toEqual([1, 2, 3]);
    expect(cluster.logs.get(0)).toEqual(['warm', '1', '2', '3']);
  });

  test('a dead leader: metadata from another broker, then the new leader (failover)', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 0 });
    const warm = producer.send({ topic: 't', partition: 0, value: 'before' });
    await clock.advance(0);
    await warm;
    cluster.down.add(1); // kill -9 the leader (also the only bootstrap URL)...
    cluster.leaders.set(0, 3); // ...and the controller moves leadership to broker 3.
    const ack = producer.send({ topic: 't', partition: 0, value: 'after' });
    await clock.advance(5_000);
    expect((await ack).offset).toBe(1);
    expect(cluster.calls.at(-1)?.url).toBe(FakeCluster.url(3));
    expect(cluster.logs.get(0)).toEqual(['before', 'after']);
  });

  test('backoff grows exponentially across consecutive retriable failures', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 0 });
    for (let i = 0; i < 4; i += 1)
      cluster.failures.push({ status: 503, code: 'LEADER_NOT_AVAILABLE' });
    const ack = producer.send({ topic: 't', partition: 0, value: 'x' });
    await clock.advance(10_000);
    expect((await ack).offset).toBe(0);
    const gaps = cluster.calls.slice(1).map((c, i) => c.atMs - (cluster.calls[i]?.atMs ?? 0));
    expect(gaps).toHaveLength(4);
    [100, 200, 400, 800].forEach((base, i) => {
      expect(gaps[i], `seed ${seed} gap ${i}`).toBeGreaterThanOrEqual(base * 0.8);
      expect(gaps[i], `seed ${seed} gap ${i}`).toBeLessThanOrEqual(base * 1.2 + 1);
    });
  });

  test('later records of a partition wait behind a retried batch: order is kept', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 0, batchSizeBytes: 200 });
    cluster.failures.push({ status: 504, code: 'REQUEST_TIMED_OUT' });
    const acks = Array.from({ length: 6 }, (_, i) =>
      producer.send({ topic: 't', partition: 0, value: `${i}`.repeat(60) }),
    );
    await clock.advance(5_000);
    await Promise.all(acks);
    expect(cluster.logs.get(0)?.map((v) => v[0])).toEqual(['0', '1', '2', '3', '4', '5']);
  });

  test('a non-retriable code fails the records at once', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 0 });
    cluster.failures.push({ status: 413, code: 'MESSAGE_TOO_LARGE' });
    const ack = producer.send({ topic: 't', partition: 0, value: 'big' }).catch((e: unknown) => e);
    await clock.advance(0);
    const error = (await ack) as ClientError;
    expect(error.code).toBe('MESSAGE_TOO_LARGE');
    expect(cluster.calls).toHaveLength(1);
    expect(producer.bufferedBytes).toBe(0);
  });

  test('retries stop at retriesMax with the last error', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 0, retriesMax: 2 });
    for (let i = 0; i < 5; i += 1)
      cluster.failures.push({ status: 503, code: 'NOT_ENOUGH_REPLICAS' });
    const ack = producer.send({ topic: 't', partition: 0, value: 'x' }).catch((e: unknown) => e);
    await clock.advance(10_000);
    expect(((await ack) as ClientError).code).toBe('NOT_ENOUGH_REPLICAS');
    expect(cluster.calls).toHaveLength(3);
  });

  test('send() waits while buffer.memory is full and resumes when acks free it', async () => {
    const { clock, cluster, producer } = setup({
      lingerMs: 0,
      bufferMemoryBytes: 300,
      batchSizeBytes: 200,
      requestBytesMax: 200,
    });
    const value = 'v'.repeat(100); // ~136 bytes accounted: two fit in 300.
    for (let i = 0; i < 3; i += 1) cluster.failures.push('hang');
    const first = producer.send({ topic: 't', partition: 0, value });
    const second = producer.send({ topic: 't', partition: 0, value });
    let thirdAppended = false;
    const third = producer.send({ topic: 't', partition: 0, value }).then((m) => {
      thirdAppended = true;
      return m;
    });
    await clock.advance(0);
    expect(producer.bufferedBytes).toBeLessThanOrEqual(300);
    // One in flight, hung: the second record's batch is still open, so it waits for that one.
    expect(cluster.calls.flatMap((c) => c.values)).toHaveLength(1);
    expect(thirdAppended).toBe(false);
    for (let round = 0; round < 3; round += 1) {
      cluster.releaseHung();
      await clock.advance(0);
      await settle();
    }
    expect((await Promise.all([first, second, third])).map((m) => m.offset)).toEqual([0, 1, 2]);
    expect(producer.bufferedBytes).toBe(0);
  });

  test('null keys stick to one partition per batch, keyed records follow murmur2', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 0 }, 6);
    const warm = producer.send({ topic: 't', key: 'k', value: 'warm' });
    await clock.advance(0);
    await warm;
    for (let i = 0; i < 5; i += 1) {
      const acks = Array.from({ length: 4 }, () => producer.send({ topic: 't', value: 'n' }));
      await clock.advance(0);
      const partitions = new Set((await Promise.all(acks)).map((m) => m.partition));
      expect(partitions.size, `seed ${seed}`).toBe(1);
    }
    const perCall = cluster.calls.slice(1).map((c) => c.partition);
    for (let i = 1; i < perCall.length; i += 1) expect(perCall[i]).not.toBe(perCall[i - 1]);
    const keyed = await Promise.all(
      ['a', 'a', 'b'].map((key) => {
        const ack = producer.send({ topic: 't', key, value: key });
        void clock.advance(0);
        return ack;
      }),
    );
    expect(keyed[0]?.partition).toBe(keyed[1]?.partition);
  });

  test('flush sends lingering batches at once; close refuses new sends', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 60_000 });
    const ack = producer.send({ topic: 't', partition: 0, value: 'x' });
    await clock.advance(1);
    expect(cluster.calls).toHaveLength(0);
    const flushed = producer.flush();
    await clock.advance(0);
    await flushed;
    expect((await ack).offset).toBe(0);
    const closing = producer.close();
    await clock.advance(0);
    await closing;
    const error = (await producer
      .send({ topic: 't', value: 'y' })
      .catch((e: unknown) => e)) as ClientError;
    expect(error.code).toBe('CLIENT_CLOSED');
  });
});

describe('Producer, first sends to an uncached topic', { timeout: 10_000 }, () => {
  test('share one metadata look-up and keep their order, also behind an explicit partition', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 5 });
    const before = cluster.metadataRequests;
    const values = Array.from({ length: 50 }, (_, i) => `v${i}`);
    const acks = values.map((value) => producer.send({ topic: 't', value }));
    acks.push(producer.send({ topic: 't', value: 'last', partition: 0 }));
    await clock.advance(5);
    const offsets = (await Promise.all(acks)).map((m) => m.offset);
    expect(cluster.metadataRequests - before).toBe(1);
    expect(cluster.logs.get(0)).toEqual([...values, 'last']);
    expect(offsets).toEqual(Array.from({ length: 51 }, (_, i) => i));
  });
});

describe('Producer.flush', { timeout: 10_000 }, () => {
  test('waits for sends still looking up metadata (regression: flush lost them)', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 60_000 });
    const ack = producer.send({ topic: 't', value: 'x' }); // Metadata not cached yet.
    const flushed = producer.flush();
    await clock.advance(0);
    await flushed;
    expect(cluster.logs.get(0)).toEqual(['x']);
    expect((await ack).offset).toBe(0);
  });
});

describe('Producer.sendWith', { timeout: 10_000 }, () => {
  test('calls one shared pair of functions once per record, in order, on both paths', async () => {
    const { clock, cluster, producer } = setup({ lingerMs: 5 });
    const acked: string[] = [];
    const failed: unknown[] = [];
    const onAck = (m: { topic: string; partition: number; offset: number }): void => {
      acked.push(`${m.topic}/${m.partition}@${m.offset}`);
    };
    const onError = (error: unknown): void => {
      failed.push(error);
    };
    // The first sends find no metadata cached (the slow path), the later ones the fast path.
    for (const value of ['a', 'b']) producer.sendWith({ topic: 't', value }, onAck, onError);
    await clock.advance(5);
    for (const value of ['c', 'd']) producer.sendWith({ topic: 't', value }, onAck, onError);
    await clock.advance(5);
    expect(acked).toEqual(['t/0@0', 't/0@1', 't/0@2', 't/0@3']);
    expect(cluster.logs.get(0)).toEqual(['a', 'b', 'c', 'd']);
    cluster.failures.push({ status: 413, code: 'MESSAGE_TOO_LARGE' });
    producer.sendWith({ topic: 't', partition: 0, value: 'big' }, onAck, onError);
    await clock.advance(5);
    await settle();
    expect((failed as ClientError[]).map((e) => e.code)).toEqual(['MESSAGE_TOO_LARGE']);
    expect(acked).toHaveLength(4);
    await producer.close();
    producer.sendWith({ topic: 't', partition: 0, value: 'late' }, onAck, onError);
    await settle();
    expect((failed as ClientError[]).map((e) => e.code)).toEqual([
      'MESSAGE_TOO_LARGE',
      'CLIENT_CLOSED',
    ]);
  });
});
