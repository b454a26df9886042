// One segment of a partition log: `<base offset, 20 digits>.log` holding whole RecordBatch v2
// batches back to back, with its sparse `.index` and `.timeindex` (see ./offset-index.ts).
// Invariants: the log file holds exactly `sizeBytes` bytes of CRC-valid batches with dense
// offsets from `baseOffset` to `nextOffset` - 1. Memory per segment is O(1): the indexes stay
// on disk and are searched with small positional reads; files are opened only while needed.
import { constants } from 'node:fs';
import { join } from 'node:path';
import { assert } from '../common/index.ts';
import type { BatchHeader } from './contract.ts';
import type { EpochEntry } from './leader-epoch-cache.ts';
import { LogError } from './errors.ts';
import { nodeFilePort, type FilePort } from './file-port.ts';
import { IndexFile } from './index-file.ts';
import {
  OFFSET_INDEX_ENTRY_BYTES,
  TIME_INDEX_ENTRY_BYTES,
  decodeOffsetIndexEntry,
  decodeTimeIndexEntry,
  encodeOffsetIndexEntry,
  encodeTimeIndexEntry,
  largestAtMost,
  type OffsetIndexEntry,
  type TimeIndexEntry,
} from './offset-index.ts';
import {
  BASE_OFFSET_AT,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_AT,
  LAST_OFFSET_DELTA_AT,
  LOG_OVERHEAD_BYTES,
  MAGIC,
  MAGIC_AT,
  batchSize,
  checkBatch,
  lastOffsetOf,
  readBatchHeader,
} from './record-batch.ts';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';
/** A segment with no records has no timestamp. */
export const NO_TIMESTAMP = Number.NEGATIVE_INFINITY;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}

/** The base offset named by a segment file, or null for any other name. */
export function parseSegmentFileName(name: string, suffix: string): number | null {
  if (!name.endsWith(suffix)) return null;
  const digits = name.slice(0, -suffix.length);
  if (!/^\d{20}$/.test(digits)) return null;
  const value = Number(digits);
  return Number.isSafeInteger(value) ? value : null;
}

/** What the partition log knows about a batch it appends (offsets already assigned). */
export interface AppendedBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestampMs: number;
  readonly sizeBytes: number;
  readonly partitionLeaderEpoch: number;
}

/** Where a batch sits in the offset space and how many bytes it takes. */
export interface BatchBounds {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly sizeBytes: number;
}

/** Bytes of a batch header up to and including lastOffsetDelta. */
const BOUNDS_BYTES = LAST_OFFSET_DELTA_AT + 4;

export interface RecoveryResult {
  readonly truncatedBytes: number;
  /** Each batch epoch that is newer than the one before it, with the batch's base offset. */
  readonly epochs: readonly EpochEntry[];
}

interface Files {
  readonly log: number;
  readonly index: number;
  readonly timeIndex: number;
}

export class Segment {
  readonly baseOffset: number;
  readonly #paths: { readonly log: string; readonly index: string; readonly timeIndex: string };
  readonly #indexIntervalBytes: number;
  readonly #fs: FilePort;
  #files: Files | null = null;
  /** Whole batches in the log file; bytes past it (an append in flight) are not readable. */
  #sizeBytes = 0;
  #nextOffset: number;
  #maxTimestampMs = NO_TIMESTAMP;
  readonly #offsetIndex: IndexFile<OffsetIndexEntry>;
  readonly #timeIndex: IndexFile<TimeIndexEntry>;
  #bytesSinceIndexEntry = 0;
  #createdAtMs: number;
  /** Readers holding file slices, plus writes and syncs in flight: files stay open while > 0. */
  #refs = 0;
  #deleted = false;

