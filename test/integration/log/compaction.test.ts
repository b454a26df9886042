// Goal: a compacted topic end to end on a real broker: keyless records are refused with
// INVALID_RECORD, the background cleaner compacts closed segments on its own, and both the
// HTTP JSON fetch route and the client consumer read across the gaps it leaves — every record
// read is the one produced at its offset, each key's latest value is there, and the consumer's
// position reaches the high watermark. Method: one `rill broker` process with a 200 ms cleaner
// backoff, tiny segments, and polling (no sleeps) until the cleaner has run.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ClientError, RillClient } from '../../../src/api/client/index.ts';
import { spawnBroker, type BrokerProcess } from '../../../scripts/spawn-broker.ts';
import { pollUntil } from '../../support/poll.ts';

let broker: BrokerProcess;
let client: RillClient;

beforeAll(async () => {
  broker = await spawnBroker({ brokerArgs: ['--limit', 'logCleanerBackoffMs=200'] });
  client = new RillClient({ bootstrapUrls: [broker.url] });
});

afterAll(async () => {
  await client?.close();
  await broker?.stop();
});

interface JsonRecord {
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
}

/** Every record below the HW through GET …/records (JSON), following nextOffset. */
async function readJson(topic: string): Promise<{ records: JsonRecord[]; highWatermark: number }> {
  const records: JsonRecord[] = [];
  let offset = 0;
  for (let round = 0; round < 10_000; round += 1) {
    const url = `${broker.url}/v1/topics/${topic}/partitions/0/records?offset=${offset}&maxBytes=2048&maxWaitMs=0`;
    const response = await fetch(url);
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      records: JsonRecord[];
      nextOffset: number;
      highWatermark: number;
    };
    records.push(...body.records);
    if (body.nextOffset >= body.highWatermark)
      return { records, highWatermark: body.highWatermark };
    expect(body.nextOffset).toBeGreaterThan(offset);
    offset = body.nextOffset;
  }
  throw new Error('the fetch never reached the high watermark');
}

async function cleanerRuns(): Promise<number> {
  const text = await (await fetch(`${broker.url}/metrics`)).text();
  const match = /^rill_log_cleaner_runs_total (\d+)/m.exec(text);
  return Number(match?.[1] ?? 0);
}

test('a compacted topic is cleaned in the background and read across its gaps', async () => {
  const topic = 'compacted';
  await client.admin().createTopic({
    name: topic,
    partitions: 1,
    replicationFactor: 1,
    configs: {
      'cleanup.policy': 'compact',
      'segment.bytes': '1024',
      'min.cleanable.dirty.ratio': '0.01',
    },
  });
  const producer = client.producer({ lingerMs: 0 });
  await expect(producer.send({ topic, partition: 0, key: null, value: 'x' })).rejects.toSatisfy(
    (error) => error instanceof ClientError && error.code === 'INVALID_RECORD',
  );
  const produced = new Map<number, { key: string; value: string | null }>();
  for (let round = 0; round < 30; round += 1) {
    // Ten sends in flight: several small batches per round, and the test stays quick.
    const sends = Array.from({ length: 10 }, (_, j) => {
      const i = round * 10 + j;
      const key = `key-${i % 12}`;
      const value = i % 17 === 16 ? null : `value-${i}-${'v'.repeat(i % 30)}`;
      return producer.send({ topic, partition: 0, key, value }).then((ack) => {
        produced.set(ack.offset, { key, value });
      });
    });
    await Promise.all(sends);
  }
  await producer.close();
  await pollUntil('the cleaner to compact the topic', 20_000, async () => {
    const { records } = await readJson(topic);
    return (await cleanerRuns()) > 0 && records.length < produced.size / 2 ? true : undefined;
  });

  const { records, highWatermark } = await readJson(topic);
  expect(highWatermark).toBe(produced.size);
  const latest = new Map<string, number>();
  for (const [offset, record] of produced) latest.set(record.key, offset);
  const lastRead = new Map<string, number>();
  records.forEach((record, i) => {
    expect(produced.get(record.offset)).toEqual({ key: record.key, value: record.value });
    if (i > 0) expect(record.offset).toBeGreaterThan(records[i - 1]?.offset ?? -1);
    if (record.key !== null) lastRead.set(record.key, record.offset);
  });
  for (const [key, offset] of latest) {
    if (produced.get(offset)?.value !== null) expect(lastRead.get(key)).toBe(offset);
  }

  const consumer = client.consumer({ autoOffsetReset: 'earliest' });
  const tp = { topic, partition: 0 };
  consumer.assign([tp]);
  const consumed: number[] = [];
  await pollUntil('the consumer to reach the high watermark', 20_000, async () => {
    for (const record of await consumer.poll({ maxWaitMs: 200 })) consumed.push(record.offset);
    return (consumer.position(tp) ?? 0) >= highWatermark ? true : undefined;
  });
  consumer.close();
  // The consumer saw at least what the JSON read saw (the cleaner may have run again between).
  const jsonAgain = await readJson(topic);
  expect(consumed.length).toBeGreaterThanOrEqual(jsonAgain.records.length);
  expect(new Set(consumed).size).toBe(consumed.length);
  for (const offset of consumed) expect(produced.has(offset)).toBe(true);
}, 60_000);
