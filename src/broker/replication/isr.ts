// Pure ISR arithmetic for one partition leader: follower progress (Kafka's lastCaughtUpTimeMs),
// the maximal ISR, the high watermark, and who is out of sync or may join. Invariant: the high
// watermark never decreases and never passes the smallest LEO over the maximal ISR.
import type { NodeId } from '../../common/index.ts';
import type { IsrChangeRequest } from './partition-state.ts';

/** What the leader knows of one follower, learned only from its fetches. */
export interface FollowerProgress {
  readonly id: NodeId;
  /** The follower's LEO as of its last fetch; null until it fetches in this leader epoch. */
  readonly logEndOffset: number | null;
  /** The last time the follower was known to hold everything the leader had. */
  readonly lastCaughtUpMs: number;
  readonly lastFetchMs: number;
  /** The leader's LEO when the follower last fetched. */
  readonly lastFetchLeaderEndOffset: number;
}

export function initialProgress(id: NodeId, nowMs: number): FollowerProgress {
  // A fresh leader gives every follower a full lag period (Kafka resets lastCaughtUpTimeMs).
  return {
    id,
    logEndOffset: null,
    lastCaughtUpMs: nowMs,
    lastFetchMs: nowMs,
    lastFetchLeaderEndOffset: 0,
  };
}

/**
 * Kafka's Replica.updateFetchState: caught up now if the fetch reached the leader's LEO; caught
 * up as of the previous fetch if this fetch reached the LEO the leader had at that fetch. So a
 * follower that keeps up with a moving LEO is never reported as lagging.
 */
export function updateProgress(
  previous: FollowerProgress,
  fetchOffset: number,
  leaderEndOffset: number,
  nowMs: number,
): FollowerProgress {
  let lastCaughtUpMs = previous.lastCaughtUpMs;
  if (fetchOffset >= leaderEndOffset) lastCaughtUpMs = Math.max(lastCaughtUpMs, nowMs);
  else if (fetchOffset >= previous.lastFetchLeaderEndOffset) {
    lastCaughtUpMs = Math.max(lastCaughtUpMs, previous.lastFetchMs);
  }
  return {
    id: previous.id,
    logEndOffset: fetchOffset,
    lastCaughtUpMs,
    lastFetchMs: nowMs,
    lastFetchLeaderEndOffset: leaderEndOffset,
  };
}

/** Committed ISR ∪ pending expansion; a pending shrink keeps the old, larger set (KIP-497). */
export function maximalIsr(
  committedIsr: readonly NodeId[],
  pending: IsrChangeRequest | null,
): readonly NodeId[] {
  if (pending === null) return committedIsr;
  const extra = pending.newIsr.filter((id) => !committedIsr.includes(id));
  return extra.length === 0 ? committedIsr : [...committedIsr, ...extra];
}

export interface HighWatermarkInput {
  readonly current: number;
  readonly leaderId: NodeId;
  readonly leaderEndOffset: number;
  readonly maximalIsr: readonly NodeId[];
  readonly committedIsrSize: number;
  readonly minInsyncReplicas: number;
  readonly progress: ReadonlyMap<NodeId, FollowerProgress>;
}

/**
 * HW = min LEO over the maximal ISR, but never lower than before and never advanced while the
 * committed ISR is smaller than min.insync.replicas (Kafka trunk, KIP-966). A member whose LEO
 * is unknown (no fetch yet in this epoch) holds the HW where it is.
 */
export function nextHighWatermark(input: HighWatermarkInput): number {
  if (input.committedIsrSize < input.minInsyncReplicas) return input.current;
  let low = input.leaderEndOffset;
  for (const id of input.maximalIsr) {
    if (id === input.leaderId) continue;
    const end = input.progress.get(id)?.logEndOffset ?? null;
    if (end === null) return input.current;
    if (end < low) low = end;
  }
  return Math.max(input.current, low);
}

/** ISR followers behind the leader's LEO and not caught up for longer than the lag limit. */
export function outOfSyncFollowers(
  isr: readonly NodeId[],
  leaderId: NodeId,
  progress: ReadonlyMap<NodeId, FollowerProgress>,
  leaderEndOffset: number,
  nowMs: number,
  replicaLagMsMax: number,
): NodeId[] {
  return isr.filter((id) => {
    if (id === leaderId) return false;
    const follower = progress.get(id);
    if (follower === undefined) return true;
    const behind = follower.logEndOffset === null || follower.logEndOffset < leaderEndOffset;
    return behind && nowMs - follower.lastCaughtUpMs > replicaLagMsMax;
  });
}

/**
 * Rule (d): a follower joins only once it holds the HW and the start of the leader's current
 * epoch, so everything it has below that point is the leader's own history. It must also be
 * in sync by the shrink rule — caught up within the lag limit — or a follower whose last
 * progress is stale (the HW stalls while |ISR| < min.insync.replicas) would join and be
 * dropped again at once.
 */
export function mayJoinIsr(
  progress: FollowerProgress | undefined,
  highWatermark: number,
  epochStartOffset: number,
  nowMs: number,
  replicaLagMsMax: number,
): boolean {
  if (progress === undefined || progress.logEndOffset === null) return false;
  const end = progress.logEndOffset;
  if (end < highWatermark || end < epochStartOffset) return false;
  return nowMs - progress.lastCaughtUpMs <= replicaLagMsMax;
}
