// A test twin of the partition log: batches in memory, offsets assigned like the real log,
// reads returning slices with fd -1 (never sent; broker unit tests only look at offsets).
// It lets the broker's logic (HW, purgatories, acks, reconcile) be tested without files.
import {
  lastOffsetOf,
  readBatchHeader,
  scanBatches,
  setBaseOffset,
  setPartitionLeaderEpoch,
  type BatchHeader,
  type LeaderAppendGuard,
  type LeaderAppendResult,
  type CleanerStatus,
  type CleanResult,
  type LogReadResult,
  type PartitionLogApi,
} from '../../../src/log/index.ts';

interface StoredBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestampMs: number;
  readonly bytes: Buffer;
}

export class MemoryPartitionLog implements PartitionLogApi {
  logStartOffset = 0;
  logEndOffset = 0;
  readonly batches: StoredBatch[] = [];
  closed = false;
  /** Set to make appends wait until the test resolves them (a slow disk). */
  appendGate: Promise<void> | null = null;
  outstandingReads = 0;

  get sizeBytes(): number {
    return this.batches.reduce((sum, batch) => sum + batch.bytes.length, 0);
  }

  async appendAsLeader(
    bytes: Uint8Array,
    leaderEpoch: number,
    _scanned?: readonly BatchHeader[],
    guard?: LeaderAppendGuard,
  ): Promise<LeaderAppendResult> {
    if (this.closed)
      throw Object.assign(new Error('closed'), { name: 'LogError', code: 'LOG_CLOSED' });
    const scan = scanBatches(bytes);
    if (!scan.ok) throw scan.error;
    const copy = Buffer.from(bytes);
    const baseOffset = this.logEndOffset;
    const existing = guard?.beforeAppend(baseOffset) ?? null;
    if (existing !== null) return { ...existing, logAppendTimeMs: 0, duplicate: true };
    let position = 0;
    for (const header of scan.batches) {
      setBaseOffset(copy, position, this.logEndOffset);
      setPartitionLeaderEpoch(copy, position, leaderEpoch);
      const stamped = readBatchHeader(copy, position);
      const size = header.batchLength + 12;
      this.batches.push({
        baseOffset: stamped.baseOffset,
        lastOffset: lastOffsetOf(stamped),
        maxTimestampMs: stamped.maxTimestampMs,
        bytes: copy.subarray(position, position + size),
      });
      this.logEndOffset = lastOffsetOf(stamped) + 1;
      position += size;
    }
    guard?.afterAppend(baseOffset, this.logEndOffset - 1);
    if (this.appendGate !== null) await this.appendGate;
    return { baseOffset, lastOffset: this.logEndOffset - 1, logAppendTimeMs: 0 };
  }

  appendAsFollower(): Promise<{ lastOffset: number }> {
    throw new Error('not used by broker unit tests');
  }

  async read(offset: number, maxBytes: number, maxOffsetExclusive: number): Promise<LogReadResult> {
    const chosen = [];
    let bytes = 0;
    for (const batch of this.batches) {
      if (batch.lastOffset < offset || batch.baseOffset < this.logStartOffset) continue;
      if (batch.lastOffset >= maxOffsetExclusive) break;
      if (chosen.length > 0 && bytes + batch.bytes.length > maxBytes) break;
      chosen.push(batch);
      bytes += batch.bytes.length;
    }
    this.outstandingReads += 1;
    const last = chosen.at(-1);
    return {
      slices: chosen.map((batch) => ({ fd: -1, position: 0, length: batch.bytes.length })),
      bytes,
      nextOffset: last === undefined ? offset : last.lastOffset + 1,
      release: () => {
        this.outstandingReads -= 1;
      },
    };
  }

  async offsetForTimestamp(timestampMs: number): Promise<number | null> {
    const batch = this.batches.find((b) => b.maxTimestampMs >= timestampMs);
    return batch === undefined ? null : batch.baseOffset;
  }

  async truncateTo(offset: number): Promise<void> {
    this.logEndOffset = Math.min(this.logEndOffset, offset);
  }

  async truncateFullyAndStartAt(offset: number): Promise<void> {
    this.logStartOffset = offset;
    this.logEndOffset = offset;
  }

  async deleteRecordsBefore(offset: number): Promise<void> {
    this.logStartOffset = Math.max(this.logStartOffset, offset);
  }

  latestEpoch(): number | null {
    return null;
  }

  endOffsetForEpoch(): { epoch: number; endOffset: number } | null {
    return null;
  }

  async applyRetention(): Promise<void> {}

  /** The twin keeps no segments: there is never anything to compact. */
  cleanerStatus(): CleanerStatus {
    const offset = this.logStartOffset;
    return {
      firstDirtyOffset: offset,
      cleanableEndOffset: offset,
      cleanBytes: 0,
      dirtyBytes: 0,
      dirtyRatio: 0,
      firstDirtyTimestampMs: null,
    };
  }

  async clean(): Promise<CleanResult> {
    const firstDirtyOffset = this.logStartOffset;
    return {
      outcome: 'nothing-to-clean',
      bytesRead: 0,
      bytesWritten: 0,
      segmentsRewritten: 0,
      firstDirtyOffset,
    };
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
  }
}
