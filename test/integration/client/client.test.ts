// Goal: the client library against a real broker process — every compression codec round-trips
// through produce and consume, keys land on murmur2's partition, a consumer's long poll returns
// as soon as a record arrives, out-of-range positions fail typed or reset, and admin calls map
// broker answers to typed errors. Method: one `node bin/rill.js broker` per file on a free port.
import { describe, expect, test } from 'vitest';
import {
  ClientError,
  partitionForKey,
  RillClient,
  type ConsumerRecord,
} from '../../../src/api/client/index.ts';
import type { Compression } from '../../../src/log/index.ts';
import type { BrokerProcess } from '../../../scripts/spawn-broker.ts';
import { useSpawnedBroker } from '../../support/broker/spawned-broker.ts';

let broker: BrokerProcess;
let client: RillClient;

useSpawnedBroker((b, c) => {
  broker = b;
  client = c;
});

/** Polls until `count` records arrived or the deadline passed. */
async function pollUntil(
  consumer: ReturnType<RillClient['consumer']>,
  count: number,
  deadlineMs = 15_000,
): Promise<ConsumerRecord[]> {
  const records: ConsumerRecord[] = [];
  const endMs = performance.now() + deadlineMs;
  while (records.length < count && performance.now() < endMs) {
    records.push(...(await consumer.poll({ maxWaitMs: 500 })));
  }
  return records;
}

const text = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes).toString('utf8');

