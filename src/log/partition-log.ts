// One partition's log in one directory: a list of segments, the last one active. Appends are
// serialized through one promise chain; reads are synchronous snapshots that return whole
// batches as file slices pinned until released. `logEndOffset` is the acknowledged end: under
// flush `always` it advances only after an fsync (group-committed), so nothing a reader or a
// follower's leader sees can vanish in a crash. Recovery rules live in ./log-recovery.ts.
import { assert, type Clock, type WallClock } from '../common/index.ts';
import { readCheckpoint, syncDirectory, writeCheckpoint } from './checkpoint-file.ts';
import {
  buildOffsetMap,
  cleanerStatus,
  cleanSegment,
  type CleanIo,
  type SegmentCleanResult,
} from './cleaner.ts';
import {
  CLEANER_CHECKPOINT_FILE,
  emptyCleanerCheckpoint,
  formatCleanerCheckpoint,
  parseCleanerCheckpoint,
  type CleanerCheckpoint,
} from './cleaner-checkpoint.ts';
import { discardCleaned, runSwapStep, swapPlan } from './cleaner-swap.ts';
import type {
  CleanableLimits,
  CleanerStatus,
  CleanRequest,
  CleanResult,
  LeaderAppendGuard,
  LeaderAppendResult,
  LogReadResult,
  PartitionLogApi,
  PartitionLogConfig,
} from './contract.ts';
import { LogError, isLogError } from './errors.ts';
import { nodeFilePort, type FilePort } from './file-port.ts';
import { GroupCommit } from './group-commit.ts';
import { LeaderEpochCache } from './leader-epoch-cache.ts';
import {
  LEADER_EPOCH_FILE,
  LOG_START_OFFSET_FILE,
  RECOVERY_POINT_FILE,
  formatLogStartOffset,
  formatRecoveryPoint,
  recoverLog,
} from './log-recovery.ts';
import {
  batchSize,
  decodeBatches,
  type DecodedBatch,
  lastOffsetOf,
  scanBatches,
  setBaseOffset,
  setPartitionLeaderEpoch,
} from './record-batch.ts';
import type { BatchHeader } from './contract.ts';
import { NO_TIMESTAMP, Segment, type AppendedBatch } from './segment.ts';

export interface PartitionLogDeps {
  /** Wall time stamps segments and append times; `schedule` drives flush `interval`. */
  readonly clock: WallClock & Pick<Clock, 'schedule'>;
  /** Told each fsync of the active segment's records and how long it took (metrics). */
  readonly onSync?: (elapsedSeconds: number) => void;
  /** Every file operation goes through it; default node:fs (tests inject a lossy disk). */
  readonly files?: FilePort;
}

/** Appends (and truncations) waiting in one partition's chain; beyond it, LOG_BUSY. */
export const APPENDS_QUEUED_MAX = 1024;
/** Closed segments whose files stay open after a read, per partition (an fd cache). */
export const IDLE_SEGMENT_FILES_MAX = 1;
/** File positions in the offset index are int32. */
const SEGMENT_POSITION_MAX = 0x7fffffff;

type LogState =
  | { readonly kind: 'open' }
  | { readonly kind: 'closing' }
  | { readonly kind: 'closed' }
  | { readonly kind: 'failed'; readonly error: LogError };

export function validatePartitionLogConfig(config: PartitionLogConfig): void {
  const { segmentBytesMax, segmentMsMax, retentionMs, retentionBytes } = config;
  assert(Number.isInteger(segmentBytesMax) && segmentBytesMax > 0, 'segmentBytesMax > 0');
  assert(segmentBytesMax <= SEGMENT_POSITION_MAX, 'segmentBytesMax fits int32 positions');
  assert(Number.isSafeInteger(segmentMsMax) && segmentMsMax > 0, 'segmentMsMax > 0');
  assert(Number.isSafeInteger(retentionMs) && retentionMs >= -1, 'retentionMs ≥ -1');
  assert(Number.isSafeInteger(retentionBytes) && retentionBytes >= -1, 'retentionBytes ≥ -1');
  assert(
    Number.isInteger(config.maxMessageBytes) && config.maxMessageBytes > 0,
    'maxMessageBytes > 0',
  );
  assert(
    Number.isInteger(config.indexIntervalBytes) && config.indexIntervalBytes > 0,
    'indexIntervalBytes > 0',
  );
  if (config.flush.kind === 'interval') {
    assert(
      Number.isSafeInteger(config.flush.intervalMs) && config.flush.intervalMs > 0,
      'intervalMs > 0',
    );
  }
}

export class PartitionLog implements PartitionLogApi {
  readonly #dir: string;
  readonly #config: PartitionLogConfig;
  readonly #deps: PartitionLogDeps;
  readonly #fs: FilePort;
  /** Sorted by base offset, contiguous; the last one is active. Never empty. */
  #segments: Segment[];
  #logStartOffset: number;
  /** Every batch below is written (maybe not synced); the next append starts here. */
  #writtenEndOffset: number;
  /** Acknowledged end: ≤ written end; readers and followers see only below it. */
  #visibleEndOffset: number;
  /** Everything below was synced; recovery after a crash starts at its segment. */
  #recoveryPoint: number;
  /** Bumped by every truncation, so a sync begun before it cannot raise the end after it. */
  #generation = 0;
  readonly #epochs: LeaderEpochCache;
  readonly #groupCommit: GroupCommit;
  /** Closed segments with open files and no readers, least recently used first. */
  readonly #idle = new Set<Segment>();
  #tail: Promise<void> = Promise.resolve();
  #queued = 0;
  #state: LogState = { kind: 'open' };
  #cancelFlushTimer: (() => void) | null = null;
  #closed: Promise<void> | null = null;
  /** Compaction state (./cleaner.ts); the point never passes the written end. */
  #cleaner: CleanerCheckpoint;
  #cleaning = false;

