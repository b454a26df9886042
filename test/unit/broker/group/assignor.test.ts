// Goal: the assignors give every subscribed partition exactly one member; range is Kafka's
// RangeAssignor; uniform is balanced and sticky. Method: small hand-made groups.
import { describe, expect, test } from 'vitest';
import {
  assign,
  partitionKey,
  type AssignorMember,
  type TargetAssignment,
} from '../../../../src/broker/group/index.ts';

const counts: Record<string, number> = { a: 3, b: 4, c: 7 };
const count = (topic: string): number | null => counts[topic] ?? null;

function member(memberId: string, topics: string[], previous: string[] = []): AssignorMember {
  return { memberId, topics: new Set(topics), previous: new Set(previous) };
}

function sorted(target: TargetAssignment, memberId: string): string[] {
  return [...(target.get(memberId) ?? [])].sort();
}

function everyPartitionOnce(target: TargetAssignment, topics: string[]): void {
  const all = [...target.values()].flatMap((set) => [...set]);
  expect(new Set(all).size).toBe(all.length);
  const expected = topics.flatMap((t) =>
    Array.from({ length: count(t) ?? 0 }, (_, p) => `${t}:${p}`),
  );
  expect(all.sort()).toEqual(expected.sort());
}

describe('range', () => {
  test('consecutive ranges per topic, the first members one more', () => {
    const target = assign('range', [member('m2', ['c']), member('m1', ['c'])], count);
    expect(sorted(target, 'm1')).toEqual(['c:0', 'c:1', 'c:2', 'c:3']);
    expect(sorted(target, 'm2')).toEqual(['c:4', 'c:5', 'c:6']);
  });

  test('only subscribers of a topic share it', () => {
    const target = assign('range', [member('m1', ['a', 'b']), member('m2', ['b'])], count);
    expect(sorted(target, 'm1')).toEqual(['a:0', 'a:1', 'a:2', 'b:0', 'b:1']);
    expect(sorted(target, 'm2')).toEqual(['b:2', 'b:3']);
    everyPartitionOnce(target, ['a', 'b']);
  });
});

describe('uniform', () => {
  test('balanced: counts differ by at most one', () => {
    const members = ['m1', 'm2', 'm3'].map((id) => member(id, ['a', 'b', 'c']));
    const target = assign('uniform', members, count);
    const sizes = [...target.values()].map((s) => s.size);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    everyPartitionOnce(target, ['a', 'b', 'c']);
  });

  test('sticky: a new member takes only what balance needs', () => {
    const first = assign('uniform', [member('m1', ['c']), member('m2', ['c'])], count);
    const next = assign(
      'uniform',
      [
        member('m1', ['c'], [...(first.get('m1') ?? [])]),
        member('m2', ['c'], [...(first.get('m2') ?? [])]),
        member('m3', ['c']),
      ],
      count,
    );
    let moved = 0;
    for (const id of ['m1', 'm2']) {
      for (const key of first.get(id) ?? []) if (!(next.get(id)?.has(key) ?? false)) moved += 1;
    }
    expect(next.get('m3')?.size).toBe(2);
    expect(moved).toBe(2); // 7 partitions: 4+3 → 3+2+2 moves exactly two.
    everyPartitionOnce(next, ['c']);
  });

  test('a leaving member spreads only its own partitions', () => {
    const members = ['m1', 'm2', 'm3'].map((id) => member(id, ['c']));
    const first = assign('uniform', members, count);
    const next = assign(
      'uniform',
      ['m1', 'm2'].map((id) => member(id, ['c'], [...(first.get(id) ?? [])])),
      count,
    );
    for (const id of ['m1', 'm2']) {
      for (const key of first.get(id) ?? []) expect(next.get(id)?.has(key)).toBe(true);
    }
    everyPartitionOnce(next, ['c']);
  });

  test('mixed subscriptions: no partition could move to an eligible member with two fewer', () => {
    const target = assign(
      'uniform',
      [member('m1', ['a']), member('m2', ['a', 'c']), member('m3', ['c'])],
      count,
    );
    everyPartitionOnce(target, ['a', 'c']);
    const topicsOf: Record<string, string[]> = { m1: ['a'], m2: ['a', 'c'], m3: ['c'] };
    for (const [from, owned] of target) {
      for (const key of owned) {
        for (const [to, topics] of Object.entries(topicsOf)) {
          if (!topics.includes(key.split(':')[0]!)) continue;
          expect(owned.size, `${key}: ${from} → ${to}`).toBeLessThanOrEqual(
            (target.get(to)?.size ?? 0) + 1,
          );
        }
      }
    }
    // 10 partitions, m1 only on a (3): a:0-2 to m1 gives 3, 7 of c split 4/3 or so.
    expect(target.get('m1')?.has(partitionKey('a', 0))).toBe(true);
  });
});
