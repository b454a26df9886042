// What /metrics reads of partitions: per-partition offsets and ISR size of the partitions this
// node leads (at most partitionMetricsMax of them, so label cardinality stays bounded), the
// under-replicated and offline counts, and counters of leader changes and ISR shrinks/expands
// seen in the applied metadata log (cluster-wide: every node applies the same log).
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import type { MetadataImage } from './metadata-image.ts';
import type { Partition } from './partition.ts';

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
}

/** A snapshot of the partition stats from the image and this node's open replicas. */
export function partitionStats(
  image: MetadataImage,
  replicas: readonly Partition[],
): PartitionStats {
  const led: LeaderPartitionStats[] = [];
  let underReplicated = 0;
  for (const replica of replicas) {
    const role = replica.role;
    if (role.kind !== 'leader') continue;
    const replicaCount = image.partition(replica.topic, replica.partition)?.replicas.length ?? 0;
    if (role.isr.length < replicaCount) underReplicated += 1;
    led.push({
      topic: replica.topic,
      partition: replica.partition,
      highWatermark: replica.highWatermark,
      logEndOffset: replica.log.logEndOffset,
      logStartOffset: replica.log.logStartOffset,
      isrSize: role.isr.length,
      replicas: replicaCount,
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
  return { leaders, dropped: led.length - leaders.length, underReplicated, offline };
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
