// The sparse index formats of a segment (pure codecs; the files are read and written by
// ./segment.ts). `.index`: entries of (relative base offset int32, file position int32), one
// per `indexIntervalBytes` of log. `.timeindex`: entries of (timestamp int64, relative offset
// int32) meaning "every record before that offset has a timestamp ≤ this one". Both are
// strictly increasing in every field, big-endian, and only hints: recovery rebuilds them.
import { assert } from '../common/index.ts';

export const OFFSET_INDEX_ENTRY_BYTES = 8;
export const TIME_INDEX_ENTRY_BYTES = 12;

export interface OffsetIndexEntry {
  readonly relativeOffset: number;
  readonly position: number;
}

export interface TimeIndexEntry {
  readonly timestampMs: number;
  readonly relativeOffset: number;
}

export function encodeOffsetIndexEntry(entry: OffsetIndexEntry): Buffer {
  assert(entry.relativeOffset >= 0 && entry.relativeOffset <= 0x7fffffff, 'relative offset');
  assert(entry.position >= 0 && entry.position <= 0x7fffffff, 'index position');
  const bytes = Buffer.alloc(OFFSET_INDEX_ENTRY_BYTES);
  bytes.writeInt32BE(entry.relativeOffset, 0);
  bytes.writeInt32BE(entry.position, 4);
  return bytes;
}

export function decodeOffsetIndexEntry(bytes: Buffer): OffsetIndexEntry {
  return { relativeOffset: bytes.readInt32BE(0), position: bytes.readInt32BE(4) };
}

export function encodeTimeIndexEntry(entry: TimeIndexEntry): Buffer {
  assert(Number.isSafeInteger(entry.timestampMs), 'time index timestamp');
  assert(entry.relativeOffset >= 0 && entry.relativeOffset <= 0x7fffffff, 'relative offset');
  const bytes = Buffer.alloc(TIME_INDEX_ENTRY_BYTES);
  bytes.writeBigInt64BE(BigInt(entry.timestampMs), 0);
  bytes.writeInt32BE(entry.relativeOffset, 8);
  return bytes;
}

export function decodeTimeIndexEntry(bytes: Buffer): TimeIndexEntry {
  const timestamp = bytes.readBigInt64BE(0);
  const safe =
    timestamp <= BigInt(Number.MAX_SAFE_INTEGER) && timestamp >= BigInt(-Number.MAX_SAFE_INTEGER);
  return {
    timestampMs: safe ? Number(timestamp) : Number.NaN,
    relativeOffset: bytes.readInt32BE(8),
  };
}

/**
 * The largest index i in [0, count) with keyAt(i) ≤ target (keys increasing), or -1.
 * `keyAt` reads one entry, so a lookup costs about log2(count) small reads.
 */
export function largestAtMost(count: number, keyAt: (i: number) => number, target: number): number {
  let low = 0;
  let high = count - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (keyAt(middle) <= target) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}