  private constructor(
    dir: string,
    baseOffset: number,
    indexIntervalBytes: number,
    nowMs: number,
    fs: FilePort,
    stagingSuffix = '',
  ) {
    assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, `bad base offset ${baseOffset}`);
    assert(indexIntervalBytes > 0, 'indexIntervalBytes must be positive');
    this.baseOffset = baseOffset;
    this.#nextOffset = baseOffset;
    this.#indexIntervalBytes = indexIntervalBytes;
    this.#fs = fs;
    this.#offsetIndex = new IndexFile(
      OFFSET_INDEX_ENTRY_BYTES,
      encodeOffsetIndexEntry,
      decodeOffsetIndexEntry,
      fs,
    );
    this.#timeIndex = new IndexFile(
      TIME_INDEX_ENTRY_BYTES,
      encodeTimeIndexEntry,
      decodeTimeIndexEntry,
      fs,
    );
    this.#createdAtMs = nowMs;
    this.#paths = {
      log: join(dir, segmentFileName(baseOffset, LOG_SUFFIX) + stagingSuffix),
      index: join(dir, segmentFileName(baseOffset, INDEX_SUFFIX) + stagingSuffix),
      timeIndex: join(dir, segmentFileName(baseOffset, TIME_INDEX_SUFFIX) + stagingSuffix),
    };
  }

  /**
   * A new, empty segment written under staged names (`<base>.log<suffix>` …): the log
   * cleaner's output, renamed over the live files by ./cleaner-swap.ts once complete.
   */
  static createStaged(
    dir: string,
    baseOffset: number,
    indexIntervalBytes: number,
    nowMs: number,
    stagingSuffix: string,
    fs: FilePort = nodeFilePort,
  ): Segment {
    assert(stagingSuffix.length > 0, 'a staged segment has a suffix');
    const segment = new Segment(dir, baseOffset, indexIntervalBytes, nowMs, fs, stagingSuffix);
    segment.#createFiles();
    return segment;
  }

  /** A new, empty segment; its files are created (or emptied) and open. */
  static create(
    dir: string,
    baseOffset: number,
    indexIntervalBytes: number,
    nowMs: number,
    fs: FilePort = nodeFilePort,
  ): Segment {
    const segment = new Segment(dir, baseOffset, indexIntervalBytes, nowMs, fs);
    segment.#createFiles();
    return segment;
  }

  /** Creates (or empties) the three files and opens them. */
  #createFiles(): void {
    const fs = this.#fs;
    for (const path of Object.values(this.#paths)) fs.closeSync(fs.openSync(path, 'w'));
    this.#openFiles();
  }

  /** An existing segment whose state is set by `loadTrusted` or `recover` next. */
  static existing(
    dir: string,
    baseOffset: number,
    indexIntervalBytes: number,
    nowMs: number,
    fs: FilePort = nodeFilePort,
  ): Segment {
    return new Segment(dir, baseOffset, indexIntervalBytes, nowMs, fs);
  }

  get sizeBytes(): number {
    return this.#sizeBytes;
  }
  get nextOffset(): number {
    return this.#nextOffset;
  }
  get maxTimestampMs(): number {
    return this.#maxTimestampMs;
  }
  get createdAtMs(): number {
    return this.#createdAtMs;
  }
  get refs(): number {
    return this.#refs;
  }
  get hasOpenFiles(): boolean {
    return this.#files !== null;
  }
  get isDeleted(): boolean {
    return this.#deleted;
  }

  /** Opens the files if needed and pins them until `release()`. */
  acquire(): number {
    assert(!this.#deleted, `segment ${this.baseOffset} is deleted`);
    const files = this.#openFiles();
    this.#refs += 1;
    return files.log;
  }

  release(): void {
    assert(this.#refs > 0, `segment ${this.baseOffset} released more than acquired`);
    this.#refs -= 1;
    if (this.#refs === 0 && this.#deleted) this.closeFiles();
  }

  /** Closes the files of an idle segment; they reopen on the next use. */
  closeFiles(): void {
    assert(this.#refs === 0, `segment ${this.baseOffset} closed while in use`);
    if (this.#files === null) return;
    if (!this.#deleted) this.#flushIndexes();
    this.#fs.closeSync(this.#files.log);
    this.#fs.closeSync(this.#files.index);
    this.#fs.closeSync(this.#files.timeIndex);
    this.#files = null;
  }

  #openFiles(): Files {
    if (this.#files !== null) return this.#files;
    const indexFlags = constants.O_RDWR | constants.O_CREAT;
    const fs = this.#fs;
    const log = fs.openSync(this.#paths.log, constants.O_RDWR);
    this.#files = {
      log,
      index: fs.openSync(this.#paths.index, indexFlags),
      timeIndex: fs.openSync(this.#paths.timeIndex, indexFlags),
    };
    return this.#files;
  }

  /** Unlinks the files; readers still holding slices keep reading until they release. */
  delete(): void {
    if (this.#deleted) return;
    this.#deleted = true;
    for (const path of [this.#paths.log, this.#paths.index, this.#paths.timeIndex]) {
      try {
        this.#fs.unlinkSync(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    if (this.#refs === 0) this.closeFiles();
  }

  /**
   * Takes the segment out of use without unlinking: its files were replaced by a cleaned
   * version under the same names, which readers still holding slices do not see.
   */
  retire(): void {
    if (this.#deleted) return;
    this.#deleted = true; // So closeFiles writes nothing back under names no longer its own.
    if (this.#refs === 0) this.closeFiles();
  }

  // ---- appends -------------------------------------------------------------------------

  /** Writes whole batches at the end; the caller serializes appends and checked the batches. */
  async append(bytes: Buffer, batches: readonly AppendedBatch[]): Promise<void> {
    const first = batches[0];
    assert(first !== undefined, 'append needs batches');
    assert(
      first.baseOffset === this.#nextOffset,
      `append at ${first.baseOffset}, end ${this.#nextOffset}`,
    );
    const position = this.#sizeBytes;
    const fd = this.acquire();
    try {
      for (let written = 0; written < bytes.length;) {
        const { bytesWritten } = await this.#fs.write(
          fd,
          bytes,
          written,
          bytes.length - written,
          position + written,
        );
        written += bytesWritten;
      }
    } finally {
      this.release();
    }
    let at = position;
    for (const batch of batches) {
      assert(batch.baseOffset === this.#nextOffset, 'batches continue one another');
      this.#indexBatch(batch, at);
      at += batch.sizeBytes;
      this.#nextOffset = batch.lastOffset + 1;
    }
    assert(at === position + bytes.length, 'batch sizes add up to the bytes written');
    this.#sizeBytes = at;
  }

  /** Adds index entries when due (Kafka's cadence), before counting the batch's bytes. */
  #indexBatch(batch: AppendedBatch, position: number): void {
    if (this.#bytesSinceIndexEntry >= this.#indexIntervalBytes) {
      const relativeOffset = batch.baseOffset - this.baseOffset;
      // Time entry: every record before this batch has a timestamp ≤ the max so far.
      const lastTime = this.#timeIndex.last;
      if (
        this.#maxTimestampMs !== NO_TIMESTAMP &&
        (lastTime === null || this.#maxTimestampMs > lastTime.timestampMs)
      ) {
        this.#appendTimeIndexEntry({ timestampMs: this.#maxTimestampMs, relativeOffset });
      }
      this.#offsetIndex.append(this.#openFiles().index, { relativeOffset, position });
      this.#bytesSinceIndexEntry = 0;
    }
    this.#bytesSinceIndexEntry += batch.sizeBytes;
    this.#maxTimestampMs = Math.max(this.#maxTimestampMs, batch.maxTimestampMs);
  }

  #appendTimeIndexEntry(entry: TimeIndexEntry): void {
    this.#timeIndex.append(this.#openFiles().timeIndex, entry);
  }

  /** Writes buffered index entries to their files (not synced). */
  #flushIndexes(): void {
    const files = this.#openFiles();
    this.#offsetIndex.flush(files.index);
    this.#timeIndex.flush(files.timeIndex);
  }

  /**
   * Writes the closing time entry (max timestamp, next offset) that `loadTrusted` checks, so a
   * reopened segment knows its exact max timestamp. Called at roll and at clean close.
   */
  seal(): void {
    const relativeOffset = this.#nextOffset - this.baseOffset;
    const last = this.#timeIndex.last;
    const due = last === null || last.relativeOffset < relativeOffset;
    if (this.#maxTimestampMs !== NO_TIMESTAMP && due) {
      this.#appendTimeIndexEntry({ timestampMs: this.#maxTimestampMs, relativeOffset });
    }
    this.#flushIndexes();
  }

  /** fdatasync of the log file (the indexes are rebuilt by recovery if they lag). */
  async syncLog(): Promise<void> {
    const fd = this.acquire();
    try {
      await this.#fs.fdatasync(fd);
    } finally {
      this.release();
    }
  }

  /** fdatasync of all three files: at roll and clean close, when the indexes become trusted. */
  async syncAll(): Promise<void> {
    this.acquire();
    try {
      this.#flushIndexes();
      const files = this.#openFiles();
      const fs = this.#fs;
      await Promise.all([
        fs.fdatasync(files.log),
        fs.fdatasync(files.index),
        fs.fdatasync(files.timeIndex),
      ]);
    } finally {
      this.release();
    }
  }

  // ---- reads (synchronous: page-cache reads of a few bytes, and a consistent snapshot) ------

  /** The header of the batch at `position`, checked for sanity (not CRC) against the file. */
  readHeader(position: number): BatchHeader {
    const bytes = this.readBytes(position, BATCH_HEADER_BYTES);
    const header = readBatchHeader(bytes, 0);
    const size = batchSize(header);
    if (
      header.magic !== MAGIC ||
      header.batchLength < BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES ||
      position + size > this.#sizeBytes
    ) {
      throw new LogError(
        'LOG_CORRUPT_BATCH',
        `segment ${this.baseOffset}: bad batch header at ${position}`,
      );
    }
    return header;
  }

  readBytes(position: number, length: number): Buffer {
    const bytes = Buffer.allocUnsafe(length);
    const fd = this.#openFiles().log;
    let done = 0;
    while (done < length) {
      const read = this.#fs.readSync(fd, bytes, done, length - done, position + done);
      if (read === 0) {
        throw new LogError(
          'LOG_CORRUPT_BATCH',
          `segment ${this.baseOffset} ends before ${position + length}`,
        );
      }
      done += read;
    }
    return bytes;
  }

  /**
   * The offsets and size of the batch at `position`, from its first 27 bytes: the cheap walk
   * that reads and look-ups use. Checked for sanity (not CRC) against the file.
   */
  readBounds(position: number): BatchBounds {
    const bytes = this.readBytes(position, BOUNDS_BYTES);
    const high = bytes.readInt32BE(BASE_OFFSET_AT);
    const baseOffset = high * 2 ** 32 + bytes.readUInt32BE(BASE_OFFSET_AT + 4);
    const sizeBytes = bytes.readInt32BE(BATCH_LENGTH_AT) + LOG_OVERHEAD_BYTES;
    const lastOffsetDelta = bytes.readInt32BE(LAST_OFFSET_DELTA_AT);
    const sane =
      high >= 0 &&
      Number.isSafeInteger(baseOffset) &&
      bytes.readInt8(MAGIC_AT) === MAGIC &&
      sizeBytes >= BATCH_HEADER_BYTES &&
      position + sizeBytes <= this.#sizeBytes &&
      lastOffsetDelta >= 0;
    if (!sane) {
      throw new LogError(
        'LOG_CORRUPT_BATCH',
        `segment ${this.baseOffset}: bad batch at ${position}`,
      );
    }
    return { baseOffset, lastOffset: baseOffset + lastOffsetDelta, sizeBytes };
  }

  /** The batch containing `offset`, or null when it is at or past this segment's end. */
  findBatch(offset: number): { position: number; bounds: BatchBounds } | null {
    assert(offset >= this.baseOffset, `offset ${offset} is below segment ${this.baseOffset}`);
    if (offset >= this.#nextOffset) return null;
    let position = this.#indexPositionFor(offset - this.baseOffset);
    while (position < this.#sizeBytes) {
      const bounds = this.readBounds(position);
      if (bounds.lastOffset >= offset) return { position, bounds };
      position += bounds.sizeBytes;
    }
    throw new LogError('LOG_CORRUPT_BATCH', `segment ${this.baseOffset} lacks offset ${offset}`);
  }

  /** The indexed batch with the largest position ≤ `positionMax`, or null: lets reads skip ahead. */
  indexedBatchAtMost(positionMax: number): { offset: number; position: number } | null {
    const index = this.#offsetIndex;
    const last = index.last;
    let entry: OffsetIndexEntry | undefined;
    if (last !== null && last.position <= positionMax) {
      entry = last;
    } else {
      const entryAt = index.reader(this.#openFiles().index);
      const found = largestAtMost(index.count, (i) => entryAt(i).position, positionMax);
      if (found >= 0) entry = entryAt(found);
    }
    return entry === undefined
      ? null
      : { offset: this.baseOffset + entry.relativeOffset, position: entry.position };
  }

  /** The file position of the latest indexed batch at or before `relativeOffset`. */
  #indexPositionFor(relativeOffset: number): number {
    const index = this.#offsetIndex;
    const last = index.last;
    if (last !== null && last.relativeOffset <= relativeOffset) return last.position;
    const entryAt = index.reader(this.#openFiles().index);
    const found = largestAtMost(index.count, (i) => entryAt(i).relativeOffset, relativeOffset);
    return found < 0 ? 0 : entryAt(found).position;
  }

  /** An offset from which to scan for the first record with timestamp ≥ `timestampMs`. */
  scanStartForTimestamp(timestampMs: number): number {
    const index = this.#timeIndex;
    const entryAt = index.reader(this.#openFiles().timeIndex);
    // Entries with a timestamp < target promise that nothing before their offset qualifies.
    const found = largestAtMost(index.count, (i) => entryAt(i).timestampMs, timestampMs - 1);
    const start = found < 0 ? 0 : entryAt(found).relativeOffset;
    return Math.min(this.baseOffset + start, this.#nextOffset);
  }

  // ---- opening -------------------------------------------------------------------------

  /**
   * Adopts the files as they are, after cheap checks: index sizes are whole entries, the last
   * offset entry points inside the log, and the closing time entry names `nextOffset`.
   * Returns false when a check fails; the caller then recovers the segment.
   */
  loadTrusted(nextOffset: number): boolean {
    assert(nextOffset >= this.baseOffset, 'a segment cannot end before it starts');
    const files = this.#openFiles();
    const logBytes = this.#fs.fstatSync(files.log).size;
    const indexBytes = this.#fs.fstatSync(files.index).size;
    const timeBytes = this.#fs.fstatSync(files.timeIndex).size;
    if (indexBytes % OFFSET_INDEX_ENTRY_BYTES !== 0 || timeBytes % TIME_INDEX_ENTRY_BYTES !== 0)
      return false;
    if (logBytes === 0)
      return nextOffset === this.baseOffset && indexBytes === 0 && timeBytes === 0;
    const indexEntries = indexBytes / OFFSET_INDEX_ENTRY_BYTES;
    const timeEntries = timeBytes / TIME_INDEX_ENTRY_BYTES;
    if (timeEntries === 0 || nextOffset === this.baseOffset) return false;
    const lastTime = decodeTimeIndexEntry(
      this.#readAt(
        files.timeIndex,
        (timeEntries - 1) * TIME_INDEX_ENTRY_BYTES,
        TIME_INDEX_ENTRY_BYTES,
      ),
    );
    if (
      !Number.isSafeInteger(lastTime.timestampMs) ||
      lastTime.relativeOffset !== nextOffset - this.baseOffset
    )
      return false;
    let lastIndex: OffsetIndexEntry | null = null;
    if (indexEntries > 0) {
      lastIndex = decodeOffsetIndexEntry(
        this.#readAt(files.index, indexBytes - OFFSET_INDEX_ENTRY_BYTES, OFFSET_INDEX_ENTRY_BYTES),
      );
      const offsetOk =
        lastIndex.relativeOffset > 0 && this.baseOffset + lastIndex.relativeOffset < nextOffset;
      if (!offsetOk || lastIndex.position <= 0 || lastIndex.position >= logBytes) return false;
    }
    this.#sizeBytes = logBytes;
    this.#nextOffset = nextOffset;
    this.#maxTimestampMs = lastTime.timestampMs;
    this.#offsetIndex.adopt(indexEntries, lastIndex);
    this.#timeIndex.adopt(timeEntries, lastTime);
    this.#bytesSinceIndexEntry = logBytes - (lastIndex?.position ?? 0);
    return true;
  }

  #readAt(fd: number, position: number, length: number): Buffer {
    const bytes = Buffer.alloc(length);
    this.#fs.readSync(fd, bytes, 0, length, position);
    return bytes;
  }

  /**
   * Validates every batch by CRC, magic, length and offset continuity from the start, cuts
   * the file after the last good batch, and rebuilds both indexes from scratch.
   */
  recover(): RecoveryResult {
    const files = this.#openFiles();
    this.#fs.ftruncateSync(files.index, 0);
    this.#fs.ftruncateSync(files.timeIndex, 0);
    this.#resetState();
    const fileBytes = this.#fs.fstatSync(files.log).size;
    const epochs: EpochEntry[] = [];
    let position = 0;
    while (fileBytes - position >= BATCH_HEADER_BYTES) {
      const prefix = this.#readAt(files.log, position, LOG_OVERHEAD_BYTES);
      const size = prefix.readInt32BE(8) + LOG_OVERHEAD_BYTES;
      if (size < BATCH_HEADER_BYTES || position + size > fileBytes) break;
      const header = checkBatch(this.#readAt(files.log, position, size), 0);
      if (header instanceof LogError || header.baseOffset !== this.#nextOffset) break;
      const epoch = header.partitionLeaderEpoch;
      if (epoch >= 0 && epoch > (epochs.at(-1)?.epoch ?? -1))
        epochs.push({ epoch, startOffset: header.baseOffset });
      const batch = {
        baseOffset: header.baseOffset,
        lastOffset: lastOffsetOf(header),
        maxTimestampMs: header.maxTimestampMs,
        sizeBytes: size,
        partitionLeaderEpoch: epoch,
      };
      this.#indexBatch(batch, position);
      this.#nextOffset = batch.lastOffset + 1;
      position += size;
    }
    if (position < fileBytes) this.#fs.ftruncateSync(files.log, position);
    this.#sizeBytes = position;
    this.#flushIndexes();
    return { truncatedBytes: fileBytes - position, epochs };
  }

  #resetState(): void {
    this.#sizeBytes = 0;
    this.#nextOffset = this.baseOffset;
    this.#maxTimestampMs = NO_TIMESTAMP;
    this.#offsetIndex.reset();
    this.#timeIndex.reset();
    this.#bytesSinceIndexEntry = 0;
  }

  /** Cuts the log at `position` (a batch boundary) and rebuilds the indexes. */
  truncateTo(position: number): RecoveryResult {
    assert(position >= 0 && position <= this.#sizeBytes, `truncate to ${position}`);
    this.#fs.ftruncateSync(this.#openFiles().log, position);
    const result = this.recover();
    assert(this.#sizeBytes === position, 'a truncated segment keeps every batch before the cut');
    return result;
  }
}
