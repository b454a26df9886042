// Log compaction, as Kafka's LogCleaner: keep the latest record of every key. The log below
// the cleaner point (`firstDirtyOffset`) is clean — each key at most once; from it to the
// cleanable end (the active segment, the HW and min.compaction.lag.ms bound it, whole segments
// only) it is dirty. A clean maps the dirty part (key → last offset, in a bounded OffsetMap;
// when it fills, the clean stops at that batch), then rewrites every segment from the log
// start through the last mapped one, dropping each record whose key has a later offset in the
// map, and tombstones (null values) of segments first cleaned more than delete.retention.ms
// ago. Offsets are kept: a batch keeps its base offset and offset span, an emptied one becomes
// an empty batch, merged with emptied neighbours of the same leader epoch unless it carries a
// producer id. Batches at or above the map's end are copied byte for byte.
import { assert } from '../common/index.ts';
import type { CleanerCheckpoint } from './cleaner-checkpoint.ts';
import { CLEANED_SUFFIX } from './cleaner-swap.ts';
import { compressionFromAttributes, decompress } from './compression.ts';
import type { BatchHeader, CleanableLimits, CleanerStatus, StoredRecord } from './contract.ts';
import type { FilePort } from './file-port.ts';
import { LogError } from './errors.ts';
import type { OffsetMap } from './offset-map.ts';
import {
  BATCH_HEADER_BYTES,
  LOG_OVERHEAD_BYTES,
  batchSize,
  boundOf,
  checkBatch,
  decodeRecords,
  encodeEmptyBatch,
  encodeRetainedBatch,
  lastOffsetOf,
} from './record-batch.ts';
import { Segment, type AppendedBatch } from './segment.ts';

/** Bytes read from a segment at a time. */
export const CLEAN_READ_BYTES_MAX = 256 * 1024;
/**
 * Bytes of batches processed between yields to the event loop: each slice of cleaning work
 * (decode, hash, filter) stays well under a millisecond, so an append, which needs a few
 * turns of the loop (write, fsync), waits behind a few slices at most.
 */
export const CLEAN_YIELD_BYTES = 64 * 1024;
/** Cleaned bytes buffered before one write to the staged segment. */
const CLEAN_WRITE_BYTES_MAX = 1024 * 1024;
/** Kafka's control-batch attribute bit (transaction markers): never cleaned. */
const CONTROL_BATCH_BIT = 0x20;

/** What the cleaner needs to know of a segment to plan. */
export interface SegmentSummary {
  readonly baseOffset: number;
  readonly nextOffset: number;
  readonly sizeBytes: number;
  readonly maxTimestampMs: number;
}

/**
 * Where cleaning may go (pure). `segments` are the log's, oldest first, the last one active.
 * Dirty bytes are counted in whole segments from the one holding the cleaner point.
 */
export function cleanerStatus(
  segments: readonly SegmentSummary[],
  checkpoint: CleanerCheckpoint,
  logStartOffset: number,
  limits: CleanableLimits,
): CleanerStatus {
  const closed = segments.slice(0, -1);
  let cleanableEndOffset = segments[0]?.baseOffset ?? logStartOffset;
  for (const segment of closed) {
    const young = limits.nowMs - segment.maxTimestampMs < limits.minCompactionLagMs;
    if (segment.nextOffset > limits.highWatermark || young) break;
    cleanableEndOffset = segment.nextOffset;
  }
  const firstDirtyOffset = Math.min(
    Math.max(checkpoint.firstDirtyOffset, logStartOffset),
    Math.max(cleanableEndOffset, logStartOffset),
  );
  let cleanBytes = 0;
  let dirtyBytes = 0;
  let firstDirtyTimestampMs: number | null = null;
  for (const segment of closed) {
    if (segment.nextOffset > cleanableEndOffset) break;
    if (segment.nextOffset <= firstDirtyOffset) {
      cleanBytes += segment.sizeBytes;
    } else {
      dirtyBytes += segment.sizeBytes;
      firstDirtyTimestampMs ??= segment.maxTimestampMs;
    }
  }
  const total = cleanBytes + dirtyBytes;
  const dirtyRatio = total === 0 ? 0 : dirtyBytes / total;
  return {
    firstDirtyOffset,
    cleanableEndOffset,
    cleanBytes,
    dirtyBytes,
    dirtyRatio,
    firstDirtyTimestampMs,
  };
}

/** The I/O a clean may do besides its segment files. */
export interface CleanIo {
  /** Lets produce and fetch run: called after every CLEAN_YIELD_BYTES of batches. */
  readonly yieldNow: () => Promise<void>;
  readonly maxMessageBytes: number;
  /** Throws LOG_CLOSED once the log is closing: the clean stops at the next window. */
  readonly checkOpen: () => void;
  /** Hands a segment read from back to the log's fd cache. */
  readonly afterRead: (segment: Segment) => void;
  /** The log's file port (default node:fs): where staged segments are written. */
  readonly fs?: FilePort;
}

