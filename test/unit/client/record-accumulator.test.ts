// Goal: records gather into batches of at most batchSizeBytes per partition, a batch is sent
// when full, lingered or flushed, one request per partition at a time, and a retried batch
// goes back in front of later ones; with idempotence, ready batches go together stamped with
// consecutive sequences, a retried batch goes alone, a request beside one in flight goes only
// when full, and idlePartitionsMax bounds the queues.
// Method: the pure accumulator with explicit nowMs.
import { describe, expect, test } from 'vitest';
import {
  RecordAccumulator,
  recordSizeBytes,
  type PendingRecord,
} from '../../../src/api/client/record-accumulator.ts';

function pending(value: string): PendingRecord {
  const record = { key: null, value: Buffer.from(value), headers: [], timestampMs: 0 };
  return {
    record,
    sizeBytes: recordSizeBytes(record),
    resolve: () => {},
    reject: () => {},
    seq: 1,
  };
}

const value100 = 'x'.repeat(100);
const always = () => true;

describe('RecordAccumulator', () => {
  test('a batch closes when the next record would pass batchSizeBytes', () => {
    const acc = new RecordAccumulator({ batchSizeBytes: 1_000, lingerMs: 5 });
    const perRecord = pending(value100).sizeBytes;
    const fit = Math.floor((1_000 - 61) / perRecord);
    let closed = 0;
    for (let i = 0; i < fit * 3; i += 1)
      if (acc.append('t', 0, pending(value100), 0) === 'closed') closed += 1;
    expect(closed).toBe(2);
    const requests = acc.drain(0, false, 1_000_000, always);
    expect(requests).toHaveLength(1);
    // Two closed batches go; the third is still open and has not lingered.
    expect(requests[0]?.map((b) => b.records.length)).toEqual([fit, fit]);
    for (const batch of requests[0] ?? []) expect(batch.sizeBytes).toBeLessThanOrEqual(1_000);
  });

  test('abortOnNewBatch closes the full batch instead of starting one', () => {
    const acc = new RecordAccumulator({ batchSizeBytes: 200, lingerMs: 60_000 });
    expect(acc.append('t', 0, pending(value100), 0, true)).toBe('appended'); // A first batch.
    expect(acc.append('t', 0, pending(value100), 0, true)).toBe('aborted');
    expect(acc.recordCount).toBe(1);
    expect(acc.drain(0, false, 1 << 20, always)).toHaveLength(1); // Closed: ready at once.
    expect(acc.append('t', 0, pending(value100), 0, true)).toBe('appended');
  });

  test('an open batch is sent after lingerMs, or at once when flushing', () => {
    const acc = new RecordAccumulator({ batchSizeBytes: 16_384, lingerMs: 5 });
    acc.append('t', 0, pending('a'), 100);
    expect(acc.drain(104, false, 1 << 20, always)).toHaveLength(0);
    expect(acc.nextReadyAtMs(100)).toBe(105);
    expect(acc.drain(105, false, 1 << 20, always)).toHaveLength(1);
    acc.append('t', 1, pending('b'), 200);
    expect(acc.drain(200, true, 1 << 20, always)).toHaveLength(1);
  });

  test('one request per partition in flight; a retry goes first and keeps order', () => {
    const acc = new RecordAccumulator({ batchSizeBytes: 200, lingerMs: 0 });
    for (const v of ['1', '2', '3']) acc.append('t', 0, pending(v.repeat(100)), 0);
    const [first] = acc.drain(0, false, 250, always);
    expect(first?.map((b) => b.records[0]?.record.value?.toString()[0])).toEqual(['1']);
    expect(acc.drain(0, false, 250, always)).toHaveLength(0); // In flight.
    acc.complete(first ?? [], 0, first ?? []); // Retriable failure: back in front.
    const [again] = acc.drain(0, false, 250, always);
    expect(again?.[0]?.records[0]?.record.value?.toString()[0]).toBe('1');
    acc.complete(again ?? [], 1, []);
    const [next] = acc.drain(0, false, 250, always);
    expect(next?.[0]?.records[0]?.record.value?.toString()[0]).toBe('2');
    expect(acc.recordCount).toBe(2);
  });

  test('a batch waiting out its backoff is not sent early', () => {
    const acc = new RecordAccumulator({ batchSizeBytes: 1_000, lingerMs: 0 });
    acc.append('t', 0, pending('a'), 0);
    const [request] = acc.drain(0, false, 1 << 20, always);
    for (const batch of request ?? []) batch.retryAtMs = 300;
    acc.complete(request ?? [], 0, request ?? []);
    expect(acc.drain(299, true, 1 << 20, always)).toHaveLength(0);
    expect(acc.nextReadyAtMs(0)).toBe(300);
    expect(acc.drain(300, false, 1 << 20, always)).toHaveLength(1);
  });

  test('a partition whose broker has no room waits', () => {
    const acc = new RecordAccumulator({ batchSizeBytes: 1_000, lingerMs: 0 });
    acc.append('t', 0, pending('a'), 0);
    acc.append('t', 1, pending('b'), 0);
    const requests = acc.drain(0, false, 1 << 20, (_topic, partition) => partition === 1);
    expect(requests.map((r) => r[0]?.partition)).toEqual([1]);
  });

  test('idempotent: ready batches go together, stamped with consecutive sequences', () => {
    const acc = new RecordAccumulator({
      batchSizeBytes: 200, // one 100-byte record a batch
      lingerMs: 0,
      idempotent: true,
      inFlightPerPartitionMax: 5,
    });
    const identity = { producerId: 9, producerEpoch: 0, generation: 0 };
    for (let i = 0; i < 5; i += 1) acc.append('t', 0, pending(value100), 0);
    // Two requests of the partition in flight at once, three batches and two.
    const [first, second] = acc.drain(0, true, 3 * 200, always, identity);
    expect(first?.map((b) => b.baseSequence)).toEqual([0, 1, 2]);
    expect(first?.every((b) => b.producer === identity)).toBe(true);
    expect(second?.map((b) => b.baseSequence)).toEqual([3, 4]);
    // The first request fails: its batches come back and go one per request, stamps kept, so
    // a request never mixes batches that went apart (each was written whole or not at all).
    acc.complete(first ?? [], 0, first ?? []);
    acc.complete(second ?? [], 2, []);
    const retries = acc.drain(0, true, 3 * 200, always, identity);
    expect(retries.map((request) => request.map((b) => b.baseSequence))).toEqual([[0], [1], [2]]);
    for (const request of retries) acc.complete(request, 1, []);
    expect(acc.recordCount).toBe(0);
  });

  test('idempotent: beside a request in flight only a full request goes', () => {
    const acc = new RecordAccumulator({
      batchSizeBytes: 200, // one 100-byte record a batch
      lingerMs: 0,
      idempotent: true,
      inFlightPerPartitionMax: 5,
    });
    const identity = { producerId: 9, producerEpoch: 0, generation: 0 };
    const requestBytesMax = 3 * 200;
    acc.append('t', 0, pending(value100), 0);
    expect(acc.drain(0, false, requestBytesMax, always, identity)).toHaveLength(1);
    // Two closed batches and an open one: lingered, but not a full request beside the one in
    // flight, so they keep gathering (no smaller requests for the same records).
    for (let i = 0; i < 3; i += 1) acc.append('t', 0, pending(value100), 10);
    expect(acc.drain(10, false, requestBytesMax, always, identity)).toEqual([]);
    expect(acc.nextReadyAtMs(10)).toBeNull(); // Woken by the answer or a closing append.
    acc.append('t', 0, pending(value100), 10); // The third batch closes: a full request.
    const [full] = acc.drain(10, false, requestBytesMax, always, identity);
    expect(full?.map((b) => b.baseSequence)).toEqual([1, 2, 3]);
  });

  test('idlePartitionsMax: idle queues dropped; a new queue needs a new identity', () => {
    const acc = new RecordAccumulator({
      batchSizeBytes: 200,
      lingerMs: 0,
      idempotent: true,
      idlePartitionsMax: 2,
    });
    const first = { producerId: 1, producerEpoch: 0, generation: 0 };
    for (const partition of [0, 1]) {
      acc.append('t', partition, pending(value100), 0);
      const [request] = acc.drain(0, false, 1_000, always, first);
      acc.complete(request ?? [], 1, []);
    }
    expect(acc.partitionCount).toBe(2);
    acc.append('t', 2, pending(value100), 0); // the bound: partitions 0 and 1 are dropped
    expect(acc.partitionCount).toBe(1);
    expect(acc.needsNewIdentity(first)).toBe(true);
    expect(acc.drain(0, false, 1_000, always, first)).toEqual([]);
    const second = { producerId: 2, producerEpoch: 0, generation: 1 };
    expect(acc.needsNewIdentity(second)).toBe(false);
    const [request] = acc.drain(0, false, 1_000, always, second);
    expect(request?.map((b) => [b.producer?.producerId, b.baseSequence])).toEqual([[2, 0]]);
  });
});
