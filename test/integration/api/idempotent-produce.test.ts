// Goal: idempotent produce over HTTP against a real broker process (issue 9) — producer ids
// from POST /v1/producers, the same batch sent twice (binary and JSON) stored once with the
// same offsets in both answers, a retry after a clean restart and after a SIGKILL (state
// rebuilt from the snapshot and the log) deduplicated, and bad input (forged ids, negative or
// wrapping sequences, epochs from the future or fenced) answered with the documented codes
// while nothing is written.
// Method: one `rill broker` child on a temporary data directory; the high watermark before and
// after each request shows what was written. No sleeps: every wait is on a response.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodeBatch, encodeBatches } from '../../../src/log/index.ts';
import { BrokerProcess } from '../../support/api/broker-process.ts';
import { H2c, type H2cResponse } from '../../support/api/h2c.ts';

const topic = 'idem';
const path = `/v1/topics/${topic}/partitions/0/records`;
const batchType = { 'content-type': 'application/vnd.rill.batch' };
let broker: BrokerProcess;
let http: H2c;

beforeAll(async () => {
  broker = await BrokerProcess.start();
  http = new H2c(broker.url);
  const created = await http.post('/v1/topics', {
    name: topic,
    partitions: 1,
    replicationFactor: 1,
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await http?.close();
  await broker?.stop();
  await broker?.removeData();
});

interface Identity {
  readonly producerId: number;
  readonly producerEpoch: number;
}

async function newProducer(producerName?: string): Promise<Identity> {
  const response = await http.post(
    '/v1/producers',
    producerName === undefined ? {} : { producerName },
  );
  expect(response.status, response.body.toString()).toBe(200);
  return response.json() as Identity;
}

function batch(p: Identity, sequence: number, values: readonly string[]): Promise<Buffer> {
  return encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    producerId: BigInt(p.producerId),
    producerEpoch: p.producerEpoch,
    baseSequence: sequence,
    records: values.map((v) => ({ key: null, value: Buffer.from(v), headers: [], timestampMs: 1 })),
  });
}

function batchInput(p: Identity, sequence: number, records: number) {
  return {
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none' as const,
    producerId: BigInt(p.producerId),
    producerEpoch: p.producerEpoch,
    baseSequence: sequence,
    records: Array.from({ length: records }, (_, i) => ({
      key: null,
      value: Buffer.from(`s${sequence + i}`),
      headers: [],
      timestampMs: 1,
    })),
  };
}

/** One produce of several batches, the i-th at sequences[i] (of `second`'s identity if given). */
function batches(
  p: Identity,
  sequences: readonly number[],
  records: number,
  second?: Identity,
): Promise<Buffer> {
  return encodeBatches(
    sequences.map((sequence, i) => batchInput(i === 1 && second ? second : p, sequence, records)),
  );
}

function sendBinary(bytes: Uint8Array): Promise<H2cResponse> {
  return http.request({
    method: 'POST',
    path: `${path}?acks=all`,
    headers: batchType,
    body: bytes,
  });
}

async function highWatermark(): Promise<number> {
  const response = await http.get(`/v1/topics/${topic}/partitions/0/offsets`);
  return (response.json() as { highWatermark: number }).highWatermark;
}

function expectCode(response: H2cResponse, status: number, code: string): void {
  expect({ status: response.status, code: response.json().error?.code }).toEqual({ status, code });
}

describe('producer ids', () => {
  test('anonymous producers get distinct ids at epoch 0; a name bumps its epoch', async () => {
    const a = await newProducer();
    const b = await newProducer();
    expect(a.producerEpoch).toBe(0);
    expect(b.producerId).not.toBe(a.producerId);
    const first = await newProducer('payments');
    const second = await newProducer('payments');
    expect(second).toEqual({
      producerId: first.producerId,
      producerEpoch: first.producerEpoch + 1,
    });
  });

  test('a bad body is refused', async () => {
    expectCode(await http.post('/v1/producers', { producerName: 7 }), 400, 'INVALID_REQUEST');
    expectCode(await http.post('/v1/producers', { name: 'x' }), 400, 'INVALID_REQUEST');
    const long = 'x'.repeat(256);
    expectCode(await http.post('/v1/producers', { producerName: long }), 400, 'INVALID_REQUEST');
  });
});

