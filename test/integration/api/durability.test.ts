// Goal: acknowledged records survive kill -9 and a restart; binary fetches spanning several
// segments and many concurrent fetches of the same file bytes come back intact.
// Method: a real `rill broker` process; produce with acks=all (log.flush=always), SIGKILL,
// start a new process on the same data directory, compare every record.
import { afterEach, expect, test } from 'vitest';
import { decodeBatches, encodeBatch } from '../../../src/log/index.ts';
import { BrokerProcess } from '../../support/api/broker-process.ts';
import { H2c } from '../../support/api/h2c.ts';
import { until } from '../../support/poll.ts';

const batchType = 'application/vnd.rill.batch';
let brokers: BrokerProcess[] = [];
let clients: H2c[] = [];

afterEach(async () => {
  for (const broker of brokers) await broker.kill();
  await Promise.allSettled(clients.map((client) => client.close()));
  await brokers[0]?.removeData();
  brokers = [];
  clients = [];
});

async function start(dataDir?: string): Promise<{ broker: BrokerProcess; http: H2c }> {
  const broker = await BrokerProcess.start(dataDir === undefined ? {} : { dataDir });
  const http = new H2c(broker.url);
  brokers.push(broker);
  clients.push(http);
  return { broker, http };
}

const batch = (first: number, count: number) =>
  encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    records: Array.from({ length: count }, (_, i) => ({
      key: null,
      value: Buffer.from(`record-${first + i}-${'x'.repeat(200)}`),
      headers: [],
      timestampMs: 1_000 + first + i,
    })),
  });

async function fetchAllValues(http: H2c, path: string, highWatermark: number): Promise<string[]> {
  const values: string[] = [];
  for (let offset = 0; offset < highWatermark;) {
    const response = await http.get(`${path}?offset=${offset}&maxBytes=65536`, {
      accept: batchType,
    });
    expect(response.status).toBe(200);
    for (const { records } of await decodeBatches(response.body)) {
      for (const record of records) {
        if (record.offset >= offset) values.push(Buffer.from(record.value!).toString());
      }
    }
    const next = Number(response.headers['rill-next-offset']);
    expect(next).toBeGreaterThan(offset);
    offset = next;
  }
  return values;
}

test('acknowledged records survive kill -9 and restart', async () => {
  const { broker, http } = await start();
  await http.post('/v1/topics', { name: 'durable', partitions: 1, replicationFactor: 1 });
  const path = '/v1/topics/durable/partitions/0/records';
  const sent: string[] = [];
  for (let i = 0; i < 20; i += 1) {
    const response = await http.request({
      method: 'POST',
      path: `${path}?acks=all`,
      headers: { 'content-type': batchType },
      body: await batch(i * 10, 10),
    });
    expect(response.json()).toMatchObject({ baseOffset: i * 10, lastOffset: i * 10 + 9 });
    for (let j = 0; j < 10; j += 1) sent.push(`record-${i * 10 + j}-${'x'.repeat(200)}`);
  }
  await broker.kill();
  await http.close();
  const restarted = await start(broker.dataDir);
  // The new incarnation registers fenced: it leads again once re-elected (issue 7).
  const offsetsPath = '/v1/topics/durable/partitions/0/offsets';
  await until('the restarted node leads again', async () => {
    const body = (await restarted.http.get(offsetsPath)).json() as { error?: unknown };
    return body.error === undefined;
  });
  const offsets = (await restarted.http.get(offsetsPath)).json();
  expect(offsets).toEqual({ logStartOffset: 0, highWatermark: 200 });
  expect(await fetchAllValues(restarted.http, path, 200)).toEqual(sent);
  const next = await restarted.http.post(path, { records: [{ value: 'after restart' }] });
  expect(next.json()).toMatchObject({ baseOffset: 200 });
});

test('binary fetches across segments and concurrent fetches return intact batches', async () => {
  const { http } = await start();
  await http.post('/v1/topics', {
    name: 'segmented',
    partitions: 1,
    replicationFactor: 1,
    configs: { 'segment.bytes': 4096 },
  });
  const path = '/v1/topics/segmented/partitions/0/records';
  for (let i = 0; i < 30; i += 1) {
    const body = await batch(i * 5, 5);
    await http.request({ method: 'POST', path, headers: { 'content-type': batchType }, body });
  }
  // One large read spans many 4 KiB segments: the response must hold every batch.
  const whole = await http.get(`${path}?offset=0&maxBytes=1048576`, { accept: batchType });
  const batches = await decodeBatches(whole.body);
  expect(batches.length).toBeGreaterThan(1);
  expect(batches[0]?.header.baseOffset).toBe(0);
  const readTo = Number(whole.headers['rill-next-offset']);
  expect(readTo).toBe(
    batches.at(-1)!.header.baseOffset + batches.at(-1)!.header.lastOffsetDelta + 1,
  );
  // Many concurrent reads of the same bytes (shared segment files) agree byte for byte.
  const responses = await Promise.all(
    Array.from({ length: 32 }, (_, i) =>
      http.get(`${path}?offset=${(i * 7) % 150}&maxBytes=8192`, { accept: batchType }),
    ),
  );
  for (const [i, response] of responses.entries()) {
    const offset = (i * 7) % 150;
    const decoded = await decodeBatches(response.body);
    const values = decoded.flatMap((b) => b.records).filter((r) => r.offset >= offset);
    expect(Buffer.from(values[0]!.value!).toString()).toBe(`record-${offset}-${'x'.repeat(200)}`);
  }
  expect(await fetchAllValues(http, path, 150)).toHaveLength(150);
});

test('SIGTERM during a long poll answers it and exits cleanly', async () => {
  const { broker, http } = await start();
  await http.post('/v1/topics', { name: 'polled', partitions: 1, replicationFactor: 1 });
  const waiting = http.get('/v1/topics/polled/partitions/0/records?offset=0&maxWaitMs=60000');
  const deadline = performance.now() + 10_000;
  while (!(await http.get('/metrics')).body.toString().includes('rill_waiting_fetches 1')) {
    expect(performance.now()).toBeLessThan(deadline);
  }
  const started = performance.now();
  const exitCode = await broker.stop();
  const answered = await waiting;
  expect(answered.status).toBe(200);
  expect(answered.json()).toMatchObject({ records: [], nextOffset: 0 });
  expect(exitCode).toBe(0);
  expect(performance.now() - started).toBeLessThan(20_000);
});
