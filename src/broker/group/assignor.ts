// Server-side assignors (KIP-848): given the members' resolved subscriptions, the subscribed
// topics' partition counts and the previous target, each returns the new target assignment.
// `uniform` is balanced (no partition can move to an eligible member holding two fewer) and
// sticky (a member keeps what it had while balance allows); `range` is Kafka's RangeAssignor,
// per topic in consecutive ranges. Pure and deterministic: the same input gives the same output.
import { assert } from '../../common/index.ts';
import { partitionKey, topicOfKey } from './topic-partitions.ts';

export type AssignorName = 'uniform' | 'range';
export const assignorNames: readonly AssignorName[] = ['uniform', 'range'];

export interface AssignorMember {
  readonly memberId: string;
  /** Resolved topic names (a regex already matched against the topics). */
  readonly topics: ReadonlySet<string>;
  /** Its previous target: partition keys (topic-partitions.ts). */
  readonly previous: ReadonlySet<string>;
}

/** memberId → partition keys. Every subscribed existing partition appears exactly once. */
export type TargetAssignment = Map<string, Set<string>>;

export function assign(
  name: AssignorName,
  members: readonly AssignorMember[],
  partitionCount: (topic: string) => number | null,
): TargetAssignment {
  return name === 'range'
    ? rangeAssign(members, partitionCount)
    : uniformAssign(members, partitionCount);
}

/** Kafka's RangeAssignor: per topic, members sorted by id, the first `n mod k` get one more. */
export function rangeAssign(
  members: readonly AssignorMember[],
  partitionCount: (topic: string) => number | null,
): TargetAssignment {
  const target: TargetAssignment = new Map(members.map((m) => [m.memberId, new Set<string>()]));
  const sorted = [...members].sort((a, b) => compare(a.memberId, b.memberId));
  for (const topic of subscribedTopics(members)) {
    const count = partitionCount(topic) ?? 0;
    const takers = sorted.filter((m) => m.topics.has(topic));
    if (count === 0 || takers.length === 0) continue;
    const base = Math.floor(count / takers.length);
    const extra = count % takers.length;
    let next = 0;
    takers.forEach((member, index) => {
      const size = base + (index < extra ? 1 : 0);
      const owned = target.get(member.memberId) as Set<string>;
      for (let i = 0; i < size; i += 1) owned.add(partitionKey(topic, next + i));
      next += size;
    });
    assert(next === count, `range gave ${next} of ${count} partitions of ${topic}`);
  }
  return target;
}

/** Balanced and sticky: keep, trim to quota, fill the least loaded, then even out. */
export function uniformAssign(
  members: readonly AssignorMember[],
  partitionCount: (topic: string) => number | null,
): TargetAssignment {
  const target: TargetAssignment = new Map(members.map((m) => [m.memberId, new Set<string>()]));
  const eligible = eligibleMembers(members, partitionCount);
  const quota = homogeneousQuota(members, eligible.size);
  const taken = new Set<string>();
  for (const member of [...members].sort((a, b) => compare(a.memberId, b.memberId))) {
    const owned = target.get(member.memberId) as Set<string>;
    for (const key of [...member.previous].sort(compare)) {
      if (quota !== null && owned.size >= quota) break;
      if (taken.has(key) || !(eligible.get(key)?.includes(member.memberId) ?? false)) continue;
      owned.add(key);
      taken.add(key);
    }
  }
  // The most constrained partitions first, each to its least loaded eligible member.
  const free = [...eligible.entries()].filter(([key]) => !taken.has(key));
  free.sort((a, b) => a[1].length - b[1].length || compare(a[0], b[0]));
  for (const [key, candidates] of free) {
    const best = leastLoaded(candidates, target);
    if (best !== null) target.get(best)?.add(key);
  }
  evenOut(target, eligible);
  return target;
}

/** With one subscription shared by all, nobody keeps more than ceil(P / M) partitions. */
function homogeneousQuota(members: readonly AssignorMember[], partitions: number): number | null {
  const first = members[0];
  if (first === undefined) return null;
  const same = members.every(
    (m) => m.topics.size === first.topics.size && [...m.topics].every((t) => first.topics.has(t)),
  );
  return same ? Math.ceil(partitions / members.length) : null;
}

/**
 * Moves a partition from A to an eligible B while count(A) > count(B) + 1; the sum of squared
 * counts falls with every move, so it ends. Largest members first, so a move is usually found
 * at the first partition looked at (one pass over everything only when none is left).
 */
function evenOut(target: TargetAssignment, eligible: Map<string, string[]>): void {
  for (;;) {
    const bySize = [...target.entries()].sort((a, b) => b[1].size - a[1].size);
    const smallest = bySize[bySize.length - 1]?.[1].size ?? 0;
    let moved = false;
    for (const [, owned] of bySize) {
      if (owned.size - smallest <= 1) break; // Nobody holds two fewer than this one.
      for (const key of owned) {
        const to = leastLoaded(eligible.get(key) ?? [], target);
        const taker = to === null ? undefined : target.get(to);
        if (taker !== undefined && owned.size - taker.size > 1) {
          owned.delete(key);
          taker.add(key);
          moved = true;
          break;
        }
      }
      if (moved) break;
    }
    if (!moved) return;
  }
}

function leastLoaded(candidates: readonly string[], target: TargetAssignment): string | null {
  let best: string | null = null;
  let bestSize = Infinity;
  for (const memberId of candidates) {
    const size = target.get(memberId)?.size ?? Infinity;
    if (size < bestSize || (size === bestSize && best !== null && compare(memberId, best) < 0)) {
      best = memberId;
      bestSize = size;
    }
  }
  return best;
}

/** Partition key → the ids of the members subscribed to its topic, sorted. */
function eligibleMembers(
  members: readonly AssignorMember[],
  partitionCount: (topic: string) => number | null,
): Map<string, string[]> {
  const eligible = new Map<string, string[]>();
  for (const topic of subscribedTopics(members)) {
    const count = partitionCount(topic) ?? 0;
    const ids = members
      .filter((m) => m.topics.has(topic))
      .map((m) => m.memberId)
      .sort(compare);
    for (let p = 0; p < count; p += 1) eligible.set(partitionKey(topic, p), ids);
  }
  return eligible;
}

function subscribedTopics(members: readonly AssignorMember[]): string[] {
  const topics = new Set<string>();
  for (const member of members) for (const topic of member.topics) topics.add(topic);
  return [...topics].sort(compare);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The topics a target touches (for tests and descriptions). */
export function topicsOf(keys: Iterable<string>): Set<string> {
  const topics = new Set<string>();
  for (const key of keys) topics.add(topicOfKey(key));
  return topics;
}
