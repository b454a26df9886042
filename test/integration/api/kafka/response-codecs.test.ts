// Goal: every version Rill answers decodes in the client that sends it: KafkaJS 2.2.4's own
// response decoders read Rill's Metadata v0-6, Produce v3-7, Fetch v4-11 and ListOffsets
// v0-3, CreateTopics v0-3, DescribeConfigs v0-2, DeleteTopics v0-1 and InitProducerId v0-1
// answers to KafkaJS-encoded requests, and the flexible versions KafkaJS lacks
// (Metadata v9-12, Produce v9, Fetch v12-17) are read by a strict decoder that must consume
// every byte.
// Method: one broker process; KafkaJS request/response modules driven over a raw socket.
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerProcess } from '../../../support/api/broker-process.ts';
import { fetchV11, KafkaWireClient } from '../../../support/api/kafka-wire.ts';
import { H2c } from '../../../support/api/h2c.ts';
import { topicIdBytes } from '../../../../src/api/kafka/kafka-topics.ts';
import { KafkaReader } from '../../../../src/api/kafka/protocol/reader.ts';

const require = createRequire(import.meta.url);
type Framer = (args: {
  correlationId: number;
  clientId: string;
  request: unknown;
}) => Promise<{ buffer: Buffer }>;
interface ResponseModule {
  decode(payload: Buffer): Promise<unknown>;
  parse(decoded: unknown): Promise<Record<string, unknown>>;
}

let broker: BrokerProcess;
let client: KafkaWireClient;
let correlationId = 100;

beforeAll(async () => {
  broker = await BrokerProcess.start();
  client = await KafkaWireClient.connect(broker.port);
});

afterAll(async () => {
  client?.close();
  await broker?.stop();
});

/** Sends KafkaJS's request for `api` v`version` and parses the answer with KafkaJS. */
async function viaKafkajs(api: string, version: number, params: unknown) {
  const base = `kafkajs/src/protocol/requests/${api}/v${version}`;
  const request = (require(`${base}/request`) as (p: unknown) => unknown)(params);
  const response = require(`${base}/response`) as ResponseModule;
  const frame = require('kafkajs/src/protocol/request') as Framer;
  correlationId += 1;
  const encoded = await frame({ correlationId, clientId: 'codec-test', request });
  const answer = await client.exchange(encoded.buffer);
  expect(answer.readInt32BE(0)).toBe(correlationId);
  return response.parse(await response.decode(answer.subarray(4)));
}

const messages = [
  { key: 'k0', value: 'v0', timestamp: 1_700_000_000_000 },
  { key: 'k1', value: 'v1', timestamp: 1_700_000_000_001 },
];

describe('KafkaJS decodes Rill answers', () => {
  for (const version of [0, 1, 2, 3, 4, 5, 6]) {
    it(`Metadata v${version}`, async () => {
      const topics = [`meta-v${version}`];
      const parsed = await viaKafkajs('metadata', version, { topics });
      expect(parsed['brokers']).toEqual([
        expect.objectContaining({ nodeId: 1, host: '127.0.0.1', port: broker.port }),
      ]);
      const [topic] = parsed['topicMetadata'] as { topic: string; partitionMetadata: unknown[] }[];
      expect(topic?.topic).toBe(topics[0]);
      expect(topic?.partitionMetadata).toEqual([
        expect.objectContaining({ partitionId: 0, leader: 1, replicas: [1], isr: [1] }),
      ]);
    });
  }

  for (const version of [3, 4, 5, 6, 7]) {
    it(`Produce v${version}, then Fetch v4-v11 and ListOffsets v0-v3 of it`, async () => {
      const topic = `produce-v${version}`;
      await viaKafkajs('metadata', 4, { topics: [topic], allowAutoTopicCreation: true });
      const produced = await viaKafkajs('produce', version, {
        acks: -1,
        timeout: 5_000,
        topicData: [{ topic, partitions: [{ partition: 0, messages }] }],
      });
      expect(produced['topics']).toEqual([
        {
          topicName: topic,
          partitions: [expect.objectContaining({ errorCode: 0, baseOffset: '0' })],
        },
      ]);
      for (const fetchVersion of [4, 5, 6, 7, 8, 9, 10, 11]) {
        const fetched = await viaKafkajs('fetch', fetchVersion, {
          replicaId: -1,
          maxWaitTime: 0,
          minBytes: 1,
          maxBytes: 1_048_576,
          topics: [{ topic, partitions: [{ partition: 0, fetchOffset: '0', maxBytes: 65_536 }] }],
        });
        const [answer] = fetched['responses'] as {
          partitions: { errorCode: number; highWatermark: string; messages: { value: Buffer }[] }[];
        }[];
        const partition = answer?.partitions[0];
        expect(partition?.errorCode).toBe(0);
        expect(partition?.highWatermark).toBe('2');
        expect(partition?.messages.map((m) => m.value.toString())).toEqual(['v0', 'v1']);
      }
      for (const listVersion of [0, 1, 2, 3]) {
        const listed = await viaKafkajs('listOffsets', listVersion, {
          replicaId: -1,
          isolationLevel: 0,
          topics: [{ topic, partitions: [{ partition: 0, timestamp: -1, maxNumOffsets: 1 }] }],
        });
        const [answer] = listed['responses'] as { partitions: Record<string, unknown>[] }[];
        const offsets = answer?.partitions[0];
        if (listVersion === 0) expect(offsets?.['offsets']).toEqual(['2']);
        else expect(offsets?.['offset']).toBe('2');
      }
    });
  }
});

