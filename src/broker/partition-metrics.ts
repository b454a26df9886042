// What /metrics reads of partitions: per-partition offsets, ISR size and follower lag of the
// partitions this node leads (at most partitionMetricsMax of them, so label cardinality stays
// bounded), the under-replicated and offline counts, and counters of leader changes and ISR
// shrinks/expands seen in the applied metadata log (cluster-wide: every node applies it).
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import type { MetadataImage } from './metadata-image.ts';
import type { Partition } from './partition.ts';
import type { FollowerProgress } from './replication/index.ts';

/** Partitions one node exports per-partition series for; the rest are counted as dropped. */
export const partitionMetricsMax = 2_000;

export interface LeaderPartitionStats {
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: number;
  readonly logEndOffset: number;
  readonly logStartOffset: number;
  readonly isrSize: number;
  readonly replicas: number;
  /** The slowest follower's lag in offsets (see ReplicaLag). */
  readonly replicaLagMax: number;
  /** The longest time a follower has been behind, in ms (see ReplicaLag). */
  readonly replicaLagMsMax: number;
}

/**
 * How far a partition's followers trail its leader, as the leader knows from their fetches.
 * Offsets: the leader's log end (what it serves) minus a follower's log end at its last fetch,
 * the largest over followers that fetched in this leader epoch (one that has not is unknown
 * here and shows in the time instead). Time: 0 for a follower holding the leader's log end,
 * else how long since it last held everything (Kafka's lastCaughtUpTimeMs, the time the ISR
 * shrink compares with replica.lag.time.max.ms), the largest over followers.
 */
export interface ReplicaLag {
  readonly offsetsMax: number;
  readonly msMax: number;
}

/** The lag of `followers` behind a leader whose served log ends at `leaderEndOffset`. */
export function replicaLag(
  followers: readonly FollowerProgress[],
  leaderEndOffset: number,
  nowMs: number,
): ReplicaLag {
  let offsetsMax = 0;
  let msMax = 0;
  for (const follower of followers) {
    const end = follower.logEndOffset;
    if (end !== null) offsetsMax = Math.max(offsetsMax, leaderEndOffset - end);
    if (end === leaderEndOffset) continue;
    msMax = Math.max(msMax, nowMs - follower.lastCaughtUpMs);
  }
  return { offsetsMax, msMax };
}

export interface PartitionStats {
  /** The first partitionMetricsMax partitions this node leads, by topic then partition. */
  readonly leaders: readonly LeaderPartitionStats[];
  /** Led partitions left out of `leaders` by partitionMetricsMax. */
  readonly dropped: number;
  /** Partitions this node leads whose ISR is smaller than their replica set. */
  readonly underReplicated: number;
  /** Partitions with no leader in the metadata image (cluster-wide, the same on every node). */
  readonly offline: number;
  /** replicaLagMax over every partition led here, those beyond the limit included. */
  readonly replicaLagMax: number;
  /** replicaLagMsMax over every partition led here, those beyond the limit included. */
  readonly replicaLagMsMax: number;
}

/** The progress of a led replica's followers; none while it does not lead. */
function followersOf(replica: Partition): FollowerProgress[] {
  const leader = replica.leaderReplica;
  if (leader === null) return [];
  const followers: FollowerProgress[] = [];
  for (const id of leader.partitionState.replicas) {
    const progress = leader.followerProgress(id);
    if (progress !== undefined) followers.push(progress);
  }
  return followers;
}

