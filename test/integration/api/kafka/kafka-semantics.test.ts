// Goal: the Kafka protocol has the HTTP API's semantics (issue 12, item 4): acks 0/1/-1 with
// min.insync.replicas (acks=0 gets no answer, acks=-1 below min ISR writes nothing),
// OFFSET_OUT_OF_RANGE past the high watermark and below the log start offset, Fetch long-poll
// by max.wait.ms and min.bytes, max_bytes across partitions (KIP-74), and a compacted topic
// served with its offset gaps as stored.
// Method: one broker process (log cleaner every 100 ms); raw Produce v7 / Fetch v11 /
// ListOffsets v1 over test/support/api/kafka-wire.ts; HTTP for setup and cross-checks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaWriter } from '../../../../src/api/kafka/protocol/writer.ts';
import { decodeBatches, encodeBatch, lastOffsetOf } from '../../../../src/log/record-batch.ts';
import { BrokerProcess } from '../../../support/api/broker-process.ts';
import { H2c } from '../../../support/api/h2c.ts';
import { fetchV11, KafkaWireClient } from '../../../support/api/kafka-wire.ts';
import { pollUntil } from '../../../support/poll.ts';

let broker: BrokerProcess;
let http: H2c;
let client: KafkaWireClient;

beforeAll(async () => {
  broker = await BrokerProcess.start({ args: ['--limit', 'logCleanerBackoffMs=100'] });
  http = new H2c(broker.url);
  client = await KafkaWireClient.connect(broker.port);
});

afterAll(async () => {
  client?.close();
  await http?.close();
  await broker?.stop();
});

async function createTopic(name: string, configs: Record<string, string> = {}): Promise<void> {
  const answer = await http.post('/v1/topics', {
    name,
    partitions: 1,
    replicationFactor: 1,
    configs,
  });
  expect(answer.status).toBe(201);
}

function batchOf(entries: readonly [string, string][]): Promise<Buffer> {
  const enc = (text: string) => Buffer.from(text);
  return encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    records: entries.map(([key, value]) => ({
      key: enc(key),
      value: enc(value),
      headers: [],
      timestampMs: Date.now(),
    })),
  });
}

function writeProduce(topic: string, acks: number, batch: Buffer) {
  return (w: KafkaWriter) => {
    w.nullableString(null).int16(acks).int32(5_000);
    w.array([topic], (tw, name) => tw.string(name).array([0], (pw) => pw.int32(0).bytes(batch)));
  };
}

/** Produce v7 to partition 0: the partition's error code and base offset. */
async function produce(topic: string, acks: number, batch: Buffer) {
  const reader = await client.request(0, 7, false, writeProduce(topic, acks, batch));
  const [answer] = reader.array((r) => {
    r.string();
    return r.array((pr) => {
      pr.int32();
      const errorCode = pr.int16();
      const baseOffset = pr.int64Number();
      pr.int64(); // log_append_time
      const logStartOffset = pr.int64Number();
      return { errorCode, baseOffset, logStartOffset };
    });
  });
  const partition = answer?.[0];
  if (partition === undefined) throw new Error('no partition in the Produce answer');
  return partition;
}

/** ListOffsets v1 of partition 0 at `timestamp` (-1 latest, -2 earliest). */
async function listOffset(topic: string, timestamp: number): Promise<number> {
  const reader = await client.request(2, 1, false, (w) => {
    w.int32(-1).array([topic], (tw, name) =>
      tw.string(name).array([0], (pw) => pw.int32(0).int64(BigInt(timestamp))),
    );
  });
  const answers = reader.array((r) => {
    r.string();
    return r.array((pr) => {
      pr.int32();
      const errorCode = pr.int16();
      pr.int64(); // timestamp
      return { errorCode, offset: pr.int64Number() };
    });
  });
  const answer = answers[0]?.[0];
  if (answer === undefined) throw new Error('no partition in the ListOffsets answer');
  expect(answer.errorCode).toBe(0);
  return answer.offset;
}

async function values(records: Buffer): Promise<{ offset: number; key: string; value: string }[]> {
  const batches = await decodeBatches(records, { allowPartialTail: true });
  return batches.flatMap((b) =>
    b.records.map((r) => ({
      offset: r.offset,
      key: Buffer.from(r.key ?? []).toString(),
      value: Buffer.from(r.value ?? []).toString(),
    })),
  );
}