describe('producer and consumer against a real broker', () => {
  const codecs: Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

  test.each(codecs)('%s: produced records come back identical, in order', async (codec) => {
    const topic = `codec-${codec}`;
    await client.admin().createTopic({ name: topic, partitions: 1, replicationFactor: 1 });
    const producer = client.producer({ compression: codec, lingerMs: 2 });
    const sent = Array.from({ length: 300 }, (_, i) => ({
      topic,
      key: i % 3 === 0 ? null : `key-${i}`,
      value: `value-${i}-${'x'.repeat(i % 50)}`,
      headers: i % 2 === 0 ? { trace: `t${i}` } : {},
      timestampMs: 1_700_000_000_000 + i,
    }));
    const acks = await Promise.all(
      sent.map((message) => producer.send({ ...message, partition: 0 })),
    );
    expect(acks.map((ack) => ack.offset)).toEqual(sent.map((_, i) => i));
    const consumer = client.consumer({ autoOffsetReset: 'earliest' });
    consumer.assign([{ topic, partition: 0 }]);
    const records = await pollUntil(consumer, sent.length);
    consumer.close();
    expect(records.map((r) => r.offset)).toEqual(sent.map((_, i) => i));
    records.forEach((record, i) => {
      const expected = sent[i]!;
      expect(text(record.key)).toBe(expected.key);
      expect(text(record.value)).toBe(expected.value);
      expect(record.timestampMs).toBe(expected.timestampMs);
      const headers = Object.fromEntries(record.headers.map((h) => [h.key, text(h.value)]));
      expect(headers).toEqual(expected.headers);
    });
  });

  test("a key always lands on murmur2's partition", async () => {
    const topic = 'keyed';
    await client.admin().createTopic({ name: topic, partitions: 6, replicationFactor: 1 });
    const producer = client.producer({ lingerMs: 1 });
    const keys = Array.from({ length: 40 }, (_, i) => `customer-${i}`);
    const acks = await Promise.all(
      [...keys, ...keys].map((key) => producer.send({ topic, key, value: key })),
    );
    acks.forEach((ack, i) => {
      const key = keys[i % keys.length]!;
      expect(ack.partition, key).toBe(partitionForKey(Buffer.from(key), 6));
    });
    expect(new Set(acks.map((a) => a.partition)).size).toBeGreaterThan(1);
  });

  test('null keys spread over partitions in whole batches', async () => {
    const topic = 'sticky';
    await client.admin().createTopic({ name: topic, partitions: 4, replicationFactor: 1 });
    const producer = client.producer({ batchSizeBytes: 4_096, lingerMs: 1 });
    const acks = await Promise.all(
      Array.from({ length: 400 }, (_, i) => producer.send({ topic, value: `v${i}`.padEnd(200) })),
    );
    expect(new Set(acks.map((a) => a.partition)).size).toBeGreaterThan(1);
  });

  test('a long poll returns as soon as a record arrives', async () => {
    const topic = 'long-poll';
    await client.admin().createTopic({ name: topic, partitions: 1, replicationFactor: 1 });
    const consumer = client.consumer({ autoOffsetReset: 'latest', fetchMaxWaitMs: 20_000 });
    consumer.assign([{ topic, partition: 0 }]);
    expect(await consumer.poll({ maxWaitMs: 300 })).toEqual([]); // Position resolved, nothing new.
    const startMs = performance.now();
    const polled = consumer.poll({ maxWaitMs: 20_000 });
    const producer = client.producer({ lingerMs: 0 });
    await producer.send({ topic, value: 'wake up' });
    const records = await polled;
    const elapsedMs = performance.now() - startMs;
    consumer.close();
    expect(records.map((r) => text(r.value))).toEqual(['wake up']);
    expect(elapsedMs).toBeLessThan(10_000); // Far below the 20 s long-poll bound.
  });

  test('seek, seekToEnd and out-of-range positions', async () => {
    const topic = 'seeking';
    await client.admin().createTopic({ name: topic, partitions: 1, replicationFactor: 1 });
    const producer = client.producer({ lingerMs: 0 });
    await Promise.all(['a', 'b', 'c', 'd'].map((value) => producer.send({ topic, value })));
    const tp = { topic, partition: 0 };
    const consumer = client.consumer();
    consumer.assign([tp]);
    consumer.seek(tp, 2);
    expect((await pollUntil(consumer, 2)).map((r) => text(r.value))).toEqual(['c', 'd']);
    consumer.seek(tp, 99);
    const error = await pollUntil(consumer, 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).code).toBe('OFFSET_OUT_OF_RANGE');
    consumer.close();
    const resetting = client.consumer({ autoOffsetReset: 'earliest' });
    resetting.assign([tp]);
    resetting.seek(tp, 99);
    expect((await pollUntil(resetting, 4)).map((r) => text(r.value))).toEqual(['a', 'b', 'c', 'd']);
    resetting.seekToEnd(tp);
    expect(await resetting.poll({ maxWaitMs: 300 })).toEqual([]);
    expect(resetting.position(tp)).toBe(4);
    resetting.close();
  });

  test('acks=1 and acks=0 are accepted; acks=0 reports no offset', async () => {
    const topic = 'acks';
    await client.admin().createTopic({ name: topic, partitions: 1, replicationFactor: 1 });
    const one = await client.producer({ acks: 1, lingerMs: 0 }).send({ topic, value: 'one' });
    expect(one.offset).toBe(0);
    const zero = await client.producer({ acks: 0, lingerMs: 0 }).send({ topic, value: 'zero' });
    expect(zero.partition).toBe(0);
    // acks=0 answers before the append: wait (with a deadline) until the broker has it.
    const endMs = performance.now() + 10_000;
    let highWatermark = 0;
    while (highWatermark < 2 && performance.now() < endMs) {
      highWatermark = (await client.admin().offsets(topic, 0)).highWatermark;
    }
    expect(highWatermark).toBe(2);
  });

  test('sending to a partition that does not exist fails with a typed error', async () => {
    await client.admin().createTopic({ name: 'small', partitions: 1, replicationFactor: 1 });
    const producer = client.producer({ lingerMs: 0, retriesMax: 1 });
    const error = await producer
      .send({ topic: 'small', partition: 7, value: 'x' })
      .catch((e: unknown) => e);
    expect((error as ClientError).code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});

describe('admin against a real broker', () => {
  test('create, list, describe, offsets and delete', async () => {
    const admin = client.admin();
    const created = await admin.createTopic({
      name: 'admin-topic',
      partitions: 3,
      replicationFactor: 1,
      configs: { 'retention.ms': '60000' },
    });
    expect(created.name).toBe('admin-topic');
    const again = await admin
      .createTopic({ name: 'admin-topic', partitions: 3, replicationFactor: 1 })
      .catch((e: unknown) => e);
    expect((again as ClientError).code).toBe('TOPIC_ALREADY_EXISTS');
    expect((await admin.listTopics()).map((t) => t.name)).toContain('admin-topic');
    const described = await admin.describeTopic('admin-topic');
    expect(described.partitions).toHaveLength(3);
    expect(described.configs['retention.ms']).toBe('60000');
    expect(await admin.offsets('admin-topic', 1)).toMatchObject({
      logStartOffset: 0,
      highWatermark: 0,
    });
    const cluster = await admin.describeCluster();
    expect(cluster.brokers.map((b) => b.url)).toEqual([broker.url]);
    await admin.deleteTopic('admin-topic');
    const missing = await admin.describeTopic('admin-topic').catch((e: unknown) => e);
    expect((missing as ClientError).code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    const invalid = await admin
      .createTopic({ name: 'bad/name', partitions: 1, replicationFactor: 1 })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ClientError);
    expect((invalid as ClientError).retriable).toBe(false);
  });
});
