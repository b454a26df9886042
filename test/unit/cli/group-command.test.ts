// Goal: `rill group` turns its options into the reset request docs/api.md defines (exactly one
// --to-*), and `describe` prints the state, the members and one row per partition with lag in
// records and seconds, '-' where unknown. Method: the command's pure helpers on fixed inputs.
import { describe, expect, test } from 'vitest';
import { formatDescription, resetTarget, table } from '../../../src/cli/group-command.ts';

const base = { topic: 't' };

describe('rill group', () => {
  test('reset-offsets takes exactly one --to-*', () => {
    expect(resetTarget({ ...base, toEarliest: true })).toBe('earliest');
    expect(resetTarget({ ...base, toLatest: true })).toBe('latest');
    expect(resetTarget({ ...base, toOffset: 7 })).toEqual({ offset: 7 });
    expect(resetTarget({ ...base, toDatetime: 1_700_000_000_000 })).toEqual({
      timestamp: 1_700_000_000_000,
    });
    expect(() => resetTarget(base)).toThrow(/give one of/);
    expect(() => resetTarget({ ...base, toEarliest: true, toOffset: 3 })).toThrow(/give one of/);
  });

  test('describe prints members and per-partition owner, committed, HW, lag', () => {
    const text = formatDescription({
      group: 'billing',
      state: 'stable',
      protocol: 'consumer',
      groupEpoch: 4,
      assignor: 'uniform',
      members: [
        {
          memberId: 'm-1',
          instanceId: null,
          memberEpoch: 3,
          clientHost: '127.0.0.1',
          subscribedTopics: ['orders'],
          subscribedTopicRegex: null,
          assignment: [{ topic: 'orders', partitions: [0, 1] }],
        },
      ],
      offsets: [
        {
          topic: 'orders',
          partition: 0,
          owner: 'm-1',
          committedOffset: 120,
          highWatermark: 130,
          lag: 10,
          lagSeconds: 4.25,
        },
        {
          topic: 'orders',
          partition: 1,
          owner: 'm-1',
          committedOffset: null,
          highWatermark: 5,
          lag: null,
          lagSeconds: null,
        },
      ],
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe('group billing: state stable, epoch 4, assignor uniform, 1 member(s)');
    expect(text).toContain('m-1     -         3      127.0.0.1  orders      orders:0,1');
    expect(lines.at(-2)?.split(/\s+/)).toEqual(['orders', '0', 'm-1', '120', '130', '10', '4.3']);
    expect(lines.at(-1)?.split(/\s+/)).toEqual(['orders', '1', 'm-1', '-', '5', '-', '-']);
  });

  test('table pads columns to the widest cell', () => {
    expect(table(['A', 'BB'], [['xyz', '1']])).toBe('A    BB\nxyz  1');
  });
});