describe('a retried batch is stored once', () => {
  test('binary: the same batch twice answers the same offsets, the second marked duplicate', async () => {
    const p = await newProducer();
    const bytes = await batch(p, 0, ['a', 'b', 'c']);
    const before = await highWatermark();
    const first = await sendBinary(bytes);
    const second = await sendBinary(bytes);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.json()).toEqual({
      topic,
      partition: 0,
      baseOffset: before,
      lastOffset: before + 2,
    });
    expect(second.json()).toEqual({ ...first.json(), duplicate: true });
    expect(await highWatermark()).toBe(before + 3);
    // The next sequence goes on; a gap is refused and writes nothing.
    const next = await sendBinary(await batch(p, 3, ['d']));
    expect(next.json().baseOffset).toBe(before + 3);
    expectCode(await sendBinary(await batch(p, 9, ['gap'])), 409, 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(await highWatermark()).toBe(before + 4);
  });

  test('binary: a produce of several batches is stored once, its retry deduped', async () => {
    const p = await newProducer();
    const three = await batches(p, [0, 2, 4], 2);
    const before = await highWatermark();
    const first = (await sendBinary(three)).json();
    expect(first).toMatchObject({ baseOffset: before, lastOffset: before + 5 });
    const again = (await sendBinary(three)).json();
    expect(again).toEqual({ ...first, duplicate: true });
    // Any batch of it alone (the client retries a batch alone) answers its own offsets.
    const middle = (await sendBinary(await batches(p, [2], 2))).json();
    expect(middle).toMatchObject({ baseOffset: before + 2, lastOffset: before + 3 });
    expect(middle.duplicate).toBe(true);
    expect(await highWatermark()).toBe(before + 6);
    const next = (await sendBinary(await batches(p, [6, 7], 1))).json();
    expect(next).toMatchObject({ baseOffset: before + 6, lastOffset: before + 7 });
  });

  test('JSON: producer {id, epoch, sequence} makes a script idempotent too', async () => {
    const p = await newProducer();
    const body = {
      records: [{ value: 'x' }, { value: 'y' }],
      producer: { id: p.producerId, epoch: p.producerEpoch, sequence: 0 },
    };
    const before = await highWatermark();
    const first = await http.post(`${path}?acks=all`, body);
    const second = await http.post(`${path}?acks=all`, body);
    expect(first.json()).toEqual({
      topic,
      partition: 0,
      baseOffset: before,
      lastOffset: before + 1,
    });
    expect(second.json()).toEqual({ ...first.json(), duplicate: true });
    expect(await highWatermark()).toBe(before + 2);
    const fetched = await http.get(`${path}?offset=${before}`);
    expect(fetched.json().records.map((r: { value: string }) => r.value)).toEqual(['x', 'y']);
  });

  test('a produce that overtook an earlier one of its producer waits for it, then appends', async () => {
    const p = await newProducer();
    const before = await highWatermark();
    const send = (sequence: number, values: string[]) =>
      http.post(`${path}?acks=all`, {
        records: values.map((value) => ({ value })),
        producer: { id: p.producerId, epoch: p.producerEpoch, sequence },
      });
    // Sequences 2-3 arrive first (as a later HTTP/2 stream may finish first): they wait for 0-1.
    const ahead = send(2, ['c', 'd']);
    const inTurn = await send(0, ['a', 'b']);
    expect(inTurn.json()).toMatchObject({ baseOffset: before, lastOffset: before + 1 });
    expect((await ahead).json()).toMatchObject({ baseOffset: before + 2, lastOffset: before + 3 });
    // A gap nothing fills is still refused, after the bounded wait.
    expectCode(await send(9, ['x']), 409, 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    const fetched = await http.get(`${path}?offset=${before}`);
    const values = fetched.json().records.map((r: { value: string }) => r.value);
    expect(values).toEqual(['a', 'b', 'c', 'd']);
  });

  test('the JSON and binary forms of one batch dedupe against each other', async () => {
    const p = await newProducer();
    const before = await highWatermark();
    const binary = await sendBinary(await batch(p, 0, ['one']));
    const json = await http.post(`${path}?acks=1`, {
      records: [{ value: 'one' }],
      producer: { id: p.producerId, epoch: 0, sequence: 0 },
    });
    expect(json.json()).toEqual({ ...binary.json(), duplicate: true });
    expect(await highWatermark()).toBe(before + 1);
  });
  test('an anonymous producer bumps its own epoch from sequence 0 (KIP-360); the old one is fenced', async () => {
    const p = await newProducer();
    const before = await highWatermark();
    expect((await sendBinary(await batch(p, 0, ['e0']))).status).toBe(200);
    const bumped = { ...p, producerEpoch: p.producerEpoch + 1 };
    expect((await sendBinary(await batch(bumped, 0, ['e1']))).status).toBe(200);
    expectCode(await sendBinary(await batch(p, 1, ['old'])), 409, 'INVALID_PRODUCER_EPOCH');
    expect(await highWatermark()).toBe(before + 2);
  });
});

describe('bad input writes nothing', () => {
  test('forged ids, epochs from the future or fenced, bad sequences', async () => {
    const p = await newProducer();
    const named = await newProducer('fence-me');
    await newProducer('fence-me'); // epoch + 1: the first instance is fenced.
    const before = await highWatermark();
    const forged = { producerId: p.producerId + 1_000_000, producerEpoch: 0 };
    expectCode(await sendBinary(await batch(forged, 0, ['f'])), 409, 'UNKNOWN_PRODUCER_ID');
    // A named producer's epoch comes from init-producer only: one above it was never issued.
    const futureNamed = { ...named, producerEpoch: named.producerEpoch + 5 };
    expectCode(await sendBinary(await batch(futureNamed, 0, ['f'])), 409, 'UNKNOWN_PRODUCER_ID');
    // An anonymous producer may bump its own epoch (KIP-360), but only from sequence 0.
    const bumped = { ...p, producerEpoch: 5 };
    expectCode(await sendBinary(await batch(bumped, 3, ['f'])), 409, 'UNKNOWN_PRODUCER_ID');
    expectCode(await sendBinary(await batch(named, 0, ['f'])), 409, 'INVALID_PRODUCER_EPOCH');
    // No state on this partition yet and a sequence other than 0: unknown, re-initialise.
    expectCode(await sendBinary(await batch(p, 5, ['f'])), 409, 'UNKNOWN_PRODUCER_ID');
    // A negative (wrapped int32) sequence or epoch in the header is no idempotent batch.
    expectCode(await sendBinary(await batch(p, -2, ['f'])), 400, 'INVALID_RECORD');
    const negativeEpoch = { ...p, producerEpoch: -3 };
    expectCode(await sendBinary(await batch(negativeEpoch, 0, ['f'])), 400, 'INVALID_RECORD');
    const huge = { producerId: 2 ** 60, producerEpoch: 0 };
    expectCode(await sendBinary(await batch(huge, 0, ['f'])), 409, 'UNKNOWN_PRODUCER_ID');
    const badJson = (producer: unknown) =>
      http.post(`${path}?acks=1`, { records: [{ value: 'f' }], producer });
    const id = p.producerId;
    expectCode(await badJson({ id, epoch: 0, sequence: -1 }), 400, 'INVALID_REQUEST');
    expectCode(await badJson({ id, epoch: 0, sequence: 2 ** 31 }), 400, 'INVALID_REQUEST');
    expectCode(await badJson({ id: -1, epoch: 0, sequence: 0 }), 400, 'INVALID_REQUEST');
    expectCode(await badJson({ id, epoch: 0, sequence: 0, extra: 1 }), 400, 'INVALID_REQUEST');
    // Batches of one produce must follow on one another, under one id and epoch.
    expectCode(await sendBinary(await batches(p, [0, 5], 1)), 400, 'INVALID_RECORD');
    expectCode(await sendBinary(await batches(p, [0, 1], 1, named)), 400, 'INVALID_RECORD');
    const plainAfter = await encodeBatches([
      { ...(await batchInput(p, 0, 1)) },
      { ...(await batchInput(p, 1, 1)), producerId: -1n, producerEpoch: -1, baseSequence: -1 },
    ]);
    expectCode(await sendBinary(plainAfter), 400, 'INVALID_RECORD');
    expect(await highWatermark()).toBe(before);
  });
});

describe('the state survives restarts', () => {
  test('a retry after a clean restart and after a SIGKILL is deduplicated', async () => {
    const p = await newProducer();
    const first = await batch(p, 0, ['r1', 'r2']);
    const original = (await sendBinary(first)).json();
    const second = await batch(p, 2, ['r3']);
    const secondAnswer = (await sendBinary(second)).json();
    await http.close();
    expect(await broker.stop()).toBe(0);
    // A clean stop leaves a snapshot of the state, so the restart replays nothing.
    const file = join(broker.dataDir, 'partitions', `${topic}-0`, 'producer-state.json');
    const snapshot = JSON.parse(await readFile(file, 'utf8'));
    expect(snapshot.producers.map((e: { producerId: number }) => e.producerId)).toContain(
      p.producerId,
    );
    broker = await BrokerProcess.start({ dataDir: broker.dataDir, port: broker.port });
    http = new H2c(broker.url);
    expect((await sendBinary(first)).json()).toEqual({ ...original, duplicate: true });
    await http.close();
    await broker.kill();
    broker = await BrokerProcess.start({ dataDir: broker.dataDir, port: broker.port });
    http = new H2c(broker.url);
    expect((await sendBinary(second)).json()).toEqual({ ...secondAnswer, duplicate: true });
    const third = (await sendBinary(await batch(p, 3, ['r4']))).json();
    expect(third.baseOffset).toBe(secondAnswer.lastOffset + 1);
  });
});
