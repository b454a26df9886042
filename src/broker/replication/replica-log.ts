// What the replication core needs to know about a partition's log, and the log operations it
// asks for. The core only reads through ReplicaLogView (synchronous getters the real
// PartitionLog has); every mutation comes back as a ReplicaLogCommand the driver performs.
// endOffsetForEpoch follows KIP-279: the largest epoch ≤ the one asked, and its end offset.

export interface EpochEndOffset {
  readonly epoch: number;
  /** The start offset of the next epoch in the cache, or the LEO for the latest epoch. */
  readonly endOffset: number;
}

export interface ReplicaLogView {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** The epoch of the last entry in the leader-epoch cache, null when the cache is empty. */
  latestEpoch(): number | null;
  /** null when the cache holds no epoch ≤ `epoch`. */
  endOffsetForEpoch(epoch: number): EpochEndOffset | null;
}

/**
 * Log operations, performed in order by the driver before it asks the core for more work.
 * `R` is the driver's batch payload (bytes from a fetch response in the broker).
 */
export type ReplicaLogCommand<R> =
  /**
   * Drop every record at or above `offset` and every epoch-cache entry starting at or above it,
   * even when `offset` is the LEO (Kafka's truncateFromEnd). A checkpointed HW above `offset`
   * comes down to it.
   */
  | { readonly kind: 'truncateTo'; readonly offset: number }
  /** Drop the whole log and restart it empty at `offset` (out of range low, P10). */
  | { readonly kind: 'truncateFullyAndStartAt'; readonly offset: number }
  /** Append batches as the leader assigned them (offsets and epochs kept). */
  | { readonly kind: 'append'; readonly records: R }
  /** Checkpoint the high watermark. */
  | { readonly kind: 'setHighWatermark'; readonly offset: number };
