// Goal (issue 15, defects 1 and 2 on the second wire format): a poison batch or a compression
// bomb produced through the Kafka port is refused as over HTTP — CORRUPT_MESSAGE (2) or
// INVALID_RECORD (87) for its partition, never UNKNOWN_SERVER_ERROR (-1), nothing appended — and
// the records before it stay readable through Kafka Fetch and JSON fetch alike.
// Method: one broker process; Produce v8 and Fetch v11 over a raw Kafka socket with the codecs
// of src/api/kafka/protocol; the batches come from test/support/log/hostile-batches.ts.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { decodeBatches, encodeBatch } from '../../../../src/log/index.ts';
import { BrokerProcess } from '../../../support/api/broker-process.ts';
import { H2c } from '../../../support/api/h2c.ts';
import { fetchV11, KafkaWireClient, produceV8 } from '../../../support/api/kafka-wire.ts';
import { compressionBombs, poisonBatches } from '../../../support/log/hostile-batches.ts';

const GiB = 1024 * 1024 * 1024;
const kafkaCodes = { CORRUPT_MESSAGE: 2, INVALID_RECORD: 87 } as const;
const topic = 'kafka-hostile';

let broker: BrokerProcess;
let http: H2c;
let kafka: KafkaWireClient;

beforeAll(async () => {
  broker = await BrokerProcess.start();
  http = new H2c(broker.url);
  kafka = await KafkaWireClient.connect(broker.port);
  // max.message.bytes raised, as any client may: the bombs meet the decompression bound.
  const configs = { 'max.message.bytes': String(16 * 1024 * 1024) };
  const created = await http.post('/v1/topics', {
    name: topic,
    partitions: 1,
    replicationFactor: 1,
    configs,
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  kafka?.close();
  await http?.close();
  await broker?.stop();
  await broker?.removeData();
});

/** Produce v8 of one batch to partition 0, acks=1: the partition's answer. */
function produce(records: Buffer) {
  return produceV8(kafka, topic, 0, records);
}

async function goodBatch(value: string): Promise<Buffer> {
  return encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    records: [{ key: null, value: Buffer.from(value), headers: [], timestampMs: 1_000 }],
  });
}

test(
  'poison batches and bombs through Kafka Produce are refused; good records stay readable',
  {
    timeout: 60_000,
  },
  async () => {
    expect(await produce(await goodBatch('good-0'))).toMatchObject({
      errorCode: 0,
      baseOffset: 0n,
    });
    const hostile = [...(await poisonBatches()), ...(await compressionBombs(GiB))];
    for (const { name, batch, code } of hostile) {
      const answer = await produce(batch);
      expect({ name, errorCode: answer.errorCode }).toEqual({ name, errorCode: kafkaCodes[code] });
      expect(answer.errorMessage).not.toBeNull();
    }
    expect(await produce(await goodBatch('good-1'))).toMatchObject({
      errorCode: 0,
      baseOffset: 1n,
    });

    // Nothing of the refused batches was appended: Kafka Fetch returns exactly the two good ones.
    const fetched = await fetchV11(kafka, topic, 0, 0);
    expect(fetched.errorCode).toBe(0);
    expect(fetched.highWatermark).toBe(2n);
    const batches = await decodeBatches(fetched.records);
    const values = batches.flatMap((b) => b.records.map((r) => Buffer.from(r.value!).toString()));
    expect(values).toEqual(['good-0', 'good-1']);
    const json = await http.get(`/v1/topics/${topic}/partitions/0/records?offset=0`);
    expect(json.status).toBe(200);
    expect(json.json().records.map((r: { value: string }) => r.value)).toEqual([
      'good-0',
      'good-1',
    ]);
    expect(broker.isRunning).toBe(true);
  },
);