/** One stored batch, checked (CRC, framing), and its bytes. */
interface StoredBatch {
  readonly header: BatchHeader;
  readonly bytes: Buffer;
}

/**
 * Visits the batches of `segment` from file position `position` in order, reading windows of
 * at most CLEAN_READ_BYTES_MAX (or one batch, if larger) and yielding between them; stops
 * when `visit` returns false. Codes: LOG_CORRUPT_BATCH (disks lie: every CRC is checked).
 */
export async function forEachBatch(
  segment: Segment,
  position: number,
  io: CleanIo,
  visit: (batch: StoredBatch) => Promise<boolean> | boolean,
): Promise<void> {
  io.checkOpen();
  segment.acquire();
  try {
    let at = position;
    let sinceYield = 0;
    while (at < segment.sizeBytes) {
      io.checkOpen();
      const size = batchSize(segment.readHeader(at));
      const length = Math.min(Math.max(size, CLEAN_READ_BYTES_MAX), segment.sizeBytes - at);
      const window = segment.readBytes(at, length);
      let inWindow = 0;
      while (inWindow + LOG_OVERHEAD_BYTES <= window.length) {
        const batchBytes = LOG_OVERHEAD_BYTES + window.readInt32BE(inWindow + 8);
        if (inWindow + batchBytes > window.length) break;
        const header = checkBatch(window, inWindow);
        if (header instanceof LogError) throw header;
        const bytes = window.subarray(inWindow, inWindow + batchBytes);
        inWindow += batchBytes;
        if (!(await visit({ header, bytes }))) return;
        sinceYield += batchBytes;
        if (sinceYield >= CLEAN_YIELD_BYTES) {
          sinceYield = 0;
          await io.yieldNow();
          io.checkOpen();
        }
      }
      assert(inWindow > 0, 'a window holds at least the batch it was sized for');
      at += inWindow;
    }
    await io.yieldNow(); // And between segments, however small.
  } finally {
    segment.release();
    io.afterRead(segment);
  }
}

/** The records of a stored batch, decompressed within the topic's bound. */
export async function recordsOf(batch: StoredBatch, io: CleanIo): Promise<StoredRecord[]> {
  const codec = compressionFromAttributes(batch.header.attributes);
  assert(codec !== null, 'checkBatch rejects unknown codecs');
  const section = batch.bytes.subarray(BATCH_HEADER_BYTES);
  const plain =
    codec === 'none'
      ? section
      : await decompress(codec, section, boundOf(section, { maxMessageBytes: io.maxMessageBytes }));
  return decodeRecords(batch.header, plain);
}

function isControl(header: BatchHeader): boolean {
  return (header.attributes & CONTROL_BATCH_BIT) !== 0;
}

/**
 * Maps keys → last offsets over the dirty segments, from `from` below `end`; returns the
 * map's end: `end`, or the base of the first batch that no longer fit (then < `end`).
 */
export async function buildOffsetMap(
  segments: readonly Segment[],
  from: number,
  end: number,
  map: OffsetMap,
  io: CleanIo,
): Promise<number> {
  map.clear();
  let mapEnd = from;
  for (const segment of segments) {
    if (segment.nextOffset <= from || segment.baseOffset >= end) continue;
    const start = segment.findBatch(Math.max(from, segment.baseOffset));
    assert(start !== null, `segment ${segment.baseOffset} holds the dirty offsets`);
    let full = false;
    await forEachBatch(segment, start.position, io, async (batch) => {
      if (batch.header.baseOffset >= end) return false;
      if (map.free < batch.header.recordCount) {
        full = true;
        return false;
      }
      if (!isControl(batch.header)) {
        for (const record of await recordsOf(batch, io)) {
          if (record.key !== null) assert(map.put(record.key, record.offset), 'room was checked');
        }
      }
      mapEnd = lastOffsetOf(batch.header) + 1;
      return true;
    });
    if (full) break;
  }
  return mapEnd;
}

/** What decides which records of one segment survive. */
export interface SegmentCleanRules {
  readonly map: OffsetMap;
  /** Batches at or above it were not mapped: copied unchanged. */
  readonly mapEnd: number;
  /** The segment was first cleaned more than delete.retention.ms ago: tombstones go. */
  readonly dropTombstones: boolean;
}

export interface SegmentCleanResult {
  /** Whether any batch differs; if not, the staged files are discarded. */
  readonly changed: boolean;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly staged: Segment;
}

/**
 * Writes the cleaned copy of `segment` as a staged segment (`<base>.*.cleaned`), sealed and
 * synced, ready for ./cleaner-swap.ts. Codes: LOG_CORRUPT_BATCH.
 */
