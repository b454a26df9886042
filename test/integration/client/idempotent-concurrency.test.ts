// Goal (issue 9): twenty and two hundred concurrent send() calls to one partition of a real
// broker, with the client's default idempotent producer (stamped batches, up to five requests
// in flight, several batches a request), are all acknowledged, at distinct offsets, and each
// record is in the log exactly once, in send order. Jepsen found a peer acknowledging twenty
// concurrent sends at one offset and dropping nineteen. Small batches force many requests.
// Method: one `rill broker` process; the records are read back with the client's consumer.
import { expect, test } from 'vitest';
import { RillClient, type ConsumerRecord } from '../../../src/api/client/index.ts';
import { useSpawnedBroker } from '../../support/broker/spawned-broker.ts';

let client: RillClient;

useSpawnedBroker((_broker, c) => {
  client = c;
});

async function readAll(topic: string, count: number): Promise<ConsumerRecord[]> {
  const consumer = client.consumer({ autoOffsetReset: 'earliest' });
  consumer.assign([{ topic, partition: 0 }]);
  const records: ConsumerRecord[] = [];
  const endMs = performance.now() + 20_000;
  while (performance.now() < endMs) {
    records.push(...(await consumer.poll({ maxWaitMs: 300 })));
    if (records.length >= count) {
      // One more poll shows nothing beyond the sends (a duplicate would come after).
      records.push(...(await consumer.poll({ maxWaitMs: 300 })));
      break;
    }
  }
  consumer.close();
  return records;
}

for (const count of [20, 200]) {
  test(`${count} concurrent send() to one partition: distinct offsets, each once`, async () => {
    const topic = `concurrent-${count}`;
    await client.admin().createTopic({ name: topic, partitions: 1, replicationFactor: 1 });
    // ~130-byte records in 400-byte batches and 1,200-byte requests: many of both in flight.
    const producer = client.producer({ batchSizeBytes: 400, requestBytesMax: 1_200, lingerMs: 0 });
    const values = Array.from({ length: count }, (_, i) => `send-${i}-${'v'.repeat(64)}`);
    const acks = await Promise.all(
      values.map((value) => producer.send({ topic, partition: 0, value })),
    );
    await producer.close();
    const offsets = acks.map((ack) => ack.offset);
    expect(new Set(offsets).size).toBe(count);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b)); // send order
    const records = await readAll(topic, count);
    expect(records.map((r) => Buffer.from(r.value ?? []).toString())).toEqual(values);
    expect(records.map((r) => r.offset)).toEqual(offsets);
  });
}