  private constructor(
    dir: string,
    config: PartitionLogConfig,
    deps: PartitionLogDeps,
    recovered: ReturnType<typeof recoverLog>,
  ) {
    this.#dir = dir;
    this.#config = config;
    this.#deps = deps;
    this.#fs = deps.files ?? nodeFilePort;
    this.#segments = recovered.segments;
    this.#logStartOffset = recovered.logStartOffset;
    this.#epochs = recovered.epochs;
    this.#writtenEndOffset = this.#active.nextOffset;
    this.#visibleEndOffset = this.#writtenEndOffset;
    this.#recoveryPoint = this.#writtenEndOffset;
    this.#groupCommit = new GroupCommit(() => this.#syncActive());
    const cleaner = parseCleanerCheckpoint(readCheckpoint(dir, CLEANER_CHECKPOINT_FILE, this.#fs));
    this.#cleaner = cleaner ?? emptyCleanerCheckpoint;
  }

  /**
   * Opens (creating or recovering) the log in `dir`. Everything left after recovery is synced
   * and the checkpoints are rewritten, so the log is "unclean" until `close()`.
   */
  static async open(
    dir: string,
    config: PartitionLogConfig,
    deps: PartitionLogDeps,
  ): Promise<PartitionLog> {
    validatePartitionLogConfig(config);
    const fs = deps.files ?? nodeFilePort;
    const recovered = recoverLog(dir, config.indexIntervalBytes, deps.clock.wallMs(), fs);
    const log = new PartitionLog(dir, config, deps, recovered);
    if (recovered.recoveredSegments > 0) {
      // Re-validated bytes may sit only in the page cache; closed segments synced at roll.
      await log.#active.syncAll();
      syncDirectory(dir, fs);
    }
    // Rewrite only what changed: at a thousand partitions, each fsync counts at startup.
    if (!recovered.checkpointsMatch.logStartOffset) await log.#writeLogStartOffset();
    if (!recovered.checkpointsMatch.epochs) await log.#writeEpochs();
    await log.#writeRecoveryPoint(-1);
    if (config.flush.kind === 'interval') log.#scheduleFlush(config.flush.intervalMs);
    log.checkInvariants();
    return log;
  }

  get logStartOffset(): number {
    return this.#logStartOffset;
  }
  get logEndOffset(): number {
    return this.#visibleEndOffset;
  }
  get segmentCount(): number {
    return this.#segments.length;
  }
  get sizeBytes(): number {
    return this.#segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
  }
  /** Segments with open files, the active one included: ≤ 1 + IDLE_SEGMENT_FILES_MAX + pinned. */
  get openSegmentCount(): number {
    return this.#segments.filter((segment) => segment.hasOpenFiles).length;
  }
  /** Syncs issued so far: fewer than appends when group commit works. */
  get syncCount(): number {
    return this.#groupCommit.syncCount;
  }

  get #active(): Segment {
    const active = this.#segments.at(-1);
    assert(active !== undefined, 'a log keeps at least one segment');
    return active;
  }

  // ---- appends ---------------------------------------------------------------------------

  /**
   * Codes: LOG_CORRUPT_BATCH, LOG_RECORD_TOO_LARGE, LOG_INVALID_EPOCH, LOG_BUSY, LOG_CLOSED,
   * LOG_STORAGE_ERROR.
   */
  async appendAsLeader(
    batches: Uint8Array,
    leaderEpoch: number,
    scanned?: readonly BatchHeader[],
    guard?: LeaderAppendGuard,
  ): Promise<LeaderAppendResult> {
    assert(
      Number.isInteger(leaderEpoch) && leaderEpoch >= 0 && leaderEpoch <= 0x7fffffff,
      `bad epoch ${leaderEpoch}`,
    );
    const { bytes, headers } =
      scanned === undefined ? this.#checkBatches(batches) : this.#checkScanned(batches, scanned);
    for (const header of headers) {
      if (header.recordCount === 0 || header.lastOffsetDelta !== header.recordCount - 1) {
        throw new LogError(
          'LOG_CORRUPT_BATCH',
          `a producer batch must hold dense records: ${header.recordCount} records, ` +
            `last offset delta ${header.lastOffsetDelta}`,
        );
      }
    }
    const result = await this.#serialized(async (): Promise<LeaderAppendResult> => {
      const latest = this.#epochs.latestEpoch();
      if (latest !== null && leaderEpoch < latest) {
        throw new LogError(
          'LOG_INVALID_EPOCH',
          `leader epoch ${leaderEpoch} is older than ${latest}`,
        );
      }
      const nowMs = this.#deps.clock.wallMs();
      const baseOffset = this.#writtenEndOffset;
      const existing = guard?.beforeAppend(baseOffset) ?? null;
      if (existing !== null) return { ...existing, logAppendTimeMs: nowMs, duplicate: true };
      const appended = stampAsLeader(bytes, headers, baseOffset, leaderEpoch);
      const lastOffset = appended.at(-1)?.lastOffset ?? baseOffset - 1;
      if (latest !== leaderEpoch) {
        // The epoch is durable before any batch of it, so recovery never meets an unknown one.
        this.#epochs.assign(leaderEpoch, baseOffset);
        await this.#writeEpochs();
      }
      await this.#appendBatches(bytes, appended, nowMs);
      guard?.afterAppend(baseOffset, lastOffset);
      return { baseOffset, lastOffset, logAppendTimeMs: nowMs };
    });
    await this.#makeDurable();
    return result;
  }

  /** Keeps the leader's offsets and epochs. Codes: as appendAsLeader, plus LOG_INVALID_OFFSET. */
  async appendAsFollower(batches: Uint8Array): Promise<{ lastOffset: number }> {
    const { bytes, headers } = this.#checkBatches(batches);
    const result = await this.#serialized(async () => {
      let expected = this.#writtenEndOffset;
      let latest = this.#epochs.latestEpoch() ?? -1;
      const newEpochs: { epoch: number; startOffset: number }[] = [];
      const appended: AppendedBatch[] = [];
      for (const header of headers) {
        if (header.baseOffset !== expected) {
          throw new LogError(
            'LOG_INVALID_OFFSET',
            `batch starts at ${header.baseOffset}, the log ends at ${expected}`,
          );
        }
        const epoch = header.partitionLeaderEpoch;
        if (epoch < latest)
          throw new LogError('LOG_INVALID_EPOCH', `batch epoch ${epoch} is older than ${latest}`);
        if (epoch > latest) newEpochs.push({ epoch, startOffset: header.baseOffset });
        latest = Math.max(latest, epoch);
        appended.push({
          baseOffset: header.baseOffset,
          lastOffset: lastOffsetOf(header),
          maxTimestampMs: header.maxTimestampMs,
          sizeBytes: batchSize(header),
          partitionLeaderEpoch: epoch,
        });
        expected = lastOffsetOf(header) + 1;
      }
      for (const entry of newEpochs) this.#epochs.assign(entry.epoch, entry.startOffset);
      if (newEpochs.length > 0) await this.#writeEpochs();
      await this.#appendBatches(bytes, appended, this.#deps.clock.wallMs());
      return { lastOffset: expected - 1 };
    });
    await this.#makeDurable();
    return result;
  }

  /** Validates without decompressing and copies: the caller's buffer is never modified. */
  #checkBatches(batches: Uint8Array): { bytes: Buffer; headers: readonly BatchHeader[] } {
    this.#checkUsable();
    const scan = scanBatches(batches, { batchBytesMax: this.#config.maxMessageBytes });
    if (!scan.ok) throw scan.error;
    if (scan.batches.length === 0)
      throw new LogError('LOG_CORRUPT_BATCH', 'an append needs at least one batch');
    if (batches.length > SEGMENT_POSITION_MAX)
      throw new LogError('LOG_RECORD_TOO_LARGE', `an append of ${batches.length} bytes`);
    return { bytes: Buffer.from(batches), headers: scan.batches };
  }

  /**
   * The checks of #checkBatches but the framing and CRC pass, which the caller already ran:
   * `scanned` is what scanBatches returned for exactly these bytes (a CRC pass costs about as
   * much as the write itself, so a produce must not pay it twice). The bytes are handed over,
   * not copied: offsets and the epoch are stamped into the caller's buffer (a produce body,
   * used once; the copy cost as much as the file write in profiles of produce).
   */
  #checkScanned(
    batches: Uint8Array,
    scanned: readonly BatchHeader[],
  ): { bytes: Buffer; headers: readonly BatchHeader[] } {
    this.#checkUsable();
    let position = 0;
    for (const header of scanned) {
      const size = batchSize(header);
      if (size > this.#config.maxMessageBytes) {
        throw new LogError(
          'LOG_RECORD_TOO_LARGE',
          `batch of ${size} bytes exceeds ${this.#config.maxMessageBytes}`,
        );
      }
      position += size;
    }
    assert(position === batches.length, 'scanned headers must tile exactly these bytes');
    if (scanned.length === 0)
      throw new LogError('LOG_CORRUPT_BATCH', 'an append needs at least one batch');
    if (batches.length > SEGMENT_POSITION_MAX)
      throw new LogError('LOG_RECORD_TOO_LARGE', `an append of ${batches.length} bytes`);
    const bytes = Buffer.isBuffer(batches)
      ? batches
      : Buffer.from(batches.buffer, batches.byteOffset, batches.length);
    return { bytes, headers: scanned };
  }

  async #appendBatches(
    bytes: Buffer,
    batches: readonly AppendedBatch[],
    nowMs: number,
  ): Promise<void> {
    const last = batches.at(-1);
    assert(last !== undefined, 'an append has batches');
    if (this.#shouldRoll(bytes.length, last.lastOffset, nowMs)) await this.#roll(nowMs);
    try {
      await this.#active.append(bytes, batches);
    } catch (cause) {
      throw this.#fail(cause, 'write');
    }
    this.#writtenEndOffset = last.lastOffset + 1;
    if (this.#config.flush.kind !== 'always') this.#visibleEndOffset = this.#writtenEndOffset;
  }

  #shouldRoll(incomingBytes: number, lastOffset: number, nowMs: number): boolean {
    const active = this.#active;
    if (active.sizeBytes === 0) return false;
    if (active.sizeBytes + incomingBytes > this.#config.segmentBytesMax) return true;
    if (nowMs - active.createdAtMs >= this.#config.segmentMsMax) return true;
    return lastOffset - active.baseOffset > 0x7fffffff; // Index offsets are int32 relative.
  }

  /** Seals and syncs the active segment, then starts a new one at the log end. */
  async #roll(nowMs: number): Promise<void> {
    const old = this.#active;
    old.seal();
    try {
      await old.syncAll();
      const next = Segment.create(
        this.#dir,
        old.nextOffset,
        this.#config.indexIntervalBytes,
        nowMs,
        this.#fs,
      );
      syncDirectory(this.#dir, this.#fs);
      this.#segments.push(next);
    } catch (cause) {
      throw this.#fail(cause, 'roll');
    }
    this.#recoveryPoint = old.nextOffset;
    await this.#writeRecoveryPoint(-1);
    this.#makeIdle(old);
  }

  async #makeDurable(): Promise<void> {
    if (this.#config.flush.kind === 'always') await this.#groupCommit.request();
  }

  /** The group-commit sync: whatever was written when it starts is durable when it ends. */
  async #syncActive(): Promise<void> {
    const end = this.#writtenEndOffset;
    const generation = this.#generation;
    const startMs = performance.now();
    try {
      await this.#active.syncLog();
    } catch (cause) {
      throw this.#fail(cause, 'sync');
    }
    this.#deps.onSync?.((performance.now() - startMs) / 1000);
    if (generation === this.#generation && end > this.#visibleEndOffset)
      this.#visibleEndOffset = end;
    if (generation === this.#generation) this.#recoveryPoint = Math.max(this.#recoveryPoint, end);
  }

  /** Syncs everything written so far. Codes: LOG_CLOSED, LOG_STORAGE_ERROR. */
  async flush(): Promise<void> {
    this.#checkUsable();
    await this.#groupCommit.request();
  }

  #scheduleFlush(intervalMs: number): void {
    this.#cancelFlushTimer = this.#deps.clock.schedule(intervalMs, () => {
      this.#cancelFlushTimer = null;
      if (this.#state.kind !== 'open') return;
      const again = (): void => {
        if (this.#state.kind === 'open') this.#scheduleFlush(intervalMs);
      };
      // A failed sync has already fenced the log (see #fail); appends report it from now on.
      void this.#groupCommit.request().then(again, again);
    });
  }

  // ---- reads -------------------------------------------------------------------------------

  /**
   * Whole batches from the one holding `offset`, below min(maxOffsetExclusive, logEndOffset),
   * within `maxBytes` except that a first batch is returned whatever its size. Synchronous
   * inside, so retention or truncation cannot interleave. Codes: LOG_OFFSET_OUT_OF_RANGE,
   * LOG_CORRUPT_BATCH (a damaged header on disk), LOG_CLOSED.
   */
  async read(offset: number, maxBytes: number, maxOffsetExclusive: number): Promise<LogReadResult> {
    this.#checkUsable();
    assert(Number.isSafeInteger(offset), `bad offset ${offset}`);
    assert(Number.isSafeInteger(maxBytes) && maxBytes >= 0, `bad maxBytes ${maxBytes}`);
    assert(
      Number.isSafeInteger(maxOffsetExclusive),
      `bad maxOffsetExclusive ${maxOffsetExclusive}`,
    );
    this.#checkInRange(offset);
    const end = Math.min(maxOffsetExclusive, this.#visibleEndOffset);
    const segment = offset < end ? this.#segmentHolding(offset) : null;
    if (segment === null) return emptyRead(offset);
    this.#useFiles(segment);
    try {
      const found = segment.findBatch(offset);
      assert(found !== null, `segment ${segment.baseOffset} holds ${offset}`);
      if (found.bounds.lastOffset >= end) return emptyRead(offset);
      const start = found.position;
      let position = start + found.bounds.sizeBytes;
      let nextOffset = found.bounds.lastOffset + 1;
      // Batches before an indexed one all end below its offset: jump there when it fits.
      const jump = segment.indexedBatchAtMost(start + maxBytes);
      if (jump !== null && jump.position > position && jump.offset <= end) {
        position = jump.position;
        nextOffset = jump.offset;
      }
      while (position < segment.sizeBytes) {
        const bounds = segment.readBounds(position);
        if (bounds.lastOffset >= end || position + bounds.sizeBytes - start > maxBytes) break;
        position += bounds.sizeBytes;
        nextOffset = bounds.lastOffset + 1;
      }
      return this.#pinnedRead(segment, start, position - start, nextOffset);
    } finally {
      this.#makeIdle(segment);
    }
  }

  #pinnedRead(
    segment: Segment,
    position: number,
    bytes: number,
    nextOffset: number,
  ): LogReadResult {
    const fd = segment.acquire();
    let released = false;
    return {
      slices: [{ fd, position, length: bytes }],
      bytes,
      nextOffset,
      release: () => {
        if (released) return; // Idempotent: API error paths may release twice.
        released = true;
        segment.release();
        this.#makeIdle(segment);
      },
    };
  }

  #checkInRange(offset: number): void {
    if (offset < this.#logStartOffset || offset > this.#visibleEndOffset) {
      throw new LogError(
        'LOG_OFFSET_OUT_OF_RANGE',
        `offset ${offset} is outside [${this.#logStartOffset}, ${this.#visibleEndOffset}]`,
        {
          details: { logStartOffset: this.#logStartOffset, logEndOffset: this.#visibleEndOffset },
        },
      );
    }
  }

  /** The segment whose offsets include `offset` (which must be below the written end). */
  #segmentHolding(offset: number): Segment {
    let low = 0;
    let high = this.#segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if ((this.#segments[middle]?.baseOffset ?? Infinity) <= offset) low = middle;
      else high = middle - 1;
    }
    const segment = this.#segments[low];
    assert(
      segment !== undefined && segment.baseOffset <= offset && offset < segment.nextOffset,
      `no segment holds ${offset}`,
    );
    return segment;
  }

  #useFiles(segment: Segment): void {
    this.#idle.delete(segment);
  }

  /** Puts a closed segment in the idle fd cache, closing the least recently used beyond it. */
  #makeIdle(segment: Segment): void {
    if (segment.isDeleted) return; // Its files close with its last release.
    if (this.#state.kind === 'closed') {
      if (segment.refs === 0) segment.closeFiles();
      return;
    }
    if (segment === this.#active) return;
    this.#idle.delete(segment);
    this.#idle.add(segment);
    for (const candidate of this.#idle) {
      if (this.#idle.size <= IDLE_SEGMENT_FILES_MAX) break;
      if (candidate.refs > 0) continue;
      candidate.closeFiles();
      this.#idle.delete(candidate);
    }
  }

  /** The first offset ≥ the log start whose record timestamp is ≥ `timestampMs`, or null. */
  async offsetForTimestamp(timestampMs: number): Promise<number | null> {
    this.#checkUsable();
    assert(Number.isSafeInteger(timestampMs), `bad timestamp ${timestampMs}`);
    for (const segment of [...this.#segments]) {
      if (segment.isDeleted || segment.nextOffset <= this.#logStartOffset) continue;
      if (segment.maxTimestampMs === NO_TIMESTAMP || segment.maxTimestampMs < timestampMs) continue;
      this.#useFiles(segment);
      segment.acquire();
      try {
        const found = await this.#searchSegment(segment, timestampMs);
        if (found !== null) return found;
      } finally {
        segment.release();
        this.#makeIdle(segment);
      }
    }
    return null;
  }

  async #searchSegment(segment: Segment, timestampMs: number): Promise<number | null> {
    const start = Math.max(segment.scanStartForTimestamp(timestampMs), this.#logStartOffset);
    const end = Math.min(segment.nextOffset, this.#visibleEndOffset);
    if (start >= end) return null;
    const found = segment.findBatch(start);
    assert(found !== null, `segment ${segment.baseOffset} holds ${start}`);
    let { position } = found;
    for (let header = segment.readHeader(position); header.baseOffset < end;) {
      const size = batchSize(header);
      if (header.maxTimestampMs >= timestampMs) {
        const batch = await this.#decodeStored(segment.readBytes(position, size));
        const hit = batch?.records.find(
          (record) =>
            record.timestampMs >= timestampMs &&
            record.offset >= this.#logStartOffset &&
            record.offset < end,
        );
        if (hit !== undefined) return hit.offset;
      }
      position += size;
      if (position >= segment.sizeBytes) break;
      header = segment.readHeader(position);
    }
    return null;
  }

  /** One stored batch decoded, or null if it does not decode (it is skipped, not fatal). */
  async #decodeStored(bytes: Buffer): Promise<DecodedBatch | null> {
    try {
      const [batch] = await decodeBatches(bytes, { maxMessageBytes: this.#config.maxMessageBytes });
      return batch ?? null;
    } catch (error) {
      if (isLogError(error)) return null;
      throw error;
    }
  }

  // ---- truncation, retention, epochs -------------------------------------------------------

  /** Drops every batch holding an offset ≥ `offset` (a batch straddling it goes whole). */
  async truncateTo(offset: number): Promise<void> {
    assert(Number.isSafeInteger(offset) && offset >= 0, `bad offset ${offset}`);
    await this.#serialized(async () => {
      if (offset >= this.#writtenEndOffset) return;
      if (offset < this.#logStartOffset) return this.#truncateFullyAndStartAt(offset);
      const keep = this.#segments.indexOf(this.#segmentHolding(offset));
      for (const later of this.#segments.splice(keep + 1)) this.#deleteSegment(later);
      const segment = this.#active;
      this.#idle.delete(segment);
      const found = segment.findBatch(offset);
      segment.truncateTo(found?.position ?? segment.sizeBytes);
      await this.#afterTruncation();
    });
  }

  /** Empties the log and restarts it at `offset` (a follower far behind a leader's start). */
  async truncateFullyAndStartAt(offset: number): Promise<void> {
    assert(Number.isSafeInteger(offset) && offset >= 0, `bad offset ${offset}`);
    await this.#serialized(() => this.#truncateFullyAndStartAt(offset));
  }

  async #truncateFullyAndStartAt(offset: number): Promise<void> {
    for (const segment of this.#segments.splice(0)) this.#deleteSegment(segment);
    this.#segments.push(
      Segment.create(
        this.#dir,
        offset,
        this.#config.indexIntervalBytes,
        this.#deps.clock.wallMs(),
        this.#fs,
      ),
    );
    syncDirectory(this.#dir, this.#fs);
    this.#logStartOffset = offset;
    this.#epochs.truncateFromEnd(0);
    await this.#afterTruncation();
  }

  /**
   * Brings the offsets in line with the (already cut) segments before the first await, so a
   * read never sees ends that the segments no longer hold; then persists the checkpoints.
   */
  async #afterTruncation(): Promise<void> {
    this.#generation += 1;
    this.#writtenEndOffset = this.#active.nextOffset;
    this.#visibleEndOffset = this.#writtenEndOffset;
    // A cut inside the batch holding the start offset leaves an empty log at the new end.
    this.#logStartOffset = Math.min(this.#logStartOffset, this.#writtenEndOffset);
    this.#recoveryPoint = Math.min(this.#recoveryPoint, this.#writtenEndOffset);
    this.#epochs.truncateFromEnd(this.#writtenEndOffset);
    await this.#writeLogStartOffset();
    await this.#writeEpochs();
    await this.#writeRecoveryPoint(-1);
    await this.#clampCleanerPoint();
  }

  /** Advances the log start; whole segments below it go. Codes: LOG_OFFSET_OUT_OF_RANGE. */
  async deleteRecordsBefore(offset: number): Promise<void> {
    assert(Number.isSafeInteger(offset) && offset >= 0, `bad offset ${offset}`);
    await this.#serialized(async () => {
      if (offset > this.#visibleEndOffset) {
        throw new LogError(
          'LOG_OFFSET_OUT_OF_RANGE',
          `cannot delete before ${offset}: the log ends at ${this.#visibleEndOffset}`,
        );
      }
      await this.#advanceLogStartOffset(offset);
    });
  }

  /** Deletes the oldest closed segments past retention.ms or retention.bytes, never the active. */
  async applyRetention(nowMs: number): Promise<void> {
    assert(Number.isSafeInteger(nowMs), `bad time ${nowMs}`);
    await this.#serialized(async () => {
      const { retentionMs, retentionBytes } = this.#config;
      let totalBytes = this.sizeBytes;
      let expired = 0;
      for (const segment of this.#segments.slice(0, -1)) {
        const tooOld = retentionMs >= 0 && nowMs - segment.maxTimestampMs > retentionMs;
        const tooBig = retentionBytes >= 0 && totalBytes - segment.sizeBytes >= retentionBytes;
        if (!tooOld && !tooBig) break;
        totalBytes -= segment.sizeBytes;
        expired += 1;
      }
      const firstKept = this.#segments[expired];
      assert(firstKept !== undefined, 'retention keeps the active segment');
      if (expired > 0) await this.#advanceLogStartOffset(firstKept.baseOffset);
    });
  }

  async #advanceLogStartOffset(offset: number): Promise<void> {
    if (offset <= this.#logStartOffset) return;
    // The start offset is durable before files go, so a crash between cannot resurrect records.
    this.#logStartOffset = offset;
    await this.#writeLogStartOffset();
    if (this.#epochs.truncateFromStart(offset)) await this.#writeEpochs();
    while (this.#segments.length > 1 && (this.#segments[0]?.nextOffset ?? Infinity) <= offset) {
      const segment = this.#segments.shift();
      if (segment !== undefined) this.#deleteSegment(segment);
    }
  }

  #deleteSegment(segment: Segment): void {
    this.#idle.delete(segment);
    segment.delete();
  }

  latestEpoch(): number | null {
    return this.#epochs.latestEpoch();
  }

  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } | null {
    assert(Number.isInteger(epoch), `bad epoch ${epoch}`);
    return this.#epochs.endOffsetForEpoch(epoch, this.#visibleEndOffset);
  }

  // ---- compaction (./cleaner.ts) -----------------------------------------------------------

  cleanerStatus(limits: CleanableLimits): CleanerStatus {
    return cleanerStatus(this.#segments, this.#cleaner, this.#logStartOffset, limits);
  }

  /**
   * One clean: maps the dirty segments, then rewrites the segments from the log start through
   * the last mapped one, each swapped in atomically (./cleaner-swap.ts) inside the append
   * chain, and moves the cleaner point. Reading and writing happen outside the chain, so
   * appends and reads go on meanwhile. One clean at a time per log. Codes: LOG_CLOSED,
   * LOG_CORRUPT_BATCH (the clean stops; nothing changed), LOG_STORAGE_ERROR.
   */
  async clean(request: CleanRequest): Promise<CleanResult> {
    this.#checkUsable();
    assert(!this.#cleaning, 'one clean at a time per log');
    this.#cleaning = true;
    try {
      return await this.#clean(request);
    } finally {
      this.#cleaning = false;
    }
  }

  async #clean(request: CleanRequest): Promise<CleanResult> {
    const status = this.cleanerStatus(request);
    const from = status.firstDirtyOffset;
    const nothing = { bytesRead: 0, bytesWritten: 0, segmentsRewritten: 0, firstDirtyOffset: from };
    if (status.dirtyBytes === 0) return { outcome: 'nothing-to-clean', ...nothing };
    const io: CleanIo = {
      yieldNow: request.yieldNow,
      maxMessageBytes: this.#config.maxMessageBytes,
      checkOpen: () => this.#checkUsable(),
      afterRead: (segment) => this.#makeIdle(segment),
      fs: this.#fs,
    };
    const segments = this.#segments.filter((s) => s.nextOffset <= status.cleanableEndOffset);
    const end = status.cleanableEndOffset;
    const mapEnd = await buildOffsetMap(segments, from, end, request.offsetMap, io);
    if (mapEnd <= from) return { outcome: 'buffer-too-small', ...nothing };
    let bytesRead = 0;
    let bytesWritten = 0;
    let segmentsRewritten = 0;
    for (const segment of segments) {
      if (segment.baseOffset >= mapEnd) break;
      if (segment.isDeleted) continue; // Retention took it meanwhile.
      const cleanedAt = this.#cleaner.firstCleanedAtMs.get(segment.baseOffset);
      const dropTombstones =
        cleanedAt !== undefined && request.nowMs - cleanedAt > request.deleteRetentionMs;
      const rules = { map: request.offsetMap, mapEnd, dropTombstones };
      const sizeBytes = segment.sizeBytes;
      let result: SegmentCleanResult;
      try {
        result = await cleanSegment(this.#dir, segment, this.#config.indexIntervalBytes, rules, io);
      } catch (error) {
        discardCleaned(this.#dir, segment.baseOffset, this.#fs);
        throw error;
      }
      bytesRead += result.bytesRead;
      const installed =
        result.changed &&
        (await this.#serialized(async () => this.#installCleaned(segment, result, sizeBytes)));
      if (!installed) discardCleaned(this.#dir, segment.baseOffset, this.#fs);
      if (installed) bytesWritten += result.bytesWritten;
      if (installed) segmentsRewritten += 1;
    }
    await this.#serialized(() => this.#moveCleanerPoint(mapEnd, request.nowMs));
    const firstDirtyOffset = this.#cleaner.firstDirtyOffset;
    return { outcome: 'cleaned', bytesRead, bytesWritten, segmentsRewritten, firstDirtyOffset };
  }

  /** Swaps the cleaned copy in for `old`, unless truncation or retention changed it since. */
  #installCleaned(old: Segment, cleaned: SegmentCleanResult, sizeBytes: number): boolean {
    const index = this.#segments.indexOf(old);
    const unchanged = old.sizeBytes === sizeBytes && old.nextOffset === cleaned.staged.nextOffset;
    if (index < 0 || old === this.#active || old.isDeleted || !unchanged) return false;
    const fresh = Segment.existing(
      this.#dir,
      old.baseOffset,
      this.#config.indexIntervalBytes,
      old.createdAtMs,
      this.#fs,
    );
    try {
      for (const step of swapPlan(old.baseOffset)) runSwapStep(this.#dir, step, this.#fs);
      this.#idle.delete(old);
      old.retire();
      if (!fresh.loadTrusted(old.nextOffset)) fresh.recover();
    } catch (cause) {
      throw this.#fail(cause, 'swapping a cleaned segment');
    }
    assert(fresh.nextOffset === old.nextOffset, 'a cleaned segment keeps its offsets');
    this.#segments[index] = fresh;
    this.#makeIdle(fresh);
    return true;
  }

  /** The cleaner point moves to `mapEnd`; segments wholly below it get a first-cleaned time. */
  async #moveCleanerPoint(mapEnd: number, nowMs: number): Promise<void> {
    const firstDirtyOffset = Math.min(mapEnd, this.#writtenEndOffset);
    const firstCleanedAtMs = new Map<number, number>();
    for (const segment of this.#segments) {
      if (segment === this.#active || segment.nextOffset > firstDirtyOffset) break;
      const at = this.#cleaner.firstCleanedAtMs.get(segment.baseOffset) ?? nowMs;
      firstCleanedAtMs.set(segment.baseOffset, at);
    }
    this.#cleaner = { firstDirtyOffset, firstCleanedAtMs };
    await this.#checkpoint(CLEANER_CHECKPOINT_FILE, formatCleanerCheckpoint(this.#cleaner));
  }

  /** A truncation below the cleaner point takes the point down with it. */
  async #clampCleanerPoint(): Promise<void> {
    if (this.#cleaner.firstDirtyOffset <= this.#writtenEndOffset) return;
    const firstCleanedAtMs = new Map(
      [...this.#cleaner.firstCleanedAtMs].filter(([base]) => base < this.#writtenEndOffset),
    );
    this.#cleaner = { firstDirtyOffset: this.#writtenEndOffset, firstCleanedAtMs };
    await this.#checkpoint(CLEANER_CHECKPOINT_FILE, formatCleanerCheckpoint(this.#cleaner));
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /**
   * Finishes queued work, syncs, seals the active segment and marks the log clean; the files
   * close even if that fails. Every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= this.#closeOnce();
    return this.#closed;
  }

  async #closeOnce(): Promise<void> {
    const failed = this.#state.kind === 'failed';
    if (!failed) this.#state = { kind: 'closing' };
    this.#cancelFlushTimer?.();
    this.#cancelFlushTimer = null;
    await this.#tail;
    try {
      if (!failed) {
        await this.#groupCommit.request();
        const active = this.#active;
        active.seal();
        await active.syncAll();
        this.#recoveryPoint = this.#writtenEndOffset;
        await this.#writeRecoveryPoint(active.sizeBytes);
      }
    } finally {
      this.#state = { kind: 'closed' };
      for (const segment of this.#segments) if (segment.refs === 0) segment.closeFiles();
      this.#idle.clear();
    }
  }

  #checkUsable(): void {
    switch (this.#state.kind) {
      case 'open':
        return;
      case 'closing':
      case 'closed':
        throw new LogError('LOG_CLOSED', `the log in ${this.#dir} is closed`);
      case 'failed':
        throw this.#state.error;
    }
  }

  /** Fences the log after a failed write or sync: its state on disk is no longer known. */
  #fail(cause: unknown, what: string): LogError {
    const error = new LogError('LOG_STORAGE_ERROR', `${what} failed in ${this.#dir}`, { cause });
    if (this.#state.kind === 'open') this.#state = { kind: 'failed', error };
    return error;
  }

  /** Runs `work` after all earlier serialized work. Codes: LOG_BUSY, LOG_CLOSED. */
  #serialized<T>(work: () => Promise<T>): Promise<T> {
    this.#checkUsable();
    if (this.#queued >= APPENDS_QUEUED_MAX) {
      return Promise.reject(
        new LogError('LOG_BUSY', `${this.#queued} appends are queued in ${this.#dir}`),
      );
    }
    this.#queued += 1;
    const run = this.#tail.then(() => {
      if (this.#state.kind === 'failed') throw this.#state.error;
      return work();
    });
    // The chain only orders work; each caller receives its own outcome through `run`.
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => {
      this.#queued -= 1;
    });
  }

  #writeRecoveryPoint(cleanBytes: number): Promise<void> {
    const point = { offset: this.#recoveryPoint, cleanBytes };
    return this.#checkpoint(RECOVERY_POINT_FILE, formatRecoveryPoint(point));
  }

  #writeLogStartOffset(): Promise<void> {
    return this.#checkpoint(LOG_START_OFFSET_FILE, formatLogStartOffset(this.#logStartOffset));
  }

  #writeEpochs(): Promise<void> {
    return this.#checkpoint(LEADER_EPOCH_FILE, this.#epochs.serialize());
  }

  /** A checkpoint that cannot be written fences the log like a failed sync. */
  async #checkpoint(name: string, text: string): Promise<void> {
    try {
      await writeCheckpoint(this.#dir, name, text, this.#fs);
    } catch (cause) {
      throw this.#fail(cause, `writing ${name}`);
    }
  }

  /** Cross-checks the in-memory state; tests call it after every step. */
  checkInvariants(): void {
    assert(this.#segments.length > 0, 'at least one segment');
    for (let i = 1; i < this.#segments.length; i += 1) {
      const previous = this.#segments[i - 1];
      const segment = this.#segments[i];
      assert(previous !== undefined && segment !== undefined, 'dense segments');
      assert(previous.nextOffset === segment.baseOffset, 'segments are contiguous');
      assert(previous.sizeBytes > 0, 'only the active segment may be empty');
    }
    assert(
      this.#logStartOffset >= (this.#segments[0]?.baseOffset ?? 0),
      'start within the first segment',
    );
    assert(this.#logStartOffset <= this.#visibleEndOffset, 'start ≤ end');
    assert(this.#visibleEndOffset <= this.#writtenEndOffset, 'visible ≤ written');
    assert(
      this.#writtenEndOffset === this.#active.nextOffset || this.#queued > 0,
      'written end is the active end',
    );
    assert(this.#idle.size <= IDLE_SEGMENT_FILES_MAX + this.#segments.length, 'idle cache bounded');
    this.#epochs.checkInvariants();
  }
}

/** Assigns offsets from `baseOffset` and stamps the epoch, in place in the log's own copy. */
function stampAsLeader(
  bytes: Buffer,
  headers: readonly BatchHeader[],
  baseOffset: number,
  leaderEpoch: number,
): AppendedBatch[] {
  const appended: AppendedBatch[] = [];
  let position = 0;
  let offset = baseOffset;
  for (const header of headers) {
    setBaseOffset(bytes, position, offset);
    setPartitionLeaderEpoch(bytes, position, leaderEpoch);
    const sizeBytes = batchSize(header);
    const lastOffset = offset + header.lastOffsetDelta;
    const { maxTimestampMs } = header;
    appended.push({
      baseOffset: offset,
      lastOffset,
      maxTimestampMs,
      sizeBytes,
      partitionLeaderEpoch: leaderEpoch,
    });
    offset = lastOffset + 1;
    position += sizeBytes;
  }
  return appended;
}

function emptyRead(offset: number): LogReadResult {
  return { slices: [], bytes: 0, nextOffset: offset, release: () => undefined };
}
