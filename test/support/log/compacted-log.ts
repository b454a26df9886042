// Helpers for compaction tests: a PartitionLog on a hand-driven clock with tiny segments,
// keyed appends, a full read of every batch (following the log's segments and gaps), and the
// latest value per key — the outcome compaction must preserve.
import { readSync } from 'node:fs';
import {
  OffsetMap,
  PartitionLog,
  decodeBatches,
  encodeBatch,
  type CleanResult,
  type DecodedBatch,
  type PartitionLogConfig,
} from '../../../src/log/index.ts';

export class HandClock {
  nowMs = 1_700_000_000_000;
  wallMs(): number {
    return this.nowMs;
  }
  schedule(): () => void {
    return () => undefined;
  }
}

export const compactedLogConfig: PartitionLogConfig = {
  segmentBytesMax: 1024,
  segmentMsMax: 7 * 24 * 3600 * 1000,
  retentionMs: -1,
  retentionBytes: -1,
  maxMessageBytes: 1024 * 1024,
  indexIntervalBytes: 128,
  // Page cache only: a kill -9 keeps it, and the tests stay fast (no fsync per append).
  flush: { kind: 'never' },
};

export interface KeyedRecord {
  readonly key: string;
  /** null: a tombstone. */
  readonly value: string | null;
}

export async function appendKeyed(
  log: PartitionLog,
  records: readonly KeyedRecord[],
  nowMs: number,
  compression: 'none' | 'gzip' = 'none',
): Promise<{ baseOffset: number; lastOffset: number }> {
  const bytes = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: 0,
    compression,
    records: records.map((r) => ({
      key: Buffer.from(r.key),
      value: r.value === null ? null : Buffer.from(r.value),
      headers: [],
      timestampMs: nowMs,
    })),
  });
  return log.appendAsLeader(bytes, 0);
}

/** Every batch from the log start to the log end, read through `read` as a consumer would. */
export async function readAllBatches(log: PartitionLog): Promise<DecodedBatch[]> {
  const batches: DecodedBatch[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, 64 * 1024, log.logEndOffset);
    try {
      if (read.nextOffset <= offset) throw new Error(`read at ${offset} made no progress`);
      for (const slice of read.slices) {
        const bytes = Buffer.alloc(slice.length);
        readSync(slice.fd, bytes, 0, slice.length, slice.position);
        batches.push(...(await decodeBatches(bytes)));
      }
      offset = read.nextOffset;
    } finally {
      read.release();
    }
  }
  return batches;
}

export interface ReadRecord {
  readonly offset: number;
  readonly key: string;
  readonly value: string | null;
}

export async function readAllRecords(log: PartitionLog): Promise<ReadRecord[]> {
  const records: ReadRecord[] = [];
  for (const batch of await readAllBatches(log)) {
    for (const r of batch.records) {
      if (r.offset < log.logStartOffset) continue;
      records.push({
        offset: r.offset,
        key: r.key === null ? '' : Buffer.from(r.key).toString(),
        value: r.value === null ? null : Buffer.from(r.value).toString(),
      });
    }
  }
  return records;
}

/** key → latest value (null for a tombstone) over `records` in offset order. */
export function latestPerKey(records: readonly KeyedRecord[]): Map<string, string | null> {
  const latest = new Map<string, string | null>();
  for (const r of records) latest.set(r.key, r.value);
  return latest;
}

/** latestPerKey without the keys whose latest record is a tombstone. */
export function liveValues(records: readonly KeyedRecord[]): Map<string, string> {
  const live = new Map<string, string>();
  for (const [key, value] of latestPerKey(records)) if (value !== null) live.set(key, value);
  return live;
}

export async function cleanNow(
  log: PartitionLog,
  clock: HandClock,
  options: { deleteRetentionMs?: number; map?: OffsetMap; yieldNow?: () => Promise<void> } = {},
): Promise<CleanResult> {
  return log.clean({
    nowMs: clock.nowMs,
    highWatermark: log.logEndOffset,
    minCompactionLagMs: 0,
    deleteRetentionMs: options.deleteRetentionMs ?? 24 * 3600 * 1000,
    offsetMap: options.map ?? new OffsetMap(64 * 1024),
    yieldNow: options.yieldNow ?? (() => Promise.resolve()),
  });
}
