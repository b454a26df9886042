// The contract between src/log and its users (broker, api, client). src/log implements it; the
// shapes may grow, but a change of meaning is announced to every user first.
//
// Offsets and leader epochs are branded numbers (see ./offset.ts once it exists); plain
// `number` is used here so this file depends on nothing but the cleaner's key map type.
import type { OffsetMap } from './offset-map.ts';

export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** One record as a user sees it. Timestamps are ms since the Unix epoch. */
export interface LogRecord {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly { readonly key: string; readonly value: Uint8Array | null }[];
  readonly timestampMs: number;
}

/** A decoded record with its absolute offset. */
export interface StoredRecord extends LogRecord {
  readonly offset: number;
}

/**
 * Record batch codec (Kafka RecordBatch v2, magic 2), in src/log/record-batch.ts:
 *   encodeBatch({ baseOffset, partitionLeaderEpoch, records, compression }): Promise<Buffer>
 *   decodeBatches(bytes: Uint8Array): Promise<{ header: BatchHeader; records: StoredRecord[] }[]>
 *   readBatchHeader(bytes, position): BatchHeader   // no decompression, CRC checked separately
 *   verifyBatchCrc(bytes, position): boolean
 * Clients encode with baseOffset 0; the leader rewrites baseOffset and partitionLeaderEpoch in
 * place (neither is covered by the CRC) when it appends.
 */
export interface BatchHeader {
  readonly baseOffset: number;
  readonly batchLength: number; // bytes after the length field
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  readonly crc: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly baseTimestampMs: number;
  readonly maxTimestampMs: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordCount: number;
}

/** A slice of a segment file: the API sends it with respondWithFD, never decoding it. */
export interface FileSlice {
  readonly fd: number;
  readonly position: number;
  readonly length: number;
}

/** Whole batches from `read`; `release()` must be called once the slices are sent. */
export interface LogReadResult {
  readonly slices: readonly FileSlice[];
  readonly bytes: number;
  /** The offset after the last record of the last batch returned (== the request offset if none). */
  readonly nextOffset: number;
  release(): void;
}

export type FlushPolicy =
  | { readonly kind: 'always' } // fsync before acknowledging, group-committed
  | { readonly kind: 'interval'; readonly intervalMs: number }
  | { readonly kind: 'never' };

export interface PartitionLogConfig {
  readonly segmentBytesMax: number; // segment.bytes
  readonly segmentMsMax: number; // segment.ms
  readonly retentionMs: number; // retention.ms, -1 = forever
  readonly retentionBytes: number; // retention.bytes, -1 = unlimited
  readonly maxMessageBytes: number; // max.message.bytes: largest batch accepted
  readonly indexIntervalBytes: number; // bytes between sparse index entries
  readonly flush: FlushPolicy;
}

/** The bounds of cleaning a compacted partition right now (./cleaner.ts). */
export interface CleanableLimits {
  readonly nowMs: number;
  /** Nothing at or above it is cleaned: a record above the HW may still be truncated. */
  readonly highWatermark: number;
  readonly minCompactionLagMs: number;
}

export interface CleanerStatus {
  readonly firstDirtyOffset: number;
  /** Segments wholly below it (and closed, below the HW, old enough) may be cleaned. */
  readonly cleanableEndOffset: number;
  readonly cleanBytes: number;
  readonly dirtyBytes: number;
  /** dirtyBytes / (cleanBytes + dirtyBytes), 0 when both are 0. */
  readonly dirtyRatio: number;
  /**
   * The newest timestamp in the segment holding the cleaner point (null when nothing is
   * dirty): max.compaction.lag.ms counts from it, so a forced clean may come up to one
   * segment's time span later than Kafka's (which reads the first dirty batch).
   */
  readonly firstDirtyTimestampMs: number | null;
}

export interface CleanRequest extends CleanableLimits {
  readonly deleteRetentionMs: number;
  /** The key map (log.cleaner.dedupe.buffer.size), shared by the cleans of one node. */
  readonly offsetMap: OffsetMap;
  /** Lets produce and fetch run between the cleaner's reads (setImmediate in a real node). */
  readonly yieldNow: () => Promise<void>;
}