describe('KafkaJS decodes Rill answers to its admin and producer-id requests', () => {
  for (const version of [0, 1, 2, 3]) {
    it(`CreateTopics v${version}, DescribeConfigs, DeleteTopics v${version % 2}`, async () => {
      const topic = `admin-v${version}`;
      const configEntries = [{ name: 'retention.ms', value: '3600000' }];
      const created = await viaKafkajs('createTopics', version, {
        topics: [{ topic, numPartitions: 2, replicationFactor: 1, configEntries }],
        timeout: 5_000,
      });
      expect(created['topicErrors']).toEqual([expect.objectContaining({ topic, errorCode: 0 })]);
      const described = await viaKafkajs('describeConfigs', Math.min(version, 2), {
        resources: [{ type: 2, name: topic, configNames: ['retention.ms'] }],
        includeSynonyms: false,
      });
      const [resource] = described['resources'] as {
        errorCode: number;
        resourceName: string;
        configEntries: { configName: string; configValue: string }[];
      }[];
      expect(resource).toMatchObject({ errorCode: 0, resourceName: topic });
      expect(resource?.configEntries).toEqual([
        expect.objectContaining({ configName: 'retention.ms', configValue: '3600000' }),
      ]);
      const deleted = await viaKafkajs('deleteTopics', version % 2, {
        topics: [topic],
        timeout: 5_000,
      });
      expect(deleted['topicErrors']).toEqual([{ topic, errorCode: 0 }]);
    });
  }

  for (const version of [0, 1]) {
    it(`InitProducerId v${version}`, async () => {
      const answer = await viaKafkajs('initProducerId', version, {
        transactionalId: null,
        transactionTimeout: 30_000,
      });
      expect(answer).toMatchObject({ errorCode: 0, producerEpoch: 0 });
      expect(Number(answer['producerId'])).toBeGreaterThanOrEqual(0);
    });
  }
});

describe('flexible answers, read strictly', () => {
  for (const version of [9, 10, 11, 12]) {
    it(`Metadata v${version}`, async () => {
      const reader = await client.request(3, version, true, (w) => {
        w.compactArray([`flex-v${version}`], (tw, name) => {
          if (version >= 10) tw.uuid(Buffer.alloc(16));
          tw.compactNullableString(name).taggedFields();
        });
        w.boolean(true);
        if (version <= 10) w.boolean(false);
        w.boolean(false).taggedFields();
      });
      readFlexibleMetadata(reader, version);
      expect(reader.remaining).toBe(0);
    });
  }

  it('Produce v9', async () => {
    const reader = await client.request(0, 9, true, (w) => {
      w.compactNullableString(null).int16(1).int32(5_000);
      w.compactArray(['flex-v9'], (tw, name) => {
        tw.compactString(name);
        tw.compactArray([0], (pw, p) => pw.int32(p).compactNullableBytes(null).taggedFields());
        tw.taggedFields();
      });
      w.taggedFields();
    });
    const topics = reader.compactArray((r) => {
      const name = r.compactString();
      const partitions = r.compactArray((pr) => {
        const answer = { partition: pr.int32(), errorCode: pr.int16() };
        pr.int64();
        pr.int64();
        pr.int64();
        pr.compactArray(() => undefined);
        pr.compactNullableString();
        pr.skipTaggedFields();
        return answer;
      });
      r.skipTaggedFields();
      return { name, partitions };
    });
    reader.int32();
    reader.skipTaggedFields();
    expect(reader.remaining).toBe(0);
    expect(topics[0]?.name).toBe('flex-v9');
    // No records: the broker refuses the empty batch, per partition.
    expect(topics[0]?.partitions[0]?.partition).toBe(0);
  });
});

const unknownTags = [
  { tag: 3, data: Buffer.from([1, 2, 3]) },
  { tag: 900, data: Buffer.alloc(0) },
];

