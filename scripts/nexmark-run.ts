// The Nexmark run's I/O, shared by scripts/nexmark.ts and the runtime's integration test:
// pre-load the generated events into the person / auction / bid topics (one partition each),
// and read a query's output topic back, every partition from its start to its end.
import type { ConsumerRecord, RillClient } from '../src/api/client/index.ts';
import { generateEvents, type Row } from './nexmark-model.ts';
import {
  auctionTopic,
  bidTopic,
  eventRecord,
  eventTimeOf,
  personTopic,
} from './nexmark-queries.ts';

/** Creates the input topics and writes `count` events of `seed`; returns them as JSON lines. */
export async function preload(client: RillClient, count: number, seed: number): Promise<string[]> {
  const admin = client.admin();
  for (const name of [personTopic, auctionTopic, bidTopic]) {
    await admin.createTopic({ name, partitions: 1, replicationFactor: 1 });
  }
  const events = generateEvents(count, seed);
  const producer = client.producer({ lingerMs: 20, batchSizeBytes: 256 * 1024 });
  const lines: string[] = [];
  const sends: Promise<unknown>[] = [];
  for (const event of events) {
    const { topic, key, value } = eventRecord(event);
    const json = JSON.stringify(value);
    lines.push(JSON.stringify({ type: event.type, ...(value as object) }));
    sends.push(producer.send({ topic, key, value: json, timestampMs: eventTimeOf(event) }));
    if (sends.length >= 5_000) await Promise.all(sends.splice(0));
  }
  await Promise.all(sends);
  await producer.flush();
  await producer.close();
  return lines;
}

/**
 * Hands every record of `topic` to `each`, partition by partition, in offset order, up to each
 * partition's high watermark when it is reached. Shared by the Nexmark run and the streams tests.
 */
export async function readToEnd(
  client: RillClient,
  topic: string,
  each: (record: ConsumerRecord) => void,
): Promise<void> {
  const admin = client.admin();
  const partitions = (await admin.describeTopic(topic)).partitions.length;
  const consumer = client.consumer({ autoOffsetReset: 'earliest', pollRecordsMax: 10_000 });
  try {
    for (let partition = 0; partition < partitions; partition += 1) {
      const end = (await admin.offsets(topic, partition)).highWatermark;
      consumer.assign([{ topic, partition }]);
      consumer.seekToBeginning({ topic, partition });
      let position = 0;
      while (position < end) {
        for (const record of await consumer.poll({ maxWaitMs: 500 })) each(record);
        position = consumer.position({ topic, partition }) ?? position;
      }
    }
  } finally {
    consumer.close();
  }
}

/** Every record of `topic`, partition by partition, in offset order (values parsed as JSON). */
export async function readOutput(
  client: RillClient,
  topic: string,
): Promise<{ key: string | null; value: Row | null }[]> {
  const out: { key: string | null; value: Row | null }[] = [];
  const decoder = new TextDecoder();
  await readToEnd(client, topic, (r) => {
    out.push({
      key: r.key === null ? null : decoder.decode(r.key),
      value: r.value === null ? null : (JSON.parse(decoder.decode(r.value)) as Row | null),
    });
  });
  return out;
}