/** A snapshot of the partition stats from the image and this node's open replicas at `nowMs`. */
export function partitionStats(
  image: MetadataImage,
  replicas: readonly Partition[],
  nowMs: number,
): PartitionStats {
  const led: LeaderPartitionStats[] = [];
  let underReplicated = 0;
  let replicaLagMax = 0;
  let replicaLagMsMax = 0;
  for (const replica of replicas) {
    const role = replica.role;
    if (role.kind !== 'leader') continue;
    const replicaCount = image.partition(replica.topic, replica.partition)?.replicas.length ?? 0;
    if (role.isr.length < replicaCount) underReplicated += 1;
    const lag = replicaLag(followersOf(replica), replica.leaderEndOffset, nowMs);
    replicaLagMax = Math.max(replicaLagMax, lag.offsetsMax);
    replicaLagMsMax = Math.max(replicaLagMsMax, lag.msMax);
    led.push({
      topic: replica.topic,
      partition: replica.partition,
      highWatermark: replica.highWatermark,
      logEndOffset: replica.log.logEndOffset,
      logStartOffset: replica.log.logStartOffset,
      isrSize: role.isr.length,
      replicas: replicaCount,
      replicaLagMax: lag.offsetsMax,
      replicaLagMsMax: lag.msMax,
    });
  }
  led.sort((a, b) =>
    a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
  );
  let offline = 0;
  for (const topic of image.topics()) {
    for (const p of topic.partitions) if (p.leader === null) offline += 1;
  }
  const leaders = led.slice(0, partitionMetricsMax);
  const dropped = led.length - leaders.length;
  return { leaders, dropped, underReplicated, offline, replicaLagMax, replicaLagMsMax };
}

interface Seen {
  readonly leader: number | null;
  readonly leaderEpoch: number;
  readonly isrSize: number;
}

/**
 * Counts leader changes (leader epoch bumps to a new leader or to none) and ISR shrinks and
 * expands as the image applies them. Keeps one entry per partition of the image (bounded by
 * metadataLimits.partitionsMax); a restored snapshot resets the baseline without counting.
 */
export class PartitionChangeCounts {
  leaderElections = 0;
  isrShrinks = 0;
  isrExpands = 0;
  readonly #image: MetadataImage;
  readonly #seen = new Map<string, Seen>();

  constructor(image: MetadataImage) {
    this.#image = image;
    this.#baseline();
    image.onApplied((command, result) => this.#onApplied(command, result));
    image.onRestored(() => this.#baseline());
  }

  #baseline(): void {
    this.#seen.clear();
    for (const topic of this.#image.topics()) {
      for (const p of topic.partitions) this.#seen.set(keyOf(topic.name, p.partition), seenOf(p));
    }
  }

  #onApplied(command: MetadataCommand, result: MetadataResult): void {
    if (!result.ok) return;
    switch (command.type) {
      case 'create-topic':
      case 'delete-topic':
        this.#syncTopic(command.name);
        return;
      case 'change-partition':
      case 'alter-isr':
      case 'reassign-partition':
        this.#observe(command.topic, command.partition);
        return;
      default:
        return;
    }
  }

  #syncTopic(name: string): void {
    for (const key of [...this.#seen.keys()]) {
      if (key.startsWith(`${name}\u0000`)) this.#seen.delete(key);
    }
    const topic = this.#image.topic(name);
    for (const p of topic?.partitions ?? []) this.#seen.set(keyOf(name, p.partition), seenOf(p));
  }

  #observe(topic: string, partition: number): void {
    const now = this.#image.partition(topic, partition);
    if (now === undefined) return;
    const key = keyOf(topic, partition);
    const before = this.#seen.get(key);
    this.#seen.set(key, seenOf(now));
    if (before === undefined) return;
    if (now.leaderEpoch > before.leaderEpoch && now.leader !== before.leader) {
      this.leaderElections += 1;
    }
    if (now.isr.length < before.isrSize) this.isrShrinks += 1;
    if (now.isr.length > before.isrSize) this.isrExpands += 1;
  }
}

function keyOf(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function seenOf(p: {
  readonly leader: number | null;
  readonly leaderEpoch: number;
  readonly isr: readonly number[];
}): Seen {
  return { leader: p.leader, leaderEpoch: p.leaderEpoch, isrSize: p.isr.length };
}
