// An in-memory partition log for the replication simulator: one record per offset, a
// leader-epoch cache, a checkpointed HW, and a flush line. A crash keeps only what was flushed
// (log.flush=never loses the unflushed tail, as Kafka's MockLog.reopen does). It satisfies the
// core's ReplicaLogView exactly as the real PartitionLog is meant to.
import { assert } from '../../../src/common/index.ts';
import type {
  EpochEndOffset,
  FetchResponse,
  FollowerFetchDecision,
  ReplicaLogView,
} from '../../../src/broker/replication/index.ts';

/** An idempotent producer's identity on a one-record batch (RecordBatch's three fields). */
export interface SimStamp {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly sequence: number;
}

export interface SimRecord {
  readonly offset: number;
  readonly epoch: number;
  readonly value: string;
  /** Set when an idempotent producer wrote it (replicas rebuild their producer state). */
  readonly producer?: SimStamp;
}

export type SimFlush = 'always' | 'never';

interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

/** A leader's answer to a follower fetch: a read decision reads up to `recordsMax` of `log`. */
export function answerFollowerFetch(
  requestId: number,
  decision: FollowerFetchDecision,
  log: MemoryReplicaLog,
  recordsMax: number,
): FetchResponse<readonly SimRecord[]> {
  switch (decision.kind) {
    case 'error':
      return { requestId, kind: 'error', code: decision.code };
    case 'diverging':
    case 'outOfRange':
      return { requestId, ...decision };
    case 'read': {
      const records = log.read(decision.fetchOffset, decision.maxOffsetExclusive, recordsMax);
      return {
        requestId,
        kind: 'records',
        records,
        nextOffset: decision.fetchOffset + records.length,
        highWatermark: decision.highWatermark,
        logEndOffset: decision.logEndOffset,
      };
    }
  }
}

export class MemoryReplicaLog implements ReplicaLogView {
  readonly flush: SimFlush;
  #records: SimRecord[] = [];
  #start = 0;
  #epochs: EpochEntry[] = [];
  #flushedEnd = 0;
  /** Bumped whenever records are removed, so a checker may cache what it verified. */
  generation = 0;
  /** The last HW checkpointed by the replica that owns this log. */
  highWatermarkCheckpoint = 0;

  constructor(flush: SimFlush) {
    this.flush = flush;
  }

  get logStartOffset(): number {
    return this.#start;
  }
  get logEndOffset(): number {
    return this.#start + this.#records.length;
  }
  get records(): readonly SimRecord[] {
    return this.#records;
  }
  /** The record values in offset order, for assertions. */
  get values(): string[] {
    return this.#records.map((r) => r.value);
  }
  get epochEntries(): readonly EpochEntry[] {
    return this.#epochs;
  }

  latestEpoch(): number | null {
    return this.#epochs.at(-1)?.epoch ?? null;
  }

  endOffsetForEpoch(epoch: number): EpochEndOffset | null {
    let found = -1;
    for (let i = 0; i < this.#epochs.length; i += 1) {
      if ((this.#epochs[i]?.epoch ?? Infinity) <= epoch) found = i;
    }
    const entry = this.#epochs[found];
    if (entry === undefined) return null;
    const next = this.#epochs[found + 1];
    return {
      epoch: entry.epoch,
      endOffset: next === undefined ? this.logEndOffset : next.startOffset,
    };
  }

  recordAt(offset: number): SimRecord | undefined {
    return this.#records[offset - this.#start];
  }

  /** Kafka's LeaderEpochFileCache.assign: a new epoch removes entries it makes non-monotonic. */
  assignEpoch(epoch: number, startOffset: number): void {
    const latest = this.#epochs.at(-1);
    if (latest !== undefined && latest.epoch === epoch) return;
    assert(latest === undefined || latest.epoch < epoch, `epoch ${epoch} after ${latest?.epoch}`);
    while ((this.#epochs.at(-1)?.startOffset ?? -1) >= startOffset) this.#epochs.pop();
    this.#epochs.push({ epoch, startOffset });
  }

  appendAsLeader(epoch: number, values: readonly string[], producer?: SimStamp): number {
    assert(values.length > 0, 'append something');
    assert(producer === undefined || values.length === 1, 'a stamped batch is one record here');
    this.assignEpoch(epoch, this.logEndOffset);
    for (const value of values) {
      const record = { offset: this.logEndOffset, epoch, value };
      this.#records.push(producer === undefined ? record : { ...record, producer });
    }
    if (this.flush === 'always') this.#flushedEnd = this.logEndOffset;
    return this.logEndOffset - 1;
  }

  appendAsFollower(records: readonly SimRecord[]): void {
    for (const record of records) {
      assert(record.offset === this.logEndOffset, `follower append at ${record.offset} ≠ LEO`);
      this.assignEpoch(record.epoch, record.offset);
      this.#records.push(record);
    }
    if (this.flush === 'always') this.#flushedEnd = this.logEndOffset;
  }

  read(offset: number, maxOffsetExclusive: number, countMax: number): SimRecord[] {
    const from = offset - this.#start;
    const to = Math.min(maxOffsetExclusive, this.logEndOffset) - this.#start;
    return this.#records.slice(from, Math.max(from, Math.min(to, from + countMax)));
  }

  truncateTo(offset: number): void {
    assert(offset >= this.#start, `truncate to ${offset} below log start`);
    // Kafka's truncateFromEnd: cache entries starting at or after `offset` go even when no
    // record does (an epoch a leader opened but never wrote to).
    if (offset < this.logEndOffset) {
      this.#records.length = offset - this.#start;
      this.generation += 1;
    }
    while ((this.#epochs.at(-1)?.startOffset ?? -1) >= offset) this.#epochs.pop();
    this.#flushedEnd = Math.min(this.#flushedEnd, offset);
    this.highWatermarkCheckpoint = Math.min(this.highWatermarkCheckpoint, offset);
  }

  truncateFullyAndStartAt(offset: number): void {
    this.generation += 1;
    this.#records = [];
    this.#epochs = [];
    this.#start = offset;
    this.#flushedEnd = offset;
    this.highWatermarkCheckpoint = offset;
  }

  flushNow(): void {
    this.#flushedEnd = this.logEndOffset;
  }

  /** Power loss: everything after the flush line is gone. */
  crash(): void {
    this.truncateTo(Math.max(this.#flushedEnd, this.#start));
  }

  /** Records below this offset were checked at `#checkedGeneration`; appends never rewrite. */
  #checkedUpTo = 0;
  #checkedGeneration = -1;

  checkInvariants(): void {
    for (let i = 1; i < this.#epochs.length; i += 1) {
      const a = this.#epochs[i - 1];
      const b = this.#epochs[i];
      assert(a !== undefined && b !== undefined, 'entries');
      assert(a.epoch < b.epoch, 'epoch cache: epochs strictly increase');
      assert(a.startOffset < b.startOffset, 'epoch cache: start offsets strictly increase');
    }
    if (this.#checkedGeneration !== this.generation) this.#checkedUpTo = this.#start;
    this.#checkedGeneration = this.generation;
    for (let offset = this.#checkedUpTo; offset < this.logEndOffset; offset += 1) {
      const record = this.recordAt(offset);
      assert(record?.offset === offset, 'offsets are dense');
      const entry = this.endOffsetForEpoch(record.epoch);
      assert(entry?.epoch === record.epoch, `record ${offset} epoch ${record.epoch} not cached`);
    }
    this.#checkedUpTo = this.logEndOffset;
  }
}
