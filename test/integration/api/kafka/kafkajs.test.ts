// Goal: KafkaJS 2.2.4, unchanged, works against a real `rill broker` through the Kafka
// protocol on the node's one port — admin create/describe/delete, an idempotent producer
// with every codec, ListOffsets by time — and records cross between Kafka and HTTP byte for
// byte. Method: one broker process for the file; KafkaJS for the Kafka side, the h2c client
// for HTTP, and a raw Fetch v11 (test/support/api/kafka-wire.ts) to compare stored bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompressionCodecs,
  CompressionTypes,
  Kafka,
  logLevel,
  type Admin,
  type Producer,
} from 'kafkajs';
import { compress, decompress } from '../../../../src/log/compression.ts';
import { BrokerProcess } from '../../../support/api/broker-process.ts';
import { H2c } from '../../../support/api/h2c.ts';
import { fetchV11, KafkaWireClient } from '../../../support/api/kafka-wire.ts';

// KafkaJS ships gzip only; the other codecs are plugged in from Rill's own (as users plug
// kafkajs-snappy & co. in).
for (const [type, codec] of [
  [CompressionTypes.Snappy, 'snappy'],
  [CompressionTypes.LZ4, 'lz4'],
  [CompressionTypes.ZSTD, 'zstd'],
] as const) {
  CompressionCodecs[type] = () => ({
    compress: async (encoder: { buffer: Buffer }) => compress(codec, encoder.buffer),
    decompress: async (buffer: Buffer) => decompress(codec, buffer),
  });
}

let broker: BrokerProcess;
let kafka: Kafka;
let admin: Admin;
let http: H2c;

beforeAll(async () => {
  broker = await BrokerProcess.start();
  http = new H2c(broker.url);
  kafka = new Kafka({
    clientId: 'rill-test',
    brokers: [`127.0.0.1:${broker.port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 100 },
  });
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
  await http?.close();
  await broker?.stop();
});

describe('KafkaJS admin', () => {
  it('creates, lists, describes and deletes topics', async () => {
    const created = await admin.createTopics({
      topics: [
        {
          topic: 'admin-a',
          numPartitions: 3,
          configEntries: [{ name: 'retention.ms', value: '60000' }],
        },
      ],
      waitForLeaders: true,
    });
    expect(created).toBe(true);
    expect(await admin.listTopics()).toContain('admin-a');
    const metadata = await admin.fetchTopicMetadata({ topics: ['admin-a'] });
    expect(metadata.topics[0]?.partitions.map((p) => p.leader).sort()).toEqual([1, 1, 1]);
    const configs = await admin.describeConfigs({
      resources: [{ type: 2, name: 'admin-a', configNames: ['retention.ms'] }],
      includeSynonyms: false,
    });
    expect(configs.resources[0]?.configEntries).toEqual([
      expect.objectContaining({ configName: 'retention.ms', configValue: '60000' }),
    ]);
    // Over HTTP too: the same topic.
    expect((await http.get('/v1/topics/admin-a')).json().partitions).toHaveLength(3);
    await expect(
      admin.createTopics({ topics: [{ topic: 'admin-a' }], validateOnly: false }),
    ).resolves.toBe(false); // already exists: KafkaJS answers false, no throw
    await admin.deleteTopics({ topics: ['admin-a'] });
    expect((await http.get('/v1/topics/admin-a')).status).toBe(404);
  });

  it('names this broker as controller and carries the cluster id', async () => {
    const cluster = await admin.describeCluster();
    const described = (await http.get('/v1/cluster')).json();
    expect(cluster.controller).toBe(1);
    expect(cluster.clusterId).toBe(described.clusterId);
    expect(cluster.brokers).toEqual([{ nodeId: 1, host: '127.0.0.1', port: broker.port }]);
    expect(described.kafkaBootstrap).toBe(`127.0.0.1:${broker.port}`);
  });
});

describe('KafkaJS idempotent producer', () => {
  let producer: Producer;
  beforeAll(async () => {
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
  });
  afterAll(async () => producer?.disconnect());

  const codecs = [
    ['none', CompressionTypes.None],
    ['gzip', CompressionTypes.GZIP],
    ['snappy', CompressionTypes.Snappy],
    ['lz4', CompressionTypes.LZ4],
    ['zstd', CompressionTypes.ZSTD],
  ] as const;
  for (const [name, compression] of codecs) {
    it(`produces ${name} batches readable over HTTP with their keys and values`, async () => {
      const topic = `idem-${name}`; // auto-created by Produce's metadata request
      const messages = Array.from({ length: 20 }, (_, i) => ({
        key: `k${i}`,
        value: `${name}-value-${i}`,
        headers: { h: `x${i}` },
      }));
      const [answer] = await producer.send({ topic, messages, acks: -1, compression });
      expect(answer).toMatchObject({
        topicName: topic,
        partition: 0,
        errorCode: 0,
        baseOffset: '0',
      });
      const fetched = (await http.get(`/v1/topics/${topic}/partitions/0/records?offset=0`)).json();
      expect(fetched.records.map((r: { key: string; value: string }) => [r.key, r.value])).toEqual(
        messages.map((m) => [m.key, m.value]),
      );
      // The bytes Kafka Fetch returns are the stored batches HTTP serves, byte for byte.
      await expectSameBytes(topic, 0);
    });
  }
});

describe('across protocols', () => {
  it('serves HTTP-produced records to a Kafka Fetch, the stored bytes as they are', async () => {
    await http.post('/v1/topics', { name: 'from-http', partitions: 1, replicationFactor: 1 });
    const values = ['alpha', 'beta', 'gamma'];
    const produced = await http.post('/v1/topics/from-http/partitions/0/records', {
      records: values.map((value, i) => ({ key: `k${i}`, value })),
    });
    expect(produced.status).toBe(200);
    await expectSameBytes('from-http', 0);
  });

  it('answers ListOffsets earliest, latest and by timestamp', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const before = Date.now() - 1;
    await producer.send({ topic: 'by-time', messages: [{ value: 'a' }, { value: 'b' }] });
    await producer.disconnect();
    const offsets = await admin.fetchTopicOffsets('by-time');
    expect(offsets).toEqual([expect.objectContaining({ partition: 0, low: '0', high: '2' })]);
    const byTime = await admin.fetchTopicOffsetsByTimestamp('by-time', before);
    expect(byTime).toEqual([{ partition: 0, offset: '0' }]);
    const future = await admin.fetchTopicOffsetsByTimestamp('by-time', Date.now() + 3_600_000);
    // No record at or after: Kafka answers -1, which KafkaJS turns into the latest offset.
    expect(future[0]?.offset).toMatch(/^(-1|2)$/);
  });
});

async function expectSameBytes(topic: string, partition: number): Promise<void> {
  const client = await KafkaWireClient.connect(broker.port);
  try {
    const viaKafka = await fetchV11(client, topic, partition, 0);
    expect(viaKafka.errorCode).toBe(0);
    const viaHttp = await http.request({
      path: `/v1/topics/${topic}/partitions/${partition}/records?offset=0&maxBytes=16777216`,
      headers: { accept: 'application/vnd.rill.batch' },
    });
    expect(viaHttp.status).toBe(200);
    expect(viaKafka.records.length).toBeGreaterThan(0);
    expect(viaKafka.records.equals(viaHttp.body)).toBe(true);
  } finally {
    client.close();
  }
}