export async function cleanSegment(
  dir: string,
  segment: Segment,
  indexIntervalBytes: number,
  rules: SegmentCleanRules,
  io: CleanIo,
): Promise<SegmentCleanResult> {
  const staged = Segment.createStaged(
    dir,
    segment.baseOffset,
    indexIntervalBytes,
    segment.createdAtMs,
    CLEANED_SUFFIX,
    io.fs,
  );
  const writer = new CleanedWriter(staged);
  let bytesRead = 0;
  try {
    await forEachBatch(segment, 0, io, async (batch) => {
      bytesRead += batch.bytes.length;
      await writer.add(batch, await survivors(batch, rules, io));
      return true;
    });
    await writer.finish();
    assert(staged.nextOffset === segment.nextOffset, 'a cleaned segment keeps its offsets');
    staged.seal();
    await staged.syncAll();
  } finally {
    staged.closeFiles();
  }
  return { changed: writer.changed, bytesRead, bytesWritten: staged.sizeBytes, staged };
}

/** The records of `batch` to keep, or null when the batch is kept byte for byte. */
async function survivors(
  batch: StoredBatch,
  rules: SegmentCleanRules,
  io: CleanIo,
): Promise<StoredRecord[] | null> {
  const { header } = batch;
  if (header.baseOffset >= rules.mapEnd || isControl(header)) return null;
  if (header.recordCount === 0) return [];
  const records = await recordsOf(batch, io);
  const kept = records.filter((record) => {
    if (record.key === null) return true; // Kafka refuses them on compacted topics; kept.
    if (rules.map.get(record.key) > record.offset) return false;
    return !(record.value === null && rules.dropTombstones);
  });
  return kept.length === records.length ? null : kept;
}

/** A run of emptied batches waiting to be written as one empty batch. */
interface EmptyRun {
  readonly first: StoredBatch;
  lastOffset: number;
  maxTimestampMs: number;
  count: number;
}

/** Buffers cleaned batches and writes them to the staged segment in large writes. */
class CleanedWriter {
  readonly #staged: Segment;
  #pending: Buffer[] = [];
  #batches: AppendedBatch[] = [];
  #pendingBytes = 0;
  #run: EmptyRun | null = null;
  changed = false;

  constructor(staged: Segment) {
    this.#staged = staged;
  }

  /** `kept` null: the batch unchanged; [] an emptied batch; else its surviving records. */
  async add(batch: StoredBatch, kept: StoredRecord[] | null): Promise<void> {
    const { header } = batch;
    const mergeable = kept !== null && kept.length === 0 && header.producerId < 0n;
    const run = this.#run;
    if (
      mergeable &&
      run !== null &&
      run.first.header.partitionLeaderEpoch === header.partitionLeaderEpoch
    ) {
      run.lastOffset = lastOffsetOf(header);
      run.maxTimestampMs = Math.max(run.maxTimestampMs, header.maxTimestampMs);
      run.count += 1;
      return;
    }
    await this.#flushRun();
    if (mergeable) {
      const lastOffset = lastOffsetOf(header);
      this.#run = { first: batch, lastOffset, maxTimestampMs: header.maxTimestampMs, count: 1 };
    } else if (kept === null || (kept.length === 0 && header.recordCount === 0)) {
      await this.#push(header, batch.bytes);
    } else if (kept.length === 0) {
      this.changed = true;
      await this.#push(
        header,
        encodeEmptyBatch(header, lastOffsetOf(header), header.maxTimestampMs),
      );
    } else {
      this.changed = true;
      await this.#push(header, await encodeRetainedBatch(header, kept));
    }
  }

  async finish(): Promise<void> {
    await this.#flushRun();
    await this.#write();
  }

  async #flushRun(): Promise<void> {
    const run = this.#run;
    if (run === null) return;
    this.#run = null;
    const { header } = run.first;
    if (run.count === 1 && header.recordCount === 0) return this.#push(header, run.first.bytes);
    this.changed = true;
    const { lastOffset, maxTimestampMs } = run;
    const bytes = encodeEmptyBatch(header, lastOffset, maxTimestampMs);
    await this.#push(
      { ...header, lastOffsetDelta: lastOffset - header.baseOffset, maxTimestampMs },
      bytes,
    );
  }

  async #push(header: BatchHeader, bytes: Buffer): Promise<void> {
    this.#pending.push(bytes);
    this.#batches.push({
      baseOffset: header.baseOffset,
      lastOffset: lastOffsetOf(header),
      maxTimestampMs: header.maxTimestampMs,
      sizeBytes: bytes.length,
      partitionLeaderEpoch: header.partitionLeaderEpoch,
    });
    this.#pendingBytes += bytes.length;
    if (this.#pendingBytes >= CLEAN_WRITE_BYTES_MAX) await this.#write();
  }

  async #write(): Promise<void> {
    if (this.#pending.length === 0) return;
    await this.#staged.append(Buffer.concat(this.#pending), this.#batches);
    this.#pending = [];
    this.#batches = [];
    this.#pendingBytes = 0;
  }
}