export interface CleanResult {
  /** `buffer-too-small`: the key map cannot hold the records of the first dirty batch. */
  readonly outcome: 'cleaned' | 'nothing-to-clean' | 'buffer-too-small';
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly segmentsRewritten: number;
  /** The cleaner point after the clean. */
  readonly firstDirtyOffset: number;
}

/**
 * Runs inside a leader append's turn, so a check and the offsets it sees cannot race with
 * another append (the broker's idempotent-producer check, Kafka's producer state under the log
 * lock). `beforeAppend` sees the offset the batches would start at: it returns null to append,
 * the offsets of the same batches already in the log to write nothing (a retry), or throws to
 * refuse. `afterAppend` follows a successful write, still inside the turn.
 */
export interface LeaderAppendGuard {
  beforeAppend(baseOffset: number): { baseOffset: number; lastOffset: number } | null;
  afterAppend(baseOffset: number, lastOffset: number): void;
}

/**
 * One partition's log in one directory. Appends are serialized by the log itself.
 *
 * appendAsLeader(batches, leaderEpoch, scanned?): the bytes are one or more client batches,
 *   framing- and CRC-checked here, or by the caller when it passes `scanned`: exactly what
 *   scanBatches returned for these bytes (sizes and density are still checked here, so a
 *   produce pays one CRC pass, not two); the log assigns offsets from its LEO,
 *   stamps leaderEpoch, writes, and resolves once durable per the flush policy. Without
 *   `scanned` the caller's bytes are copied first; with it they are handed over: the offsets
 *   and epoch are stamped into them in place, so the caller must not reuse them.
 *   → { baseOffset, lastOffset, logAppendTimeMs } or throws LogError (LOG_CORRUPT_BATCH,
 *   LOG_RECORD_TOO_LARGE, LOG_CLOSED). With a `guard` (LeaderAppendGuard), the guard decides
 *   inside the append's turn; a duplicate resolves once durable like an append.
 * appendAsFollower(batches): offsets and epochs are kept as the leader assigned them; the
 *   first batch must start at the LEO.
 * read(offset, maxBytes, maxOffsetExclusive): whole batches starting with the one containing
 *   `offset`, stopping before `maxOffsetExclusive` (the HW) — at least one batch if any exists
 *   below the limit, even when it is larger than maxBytes (as Kafka does).
 * offsetForTimestamp(ms): first offset whose timestamp ≥ ms, or null.
 * truncateTo(offset): drop everything at or above offset (replication).
 * deleteRecordsBefore(offset): advance the log start offset (delete-records and retention).
 * Leader-epoch cache (checkpointed in the directory): latestEpoch(), endOffsetForEpoch(epoch)
 *   → { epoch, endOffset } per KIP-279 (largest epoch ≤ the one asked, and its end offset).
 * clean(request): one compaction pass (see ./cleaner.ts); only segments wholly below the HW,
 *   the active segment and min.compaction.lag.ms are cleaned; offsets, LEO and HW are kept.
 */
/** `duplicate`: a guard found the batches in the log already; nothing was written. */
export interface LeaderAppendResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly logAppendTimeMs: number;
  readonly duplicate?: true;
}

export interface PartitionLogApi {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** Bytes of every segment's batches (what retention.bytes counts). */
  readonly sizeBytes: number;
  appendAsLeader(
    batches: Uint8Array,
    leaderEpoch: number,
    scanned?: readonly BatchHeader[],
    guard?: LeaderAppendGuard,
  ): Promise<LeaderAppendResult>;
  appendAsFollower(batches: Uint8Array): Promise<{ lastOffset: number }>;
  read(offset: number, maxBytes: number, maxOffsetExclusive: number): Promise<LogReadResult>;
  offsetForTimestamp(timestampMs: number): Promise<number | null>;
  truncateTo(offset: number): Promise<void>;
  /** Empties the log and restarts it at `offset` (a follower behind the leader's start). */
  truncateFullyAndStartAt(offset: number): Promise<void>;
  deleteRecordsBefore(offset: number): Promise<void>;
  latestEpoch(): number | null;
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } | null;
  applyRetention(nowMs: number): Promise<void>;
  /** Compaction (./cleaner.ts): how dirty the log is, and one clean of it. */
  cleanerStatus(limits: CleanableLimits): CleanerStatus;
  clean(request: CleanRequest): Promise<CleanResult>;
  flush(): Promise<void>;
  close(): Promise<void>;
}
