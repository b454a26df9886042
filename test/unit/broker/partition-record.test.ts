// Goal: a node acts on a partition record as actionableRecord allows (issue 7): a fenced node
// (a restarted incarnation before the controller unfenced it) does not lead, even where the
// record still names it; an alive node, and a node in controlled shutdown, lead as named.
// Method: the pure function on hand-made records.
import { expect, test } from 'vitest';
import { actionableRecord } from '../../../src/broker/partition-record.ts';

const record = { replicas: [2, 3], leader: 2, leaderEpoch: 4, isr: [2, 3], partitionEpoch: 9 };

test('issue 7: a fenced node does not lead a record that names it', () => {
  const fenced = { status: 'fenced' as const, shuttingDown: false };
  expect(actionableRecord(record, 2, fenced)).toEqual({ ...record, leader: null });
  expect(actionableRecord(record, 2, undefined)).toEqual({ ...record, leader: null });
});

test('an alive node, or one in controlled shutdown, takes the record as it is', () => {
  expect(actionableRecord(record, 2, { status: 'alive', shuttingDown: false })).toBe(record);
  expect(actionableRecord(record, 2, { status: 'fenced', shuttingDown: true })).toBe(record);
  // Another node's leadership is not this node's to mask.
  expect(actionableRecord(record, 3, { status: 'fenced', shuttingDown: false })).toBe(record);
});