describe('Kafka Produce acks', () => {
  it('acks=0 gets no answer, yet writes; the next request is answered in order', async () => {
    await client.send(0, 7, writeProduce('acks-zero', 0, await batchOf([['k', 'v0']])));
    // request() checks the correlation id: an answer to the acks=0 Produce would fail it.
    const latest = await pollUntil('the acks=0 record', 10_000, async () => {
      const offset = await listOffset('acks-zero', -1);
      return offset === 1 ? offset : undefined;
    });
    expect(latest).toBe(1);
  });

  it('acks=-1 below min.insync.replicas is NOT_ENOUGH_REPLICAS, writing nothing', async () => {
    await createTopic('min-isr', { 'min.insync.replicas': '2' });
    const refused = await produce('min-isr', -1, await batchOf([['k', 'all']]));
    expect(refused.errorCode).toBe(19); // NOT_ENOUGH_REPLICAS
    expect(await listOffset('min-isr', -1)).toBe(0);
    // acks=1 is appended, but stays invisible while the ISR is below min.insync.replicas
    // (KIP-966, docs/api.md "Produce"): the high watermark does not move.
    const leaderOnly = await produce('min-isr', 1, await batchOf([['k', 'one']]));
    expect(leaderOnly).toMatchObject({ errorCode: 0, baseOffset: 0 });
    expect(await listOffset('min-isr', -1)).toBe(0);
  });

  it('acks=2 is INVALID_REQUIRED_ACKS', async () => {
    await createTopic('acks-two');
    expect((await produce('acks-two', 2, await batchOf([['k', 'v']]))).errorCode).toBe(21);
    expect(await listOffset('acks-two', -1)).toBe(0);
  });
});

describe('Kafka Fetch', () => {
  it('OFFSET_OUT_OF_RANGE past the high watermark and below the log start offset', async () => {
    await createTopic('ranges');
    for (let i = 0; i < 5; i += 1) {
      expect((await produce('ranges', -1, await batchOf([[`k${i}`, `v${i}`]]))).errorCode).toBe(0);
    }
    const atEnd = await fetchV11(client, 'ranges', 0, 5);
    expect(atEnd).toMatchObject({ errorCode: 0, highWatermark: 5n, logStartOffset: 0n });
    expect(atEnd.records.length).toBe(0);
    expect((await fetchV11(client, 'ranges', 0, 9)).errorCode).toBe(1);
    const deleted = await http.request({
      method: 'DELETE',
      path: '/v1/topics/ranges/partitions/0/records?before=3',
    });
    expect(deleted.status).toBe(200);
    const below = await fetchV11(client, 'ranges', 0, 1);
    expect(below).toMatchObject({ errorCode: 1, logStartOffset: 3n });
    expect(await listOffset('ranges', -2)).toBe(3);
    const from = await fetchV11(client, 'ranges', 0, 3);
    expect(from.logStartOffset).toBe(3n);
    expect((await values(from.records)).map((r) => r.value)).toEqual(['v3', 'v4']);
  });

  it('long-polls up to max.wait.ms and answers as soon as min.bytes arrive', async () => {
    await createTopic('long-poll');
    let started = Date.now();
    const empty = await fetchV11(client, 'long-poll', 0, 0, 400);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(empty).toMatchObject({ errorCode: 0, highWatermark: 0n });
    expect(empty.records.length).toBe(0);

    started = Date.now();
    const waiting = fetchV11(client, 'long-poll', 0, 0, 20_000);
    const path = '/v1/topics/long-poll/partitions/0/records';
    expect((await http.post(path, { records: [{ key: 'k', value: 'woke' }] })).status).toBe(200);
    const woken = await waiting;
    expect(Date.now() - started).toBeLessThan(15_000);
    expect((await values(woken.records)).map((r) => r.value)).toEqual(['woke']);
  });

  it('waits for min.bytes, not for the first byte, until max.wait.ms', async () => {
    await createTopic('min-bytes');
    const path = '/v1/topics/min-bytes/partitions/0/records';
    const started = Date.now();
    const waiting = fetchV11(client, 'min-bytes', 0, 0, 1_500, 1_000_000);
    expect((await http.post(path, { records: [{ value: 'small' }] })).status).toBe(200);
    const answer = await waiting;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect((await values(answer.records)).map((r) => r.value)).toEqual(['small']);

    // Two appends, the second reaching min.bytes: the answer comes before max.wait.ms.
    const again = Date.now();
    const gathering = fetchV11(client, 'min-bytes', 0, 1, 20_000, 1_000);
    expect((await http.post(path, { records: [{ value: 'first' }] })).status).toBe(200);
    expect((await http.post(path, { records: [{ value: 'y'.repeat(1_200) }] })).status).toBe(200);
    const gathered = await gathering;
    expect(Date.now() - again).toBeLessThan(15_000);
    expect((await values(gathered.records)).map((r) => r.value.length)).toEqual([5, 1_200]);
  });
});

