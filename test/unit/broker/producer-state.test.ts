// Goal: the producer-state table's edge cases one by one — the sequence wrap at 2^31-1, a
// producer unknown on the partition, truncation by a follower, expiry after
// producer.id.expiration.ms, the producersMax bound (the longest idle evicted), and snapshots.
// Method: direct calls on the pure table with explicit times.
import { describe, expect, test } from 'vitest';
import {
  ProducerStateTable,
  addSequence,
  sequenceMax,
  type BatchIdentity,
} from '../../../src/broker/producer-state.ts';

const id = (producerId: number, baseSequence: number, recordCount = 1, producerEpoch = 0) =>
  ({ producerId, producerEpoch, baseSequence, recordCount }) satisfies BatchIdentity;

describe('producer state table', () => {
  test('sequences wrap from 2^31-1 to 0, as Kafka increments them', () => {
    expect(addSequence(sequenceMax, 1)).toBe(0);
    expect(addSequence(sequenceMax - 1, 3)).toBe(1);
    expect(addSequence(5, 3)).toBe(8);
    const table = new ProducerStateTable();
    table.record(id(1, sequenceMax - 1, 3), 0, 2, 0); // sequences 2^31-2, 2^31-1, 0
    expect(table.check(id(1, 1), 0)).toEqual({ kind: 'append' });
    expect(table.check(id(1, sequenceMax - 1, 3), 0)).toEqual({
      kind: 'duplicate',
      baseOffset: 0,
      lastOffset: 2,
    });
    expect(table.check(id(1, 0), 0)).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
  });

  test('an unknown producer must start at sequence 0', () => {
    const table = new ProducerStateTable();
    expect(table.check(id(4, 0), 0)).toEqual({ kind: 'append' });
    expect(table.check(id(4, 7), 0)).toMatchObject({ code: 'UNKNOWN_PRODUCER_ID' });
  });

  test('a new epoch restarts at 0 and fences the old one', () => {
    const table = new ProducerStateTable();
    table.record(id(1, 0, 2), 0, 1, 0);
    expect(table.check(id(1, 5, 1, 1), 0)).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(table.check(id(1, 0, 1, 1), 0)).toEqual({ kind: 'append' });
    table.record(id(1, 0, 1, 1), 2, 2, 0);
    expect(table.check(id(1, 2, 1, 0), 0)).toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
  });

  test('only the last five batches are remembered', () => {
    const table = new ProducerStateTable();
    for (let i = 0; i < 7; i += 1) table.record(id(1, i), i, i, 0);
    expect(table.entry(1)?.batches.map((b) => b.firstSequence)).toEqual([2, 3, 4, 5, 6]);
    expect(table.check(id(1, 2), 0).kind).toBe('duplicate');
    expect(table.check(id(1, 1), 0)).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
  });

  test('truncation drops the batches at or above the offset', () => {
    const table = new ProducerStateTable();
    table.record(id(1, 0, 2), 0, 1, 0);
    table.record(id(1, 2, 2), 2, 3, 0);
    table.record(id(2, 0), 4, 4, 0);
    table.truncateTo(2);
    expect(table.entry(1)?.batches).toHaveLength(1);
    expect(table.entry(2)).toBeUndefined();
    expect(table.check(id(1, 2, 2), 0)).toEqual({ kind: 'append' });
  });

  test('idle producers expire after expirationMs; lookups see it at once', () => {
    const table = new ProducerStateTable({ producersMax: 10, expirationMs: 1000 });
    table.record(id(1, 0), 0, 0, 0);
    table.record(id(2, 0), 1, 1, 500);
    expect(table.check(id(1, 1), 999)).toEqual({ kind: 'append' });
    expect(table.check(id(1, 1), 1000)).toMatchObject({ code: 'UNKNOWN_PRODUCER_ID' });
    expect(table.expire(1499)).toBe(0);
    expect(table.expire(1500)).toBe(1);
    expect(table.size).toBe(0);
  });

  test('producersMax evicts the producer idle longest', () => {
    const table = new ProducerStateTable({ producersMax: 2, expirationMs: 10_000 });
    table.record(id(1, 0), 0, 0, 0);
    table.record(id(2, 0), 1, 1, 1);
    table.record(id(1, 1), 2, 2, 2); // 1 is now the most recent
    table.record(id(3, 0), 3, 3, 3); // evicts 2
    expect(table.size).toBe(2);
    expect(table.entry(2)).toBeUndefined();
    expect(table.entry(1)).toBeDefined();
    table.checkInvariants();
  });

  test('a snapshot keeps only what lies below its end offset', () => {
    const table = new ProducerStateTable();
    table.record(id(1, 0), 0, 0, 0);
    table.record(id(1, 1), 1, 1, 0);
    const snapshot = table.snapshot(1);
    expect(snapshot.endOffset).toBe(1);
    expect(snapshot.producers[0]?.batches).toHaveLength(1);
    const restored = new ProducerStateTable();
    restored.restore(snapshot);
    expect(restored.check(id(1, 1), 0)).toEqual({ kind: 'append' });
    expect(table.check(id(1, 1), 0).kind).toBe('duplicate');
  });
});
