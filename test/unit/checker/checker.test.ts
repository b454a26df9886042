// Goal: the history checker (issue 10) finds each kind of anomaly in a small hand-made history,
// names the operations that show it, and finds none in a correct one. Method: histories built
// by hand with History, one anomaly each.
import { describe, expect, test } from 'vitest';
import {
  checkAtLeastOnce,
  checkHistory,
  formatAnomalies,
  type Delivery,
} from '../../support/checker/checker.ts';
import { History, type ReadRecord } from '../../support/checker/history.ts';

const p = 't/0';

function produce(h: History, value: string, at: number, offset: number | null, acks = 'all') {
  const op = h.produce('producer', p, value, acks === 'all' ? 'all' : '1', at);
  if (offset !== null) h.complete(op, { kind: 'ok', offset, leaderEpoch: 1 }, at + 1);
  return op;
}

function fetch(h: History, from: number, at: number, hw: number, values: string[], proc = 'c') {
  const op = h.fetch(proc, p, from, at);
  const records: ReadRecord[] = values.map((value, i) => ({ offset: from + i, value }));
  h.complete(op, { kind: 'ok', records, highWatermark: hw, leaderEpoch: 1 }, at + 1);
  return op;
}

function kinds(h: History, options = {}): string[] {
  return checkHistory(h, options).anomalies.map((a) => a.kind);
}

describe('history checker', () => {
  test('a correct history has no anomaly', () => {
    const h = new History();
    produce(h, 'a', 0, 0);
    produce(h, 'b', 10, 1);
    fetch(h, 0, 20, 2, ['a', 'b']);
    fetch(h, 2, 30, 2, []);
    const result = checkHistory(h);
    expect(formatAnomalies(result.anomalies)).toBe('');
    expect(result.stats).toMatchObject({ ackedAll: 2, fetches: 2, recordsRead: 2, undecided: 0 });
  });

  test('lost write: reads pass the acked offset with another value', () => {
    const h = new History();
    const acked = produce(h, 'a', 0, 0);
    produce(h, 'b', 10, 1);
    const read = fetch(h, 0, 20, 2, ['x', 'b']);
    const [anomaly] = checkHistory(h).anomalies.filter((a) => a.kind === 'lost-write');
    expect(anomaly?.ops).toEqual([acked, read]);
  });

  test('lost writes are excused when loss is allowed, changed records too', () => {
    const h = new History();
    produce(h, 'a', 0, 0);
    fetch(h, 0, 20, 1, ['a']);
    fetch(h, 0, 30, 1, ['z']);
    expect(kinds(h)).toContain('changed-record');
    expect(kinds(h, { lossAllowed: true }).filter((k) => k !== 'phantom')).toEqual([]);
  });

  test('duplicate: one value at two offsets', () => {
    const h = new History();
    produce(h, 'a', 0, 0);
    fetch(h, 0, 20, 2, ['a', 'a']);
    expect(kinds(h)).toEqual(['duplicate']);
    expect(kinds(h, { duplicatesAllowed: true })).toEqual([]);
  });

  test('read-your-writes: a later read answers a HW at or below the acked offset', () => {
    const h = new History();
    produce(h, 'a', 0, 0);
    produce(h, 'b', 5, 1);
    fetch(h, 0, 20, 1, ['a']);
    expect(kinds(h)).toContain('read-your-writes');
  });

  test('a read from an older leader epoch is not held to read-your-writes', () => {
    const h = new History();
    produce(h, 'a', 0, 0);
    const op = h.fetch('c', p, 0, 20);
    h.complete(op, { kind: 'ok', records: [], highWatermark: 0, leaderEpoch: 0 }, 21);
    expect(kinds(h)).toEqual([]);
  });

  test('monotonic reads: one consumer sees the HW go back', () => {
    const h = new History();
    produce(h, 'a', 0, 0);
    produce(h, 'b', 1, 1);
    fetch(h, 0, 20, 2, ['a', 'b']);
    fetch(h, 2, 30, 1, []);
    expect(kinds(h)).toContain('monotonic-reads');
  });

  test('read above HW, gap, phantom', () => {
    const h = new History();
    produce(h, 'a', 0, 0);
    const op = h.fetch('c', p, 0, 20);
    const records = [
      { offset: 0, value: 'a' },
      { offset: 2, value: 'ghost' },
    ];
    h.complete(op, { kind: 'ok', records, highWatermark: 2 }, 21);
    expect(new Set(kinds(h))).toEqual(new Set(['read-above-hw', 'gap', 'phantom']));
    expect(kinds(h, { gapsAllowed: true })).not.toContain('gap');
  });

  test('a refused write that shows up is a phantom', () => {
    const h = new History();
    const op = h.produce('producer', p, 'r', 'all', 0);
    h.complete(op, { kind: 'refused', code: 'NOT_ENOUGH_REPLICAS' }, 1);
    fetch(h, 0, 10, 1, ['r']);
    expect(kinds(h)).toEqual(['phantom']);
  });

  test('order: a send begun after an ack lands below it', () => {
    const h = new History();
    produce(h, 'a', 0, 1);
    produce(h, 'b', 10, 0);
    fetch(h, 0, 20, 2, ['b', 'a']);
    expect(kinds(h)).toEqual(['order']);
  });

  test('an acked write no read reached is undecided, not lost', () => {
    const h = new History();
    produce(h, 'a', 0, 0);
    expect(checkHistory(h).stats.undecided).toBe(1);
    expect(kinds(h)).toEqual([]);
  });

  describe('at-least-once through a group', () => {
    const delivery = (offset: number, value: string): Delivery => ({
      member: 'm',
      partition: p,
      offset,
      value,
      atMs: 50,
    });
    const history = (): History => {
      const h = new History();
      produce(h, 'a', 0, 0);
      produce(h, 'b', 10, 1);
      produce(h, 'c', 20, 2);
      fetch(h, 0, 40, 3, ['a', 'b', 'c'], 'final');
      return h;
    };

    test('every acked write delivered, as the final read has it: no anomaly', () => {
      const deliveries = [delivery(0, 'a'), delivery(1, 'b'), delivery(1, 'b'), delivery(2, 'c')];
      expect(checkAtLeastOnce(history(), deliveries).anomalies).toEqual([]);
    });

    test('a commit ahead of processing skips a record: not-delivered names its produce', () => {
      const { anomalies } = checkAtLeastOnce(history(), [delivery(0, 'a'), delivery(2, 'c')]);
      expect(anomalies.map((a) => a.kind)).toEqual(['not-delivered']);
      expect(anomalies[0]?.message).toContain('acked at 1');
      expect(anomalies[0]?.ops.map((op) => op.index)).toEqual([1]);
    });

    test('a delivered record the final read does not hold: delivered-wrong', () => {
      const deliveries = [delivery(0, 'a'), delivery(1, 'x'), delivery(1, 'b'), delivery(2, 'c')];
      const { anomalies } = checkAtLeastOnce(history(), deliveries);
      expect(anomalies.map((a) => a.kind)).toEqual(['delivered-wrong']);
      expect(anomalies[0]?.message).toContain('"x" at 1');
    });
  });
});
