// Goal: the ISR arithmetic matches Kafka's semantics: lastCaughtUpTimeMs (a follower caught up
// at its previous fetch is not lagging), maximal ISR, HW gated by min.insync.replicas.
// Method: direct calls on small inputs.
import { describe, expect, test } from 'vitest';
import { toNodeId } from '../../../../src/common/index.ts';
import {
  initialProgress,
  maximalIsr,
  mayJoinIsr,
  nextHighWatermark,
  outOfSyncFollowers,
  updateProgress,
} from '../../../../src/broker/replication/index.ts';

const [A, B, C] = [toNodeId(1), toNodeId(2), toNodeId(3)];

describe('isr', () => {
  test('a fetch at the leader LEO is caught up now; at the previous LEO, as of the previous fetch', () => {
    const start = initialProgress(B, 0);
    const atEnd = updateProgress(start, 10, 10, 50);
    expect(atEnd.lastCaughtUpMs).toBe(50);
    const chasing = updateProgress(atEnd, 10, 15, 80); // Reached the LEO of its previous fetch.
    expect(chasing.lastCaughtUpMs).toBe(50);
    const stillChasing = updateProgress(chasing, 15, 20, 120);
    expect(stillChasing.lastCaughtUpMs).toBe(80);
    const behind = updateProgress(stillChasing, 16, 25, 300); // Did not reach 20.
    expect(behind.lastCaughtUpMs).toBe(80);
    expect(outOfSyncFollowers([A, B], A, new Map([[B, behind]]), 25, 300, 100)).toEqual([B]);
    expect(outOfSyncFollowers([A, B], A, new Map([[B, behind]]), 25, 180, 100)).toEqual([]);
    expect(outOfSyncFollowers([A, B], A, new Map([[B, behind]]), 16, 300, 100)).toEqual([]);
  });

  test('maximal ISR: a pending expansion counts, a pending shrink does not remove', () => {
    const pendingExpand = { leaderId: A, leaderEpoch: 0, partitionEpoch: 0, newIsr: [A, B, C] };
    const pendingShrink = { ...pendingExpand, newIsr: [A] };
    expect(maximalIsr([A, B], pendingExpand)).toEqual([A, B, C]);
    expect(maximalIsr([A, B], pendingShrink)).toEqual([A, B]);
    expect(maximalIsr([A, B], null)).toEqual([A, B]);
  });

  test('HW: min LEO over the maximal ISR, held while a member is unknown or |ISR| < min', () => {
    const progress = new Map([
      [B, updateProgress(initialProgress(B, 0), 7, 9, 1)],
      [C, initialProgress(C, 0)],
    ]);
    const input = {
      current: 3,
      leaderId: A,
      leaderEndOffset: 9,
      maximalIsr: [A, B],
      committedIsrSize: 2,
      minInsyncReplicas: 2,
      progress,
    };
    expect(nextHighWatermark(input)).toBe(7);
    expect(nextHighWatermark({ ...input, maximalIsr: [A, B, C] })).toBe(3);
    expect(nextHighWatermark({ ...input, committedIsrSize: 1 })).toBe(3);
    expect(nextHighWatermark({ ...input, current: 8 })).toBe(8);
  });

  test('rule (d) and recency decide who may join', () => {
    const progress = updateProgress(initialProgress(C, 0), 5, 5, 10);
    expect(mayJoinIsr(progress, 5, 3, 20, 100)).toBe(true);
    expect(mayJoinIsr(progress, 6, 3, 20, 100)).toBe(false);
    expect(mayJoinIsr(progress, 5, 6, 20, 100)).toBe(false);
    expect(mayJoinIsr(progress, 5, 3, 200, 100)).toBe(false);
    expect(mayJoinIsr(initialProgress(C, 0), 0, 0, 1, 100)).toBe(false);
  });
});