/** Fetch v11 of partitions of one topic, in the order given, within `maxBytes` in all. */
async function fetchPartitions(topic: string, partitions: readonly number[], maxBytes: number) {
  const reader = await client.request(1, 11, false, (w) => {
    w.int32(-1).int32(0).int32(1).int32(maxBytes).int8(0).int32(0).int32(-1);
    w.array([topic], (tw, name) => {
      tw.string(name).array(partitions, (pw, p) => {
        pw.int32(p).int32(-1).int64(0n).int64(-1n).int32(20_000_000);
      });
    });
    w.array([], () => undefined).string('');
  });
  reader.int32();
  reader.int16();
  reader.int32();
  const [answers] = reader.array((r) => {
    r.string();
    return r.array((pr) => {
      const partition = pr.int32();
      const errorCode = pr.int16();
      pr.int64();
      pr.int64();
      pr.int64();
      pr.nullableArray(() => undefined);
      pr.int32();
      return { partition, errorCode, bytes: (pr.nullableBytes() ?? Buffer.alloc(0)).length };
    });
  });
  return answers ?? [];
}

describe('Kafka Fetch max_bytes', () => {
  // Found by librdkafka's test 0082 (fetch.max.bytes=1000000 with receive.message.max.bytes
  // just above it): every partition's first batch was sent whatever its size, the answer
  // outgrew what the client accepts, and it never consumed.
  it('lets only the first partition with data pass max_bytes; the next waits', async () => {
    const answer = await http.post('/v1/topics', {
      name: 'max-bytes',
      partitions: 2,
      replicationFactor: 1,
    });
    expect(answer.status).toBe(201);
    const big = 'b'.repeat(600_000);
    for (const partition of [0, 1]) {
      const path = `/v1/topics/max-bytes/partitions/${partition}/records`;
      expect((await http.post(path, { records: [{ value: big }] })).status).toBe(200);
    }
    const first = await fetchPartitions('max-bytes', [0, 1], 1_000_000);
    expect(first.map((p) => p.errorCode)).toEqual([0, 0]);
    expect(first[0]?.bytes).toBeGreaterThan(600_000);
    expect(first[1]?.bytes).toBe(0);
    // Alone within its budget, or first in the next request, partition 1 is served.
    const next = await fetchPartitions('max-bytes', [1, 0], 1_000_000);
    expect(next[0]?.bytes).toBeGreaterThan(600_000);
    expect(next[1]?.bytes).toBe(0);
    // A batch larger than max_bytes still goes out when it comes first (KIP-74).
    const small = await fetchPartitions('max-bytes', [0], 1_000);
    expect(small[0]?.bytes).toBeGreaterThan(600_000);
  });
});

describe('Kafka Fetch of a compacted topic', () => {
  it('serves the cleaned log with its offset gaps, the latest value of every key', async () => {
    await createTopic('compacted', {
      'cleanup.policy': 'compact',
      'segment.bytes': '1024',
      'min.cleanable.dirty.ratio': '0.01',
    });
    const latest = new Map<string, string>();
    for (let i = 0; i < 40; i += 1) {
      const key = `key-${i % 4}`;
      const value = `value-${i}-${'x'.repeat(100)}`;
      latest.set(key, value);
      expect((await produce('compacted', -1, await batchOf([[key, value]]))).errorCode).toBe(0);
    }
    // A Kafka client reads on from the last offset of the last batch it got: an empty batch
    // that compaction left (as Kafka leaves them) moves it past removed records.
    const consume = async () => {
      const read: { offset: number; key: string; value: string }[] = [];
      const answers: Buffer[] = [];
      for (let offset = 0; offset < 40;) {
        const answer = await fetchV11(client, 'compacted', 0, offset);
        expect(answer.errorCode).toBe(0);
        answers.push(answer.records);
        const batches = await decodeBatches(answer.records, { allowPartialTail: true });
        const last = batches.at(-1);
        if (last === undefined) throw new Error(`no batch at offset ${offset}`);
        read.push(...(await values(answer.records)));
        offset = lastOffsetOf(last.header) + 1;
      }
      return { read, bytes: Buffer.concat(answers) };
    };
    const cleaned = await pollUntil('the cleaner to drop overwritten records', 20_000, async () => {
      const all = await consume();
      return all.read.length < 20 ? all : undefined;
    });
    const offsets = cleaned.read.map((r) => r.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(offsets.length).toBeLessThan(40);
    // The last record of each key survives.
    const seen = new Map(cleaned.read.map((r) => [r.key, r.value]));
    expect(seen).toEqual(latest);
    // The bytes Kafka serves are the bytes HTTP serves (as stored), batch after batch.
    const viaHttp = await http.get(
      '/v1/topics/compacted/partitions/0/records?offset=0&maxBytes=16777216',
      { accept: 'application/vnd.rill.batch' },
    );
    expect(viaHttp.status).toBe(200);
    expect(cleaned.bytes.subarray(0, viaHttp.body.length).equals(viaHttp.body)).toBe(true);
  });
});
