// Goal: the in-memory log keeps its index arithmetic, conflict truncation, membership history and
// the durable watermark right, including the append/advance ABA race of etcd's
// async_storage_writes_append_aba_race (R43). Method: direct calls on RaftLog.
import { describe, expect, test } from 'vitest';
import { RaftLog } from '../../../src/raft/core/raft-log.ts';
import { encodeConfigChange } from '../../../src/raft/index.ts';
import type { Entry } from '../../../src/raft/index.ts';

const membership = { voters: [1, 2, 3], observers: [] };
const entry = (index: number, term: number): Entry => ({
  index,
  term,
  kind: 'command',
  data: new Uint8Array([index]),
});

function logOf(terms: number[]): RaftLog {
  return new RaftLog(
    { index: 0, term: 0, membership },
    null,
    terms.map((t, i) => entry(i + 1, t)),
  );
}

describe('RaftLog', () => {
  test('appendFromLeader skips matching entries and truncates at the first conflict', () => {
    const log = logOf([1, 1, 2, 2]);
    expect(log.appendFromLeader([entry(2, 1), entry(3, 2)])).toBeNull();
    expect(log.lastIndex).toBe(4);
    expect(log.appendFromLeader([entry(3, 3)])).toBe(3);
    expect([1, 2, 3].map((i) => log.termAt(i))).toEqual([1, 1, 3]);
    expect(log.lastIndex).toBe(3);
    log.checkInvariants();
  });

  test('R43 a Ready advanced after its entries were overwritten does not mark them durable', () => {
    const log = logOf([1]);
    log.append(entry(2, 2));
    const handed = log.takeUnstable();
    expect(handed.map((e) => e.index)).toEqual([2]);
    log.appendFromLeader([entry(2, 3)]); // A new leader replaces index 2 before the write ends.
    log.markStable(handed);
    expect(log.stableIndex).toBe(1);
    expect(log.takeUnstable().map((e) => [e.index, e.term])).toEqual([[2, 3]]);
  });

  test('fast back-off helpers find the run of a term', () => {
    const log = logOf([1, 1, 4, 4, 4, 5]);
    expect(log.firstIndexOfTerm(5, 4)).toBe(3);
    expect(log.lastIndexOfTerm(4)).toBe(5);
    expect(log.lastIndexOfTerm(2)).toBeNull();
  });

  test('membership follows config entries, survives compaction and reverts on truncation', () => {
    const log = logOf([1]);
    const config: Entry = {
      index: 2,
      term: 1,
      kind: 'config',
      data: encodeConfigChange({ type: 'add-observer', nodeId: 4 }),
    };
    log.append(config);
    log.append(entry(3, 1));
    expect(log.membership).toEqual({ voters: [1, 2, 3], observers: [4] });
    log.truncateFrom(2);
    expect(log.membership).toEqual(membership);
    log.append(config);
    log.append(entry(3, 1));
    log.markStable(log.takeUnstable());
    const snapshot = log.compact(3, new Uint8Array());
    expect(snapshot.meta).toEqual({
      index: 3,
      term: 1,
      membership: { voters: [1, 2, 3], observers: [4] },
    });
    expect(log.firstIndex).toBe(4);
    expect(log.termAt(3)).toBe(1);
    expect(log.termAt(2)).toBeNull();
    log.checkInvariants();
  });

  test('a config entry that does not apply throws and leaves the log as it was', () => {
    const log = logOf([1]);
    const add: Entry = {
      index: 2,
      term: 1,
      kind: 'config',
      data: encodeConfigChange({ type: 'add-observer', nodeId: 3 }),
    };
    expect(() => log.append(add)).toThrow('node 3 is already a member');
    expect(log.lastIndex).toBe(1);
    expect(log.membership).toEqual(membership);
    log.append(entry(2, 1));
    log.checkInvariants();
  });
});
