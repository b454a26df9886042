// Goal: the producer-state table's edge cases one by one — the sequence wrap at 2^31-1, a
// producer unknown on the partition, truncation by a follower, expiry after
// producer.id.expiration.ms, the producersMax bound (the longest idle evicted), snapshots, and
// runs (batches back to back joined, a retry of any part of one answered, runRecordsMax), and
// isAhead (a produce that overtook an earlier one of its producer).
// Method: direct calls on the pure table with explicit times.
import { describe, expect, test } from 'vitest';
import {
  ProducerStateTable,
  addSequence,
  runRecordsMax,
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
    // Sequence 0 is the wrapped batch's last record: a retry of it answers its offset.
    expect(table.check(id(1, 0), 0)).toEqual({ kind: 'duplicate', baseOffset: 2, lastOffset: 2 });
    expect(table.check(id(1, 0, 2), 0)).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    table.record(id(1, 1, 2), 3, 4, 0); // joins the run across the wrap
    expect(table.entry(1)?.batches).toHaveLength(1);
    expect(table.check(id(1, sequenceMax, 3), 0)).toEqual({
      kind: 'duplicate',
      baseOffset: 1,
      lastOffset: 3,
    });
    table.checkInvariants();
  });

  test('an unknown producer must start at sequence 0', () => {
    const table = new ProducerStateTable();
    expect(table.check(id(4, 0), 0)).toEqual({ kind: 'append' });
    expect(table.check(id(4, 7), 0)).toMatchObject({ code: 'UNKNOWN_PRODUCER_ID' });
  });

  test('isAhead: a gap after the last run (or no state and not 0), never a retry or an old epoch', () => {
    const table = new ProducerStateTable();
    expect(table.isAhead(id(5, 0), 0)).toBe(false);
    expect(table.isAhead(id(5, 3), 0)).toBe(true); // No state here and not 0: overtook sequence 0.
    table.record(id(5, 0, 3, 1), 0, 2, 0); // epoch 1, sequences 0-2
    expect(table.isAhead(id(5, 3, 1, 1), 0)).toBe(false); // The next one: in turn.
    expect(table.isAhead(id(5, 7, 1, 1), 0)).toBe(true);
    expect(table.isAhead(id(5, 1, 1, 1), 0)).toBe(false); // A retry.
    expect(table.isAhead(id(5, 7, 1, 0), 0)).toBe(false); // An older epoch: fenced, not ahead.
    table.record(id(6, sequenceMax, 1), 3, 3, 0);
    expect(table.isAhead(id(6, 4), 0)).toBe(true); // Ahead across the wrap.
    expect(table.isAhead(id(6, sequenceMax - 3), 0)).toBe(false); // Behind: not ahead.
  });

  test('a new epoch restarts at 0 and fences the old one', () => {
    const table = new ProducerStateTable();
    table.record(id(1, 0, 2), 0, 1, 0);
    expect(table.check(id(1, 5, 1, 1), 0)).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(table.check(id(1, 0, 1, 1), 0)).toEqual({ kind: 'append' });
    table.record(id(1, 0, 1, 1), 2, 2, 0);
    expect(table.check(id(1, 2, 1, 0), 0)).toMatchObject({ code: 'INVALID_PRODUCER_EPOCH' });
  });

  test('only the last five runs are remembered (batches apart in the log)', () => {
    const table = new ProducerStateTable();
    // Another producer's record between each: every batch is a run of its own.
    for (let i = 0; i < 7; i += 1) table.record(id(1, i), 2 * i, 2 * i, 0);
    expect(table.entry(1)?.batches.map((b) => b.firstSequence)).toEqual([2, 3, 4, 5, 6]);
    expect(table.check(id(1, 2), 0)).toEqual({ kind: 'duplicate', baseOffset: 4, lastOffset: 4 });
    expect(table.check(id(1, 1), 0)).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    table.checkInvariants();
  });

  test('batches back to back join one run; a retry of any part answers its offsets', () => {
    const table = new ProducerStateTable();
    // One produce of three batches (sequences 0-9 at offsets 0-9), then one of two batches.
    table.record(id(1, 0, 10), 0, 9, 0);
    table.record(id(1, 10, 3), 10, 12, 0);
    for (let i = 13; i < 40; i += 1) table.record(id(1, i), i, i, 0);
    expect(table.entry(1)?.batches).toEqual([
      { firstSequence: 0, lastSequence: 39, baseOffset: 0, lastOffset: 39 },
    ]);
    // The follower records the same produces batch by batch: the same run.
    const follower = new ProducerStateTable();
    for (let i = 0; i < 40; i += 1) follower.record(id(1, i), i, i, 0);
    expect(follower.entry(1)?.batches).toEqual(table.entry(1)?.batches);
    expect(table.check(id(1, 0, 10), 0)).toEqual({
      kind: 'duplicate',
      baseOffset: 0,
      lastOffset: 9,
    });
    expect(table.check(id(1, 7, 6), 0)).toEqual({
      kind: 'duplicate',
      baseOffset: 7,
      lastOffset: 12,
    });
    // Half old, half new: refused, nothing written (a client never sends this).
    expect(table.check(id(1, 38, 4), 0)).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(table.check(id(1, 40, 4), 0)).toEqual({ kind: 'append' });
  });

  test('a run is cut at runRecordsMax sequences', () => {
    const table = new ProducerStateTable();
    table.record(id(1, 0, runRecordsMax - 1), 0, runRecordsMax - 2, 0);
    table.record(id(1, runRecordsMax - 1, 2), runRecordsMax - 1, runRecordsMax, 0);
    expect(table.entry(1)?.batches.map((b) => b.baseOffset)).toEqual([0, runRecordsMax - 1]);
    table.checkInvariants();
  });

  test('truncation drops the records at or above the offset', () => {
    const table = new ProducerStateTable();
    table.record(id(1, 0, 2), 0, 1, 0);
    table.record(id(1, 2, 2), 2, 3, 0);
    table.record(id(2, 0), 4, 4, 0);
    table.truncateTo(2);
    expect(table.entry(1)?.batches).toEqual([
      { firstSequence: 0, lastSequence: 1, baseOffset: 0, lastOffset: 1 },
    ]);
    expect(table.entry(2)).toBeUndefined();
    expect(table.check(id(1, 2, 2), 0)).toEqual({ kind: 'append' });
    table.checkInvariants();
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