describe('flexible Fetch (v12 by name, v13-v17 by topic id), read strictly', () => {
  it('serves the stored bytes, and UNKNOWN_TOPIC_ID for an id it does not know', async () => {
    const topic = 'fetch-flex';
    await viaKafkajs('metadata', 4, { topics: [topic], allowAutoTopicCreation: true });
    await viaKafkajs('produce', 7, {
      acks: -1,
      timeout: 5_000,
      topicData: [{ topic, partitions: [{ partition: 0, messages }] }],
    });
    const http = new H2c(broker.url);
    const described = (await http.get(`/v1/topics/${topic}`)).json() as { topicId: string };
    await http.close();
    // The id Metadata v10+ advertises for the topic.
    const topicId = topicIdBytes(described.topicId);
    expect(topicId.equals(Buffer.alloc(16))).toBe(false);
    const stored = (await fetchV11(client, topic, 0, 0)).records;
    expect(stored.length).toBeGreaterThan(0);
    for (const version of [12, 13, 14, 15, 16, 17]) {
      const byId = version >= 13;
      const unknown = Buffer.alloc(16, 7);
      const asked: readonly (string | Buffer)[] = byId ? [topicId, unknown] : [topic];
      const reader = await client.request(1, version, true, (w) => {
        if (version <= 14) w.int32(-1);
        w.int32(0).int32(1).int32(1_048_576).int8(0).int32(0).int32(-1);
        w.compactArray(asked, (tw, t) => {
          if (typeof t === 'string') tw.compactString(t);
          else tw.uuid(t);
          tw.compactArray([0], (pw, p) => {
            pw.int32(p).int32(-1).int64(0n).int32(-1).int64(-1n).int32(1_048_576);
            pw.taggedFields(unknownTags);
          });
          tw.taggedFields();
        });
        w.compactArray([], () => undefined)
          .compactString('')
          .taggedFields(unknownTags);
      });
      expect(reader.int32()).toBe(0); // throttle
      expect(reader.int16()).toBe(0);
      expect(reader.int32()).toBe(0); // session id
      const answers = reader.compactArray((r) => {
        const id = byId ? Buffer.from(r.uuid()) : r.compactString();
        const partitions = r.compactArray((pr) => {
          const partition = pr.int32();
          const errorCode = pr.int16();
          const highWatermark = pr.int64Number();
          pr.int64();
          pr.int64();
          expect(pr.compactNullableArray(() => undefined)).toBeNull();
          pr.int32(); // preferred_read_replica
          const records = pr.compactNullableBytes();
          pr.skipTaggedFields();
          return { partition, errorCode, highWatermark, records: Buffer.from(records ?? []) };
        });
        r.skipTaggedFields();
        return { id, partitions };
      });
      reader.skipTaggedFields();
      expect(reader.remaining).toBe(0);
      const [found, missing] = answers;
      expect(found?.partitions[0]).toMatchObject({ partition: 0, errorCode: 0, highWatermark: 2 });
      expect(found?.partitions[0]?.records.equals(stored)).toBe(true);
      if (byId) {
        expect(found?.id).toEqual(topicId);
        expect(missing?.id).toEqual(unknown);
        expect(missing?.partitions[0]).toMatchObject({ errorCode: 100, highWatermark: -1 });
      } else {
        expect(found?.id).toBe(topic);
      }
    }
  });
});

function readFlexibleMetadata(reader: KafkaReader, version: number): void {
  reader.int32(); // throttle
  const brokers = reader.compactArray((r) => {
    const id = r.int32();
    r.compactString();
    r.int32();
    r.compactNullableString();
    r.skipTaggedFields();
    return id;
  });
  expect(brokers).toEqual([1]);
  expect(reader.compactNullableString()).toMatch(/./);
  expect(reader.int32()).toBe(1);
  const topics = reader.compactArray((r) => {
    const errorCode = r.int16();
    const name = version >= 12 ? r.compactNullableString() : r.compactString();
    if (version >= 10) expect(r.uuid().equals(Buffer.alloc(16))).toBe(false);
    r.boolean();
    const partitions = r.compactArray((pr) => {
      pr.int16();
      pr.int32();
      const leader = pr.int32();
      pr.int32();
      pr.compactArray((ir) => ir.int32());
      pr.compactArray((ir) => ir.int32());
      pr.compactArray((ir) => ir.int32());
      pr.skipTaggedFields();
      return leader;
    });
    r.int32();
    r.skipTaggedFields();
    return { errorCode, name, partitions };
  });
  expect(topics).toEqual([{ errorCode: 0, name: `flex-v${version}`, partitions: [1] }]);
  if (version <= 10) reader.int32();
  reader.skipTaggedFields();
}
