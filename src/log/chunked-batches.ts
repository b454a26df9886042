// Decodes batches from a body as it arrived: a list of chunks (HTTP/2 delivers 16 KiB DATA
// frames), without first concatenating them. A batch inside one chunk is decoded in place; a
// plain batch spanning chunks has its CRC chained over the pieces and its records read where
// they lie, copying only a record that itself spans a boundary; a compressed one is copied whole.
// decodeReadableChunks stops at an undecodable batch instead of failing the whole answer.
import { crc32c } from '@node-rs/crc32';
import { assert } from '../common/index.ts';
import type { BatchHeader, StoredRecord } from './contract.ts';
import { compressionFromAttributes } from './compression.ts';
import { LogError } from './errors.ts';
import {
  ATTRIBUTES_AT,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_AT,
  CRC_AT,
  LOG_OVERHEAD_BYTES,
  RECORD_BYTES_MIN,
  TIMESTAMP_TYPE_LOG_APPEND_TIME,
  batchSize,
  checkBatchAt,
  decodeBatches,
  decodeRecordBody,
  readBatchHeader,
  storedRecordOf,
  type DecodedBatch,
  type DecodeOptions,
} from './record-batch.ts';
import { readVarint } from './varint.ts';

/** Absolute positions over a list of chunks; lookups move forward from the last one. */
class Chunks {
  readonly length: number;
  readonly #chunks: readonly Buffer[];
  readonly #starts: number[] = [];
  #hint = 0;

  constructor(chunks: readonly Buffer[]) {
    this.#chunks = chunks;
    let at = 0;
    for (const chunk of chunks) {
      this.#starts.push(at);
      at += chunk.length;
    }
    this.length = at;
  }

  /** The index of the chunk holding `position` (< length). */
  indexOf(position: number): number {
    let i = this.#hint;
    if ((this.#starts[i] ?? 0) > position) i = 0;
    while (i + 1 < this.#starts.length && (this.#starts[i + 1] as number) <= position) i += 1;
    this.#hint = i;
    return i;
  }

  chunk(index: number): Buffer {
    return this.#chunks[index] as Buffer;
  }

  start(index: number): number {
    return this.#starts[index] as number;
  }

  /** [start, end) as a view when one chunk holds it, else as a copy. */
  bytes(start: number, end: number): Buffer {
    assert(start <= end && end <= this.length, `bytes [${start}, ${end}) outside the chunks`);
    if (start === end) return Buffer.alloc(0);
    let i = this.indexOf(start);
    const first = this.chunk(i);
    const from = start - this.start(i);
    if (from + end - start <= first.length) return first.subarray(from, from + end - start);
    const out = Buffer.allocUnsafe(end - start);
    for (let at = start; at < end; i += 1) {
      const chunk = this.chunk(i);
      const offset = at - this.start(i);
      const n = Math.min(chunk.length - offset, end - at);
      chunk.copy(out, at - start, offset, offset + n);
      at += n;
    }
    return out;
  }

  /** CRC-32C of [start, end), chained over the chunks it spans. */
  crc32c(start: number, end: number): number {
    let crc = 0;
    for (let at = start, i = this.indexOf(start); at < end; i += 1) {
      const chunk = this.chunk(i);
      const offset = at - this.start(i);
      const n = Math.min(chunk.length - offset, end - at);
      crc = crc32c(chunk.subarray(offset, offset + n), crc);
      at += n;
    }
    return crc;
  }
}

function corrupt(message: string): LogError {
  return new LogError('LOG_CORRUPT_BATCH', message);
}

/**
 * decodeBatches over `chunks` as if concatenated, with the same checks, codes and result;
 * keys and values are views into the chunks wherever a record lies inside one.
 */
export async function decodeBatchChunks(
  chunks: readonly Buffer[],
  limits: DecodeOptions = {},
): Promise<DecodedBatch[]> {
  if (chunks.length <= 1) return decodeBatches(chunks[0] ?? Buffer.alloc(0), limits);
  const { batches, unreadable } = await decodeChunks(chunks, limits, false);
  assert(unreadable === null, 'decodeChunks throws unless asked to stop');
  return batches;
}

/** A batch that does not decode: its offsets (from its header, when that reads) and why. */
export interface UnreadableBatch {
  readonly baseOffset: number | null;
  /** The offset after the batch: where reading may go on. */
  readonly nextOffset: number | null;
  readonly error: LogError;
}

export interface ReadableBatches {
  /** The batches before the first unreadable one. */
  readonly batches: DecodedBatch[];
  readonly unreadable: UnreadableBatch | null;
}

/**
 * decodeBatchChunks that never throws a LogError: it stops at the first batch that does not
 * decode (bad CRC, framing, records, or decompression past the bound) and reports it, so the
 * batches before it stay readable. Stored data and fetch answers are read this way.
 */
export function decodeReadableChunks(
  chunks: readonly Buffer[],
  limits: DecodeOptions = {},
): Promise<ReadableBatches> {
  return decodeChunks(chunks, limits, true);
}

async function decodeChunks(
  chunks: readonly Buffer[],
  limits: DecodeOptions,
  stopAtUnreadable: boolean,
): Promise<ReadableBatches> {
  const body = new Chunks(chunks);
  const decoded: DecodedBatch[] = [];
  for (let position = 0; position < body.length;) {
    const available = body.length - position;
    const overhead = available >= LOG_OVERHEAD_BYTES ? body.bytes(position, position + 12) : null;
    const size =
      overhead === null ? -1 : overhead.readInt32BE(BATCH_LENGTH_AT) + LOG_OVERHEAD_BYTES;
    if (limits.allowPartialTail === true && (overhead === null || size > available)) break;
    const index = body.indexOf(position);
    const inChunk = position - body.start(index);
    const chunk = body.chunk(index);
    let batch: DecodedBatch;
    try {
      batch =
        size >= BATCH_HEADER_BYTES && inChunk + size <= chunk.length
          ? await decodeWhole(chunk.subarray(inChunk, inChunk + size), position, limits)
          : await decodeSpanning(body, position, size, limits);
    } catch (error) {
      if (!stopAtUnreadable || !(error instanceof LogError)) throw error;
      return { batches: decoded, unreadable: unreadableAt(body, position, error) };
    }
    decoded.push(batch);
    position += batchSize(batch.header);
  }
  return { batches: decoded, unreadable: null };
}

/** The offsets of the batch at `position`, as far as its header can be read. */
function unreadableAt(body: Chunks, position: number, error: LogError): UnreadableBatch {
  if (body.length - position < BATCH_HEADER_BYTES) {
    return { baseOffset: null, nextOffset: null, error };
  }
  try {
    const header = readBatchHeader(body.bytes(position, position + BATCH_HEADER_BYTES), 0);
    const nextOffset = header.baseOffset + Math.max(0, header.lastOffsetDelta) + 1;
    return { baseOffset: header.baseOffset, nextOffset, error };
  } catch (cause) {
    if (!(cause instanceof LogError)) throw cause;
    return { baseOffset: null, nextOffset: null, error };
  }
}

/** The one batch that is all of `bytes`, found at `position` of the body. */
async function decodeWhole(
  bytes: Buffer,
  position: number,
  limits: DecodeOptions,
): Promise<DecodedBatch> {
  try {
    const [batch] = await decodeBatches(bytes, limits);
    assert(batch !== undefined, 'a batch of at least a header decodes to one batch');
    return batch;
  } catch (error) {
    throw error instanceof LogError ? relocate(error, position) : error;
  }
}

/** One batch at `position` that spans chunks (or is cut short: then it fails as usual). */
async function decodeSpanning(
  body: Chunks,
  position: number,
  size: number,
  limits: DecodeOptions,
): Promise<DecodedBatch> {
  const available = body.length - position;
  const head = body.bytes(position, position + Math.min(available, BATCH_HEADER_BYTES));
  const end = position + size;
  const crcMatches = (): boolean =>
    body.crc32c(position + ATTRIBUTES_AT, end) === head.readUInt32BE(CRC_AT);
  const header = checkBatchAt(head, 0, available, limits, crcMatches);
  if (header instanceof LogError) throw relocate(header, position);
  if (compressionFromAttributes(header.attributes) !== 'none') {
    return decodeWhole(body.bytes(position, end), position, limits);
  }
  return { header, records: decodeRecordsSpanning(header, body, position, end) };
}

/** Error messages name positions in the whole body, as decodeBatches' do. */
function relocate(error: LogError, position: number): LogError {
  if (position === 0) return error;
  const message = error.message.replace(/ at 0\b/, ` at ${position}`);
  return new LogError(error.code, message, { cause: error });
}

/** decodeRecords for a plain records section [batch + 61, end) spread over chunks. */
function decodeRecordsSpanning(
  header: BatchHeader,
  body: Chunks,
  batchAt: number,
  end: number,
): StoredRecord[] {
  const sectionBytes = end - batchAt - BATCH_HEADER_BYTES;
  if (header.recordCount * RECORD_BYTES_MIN > sectionBytes) {
    throw corrupt(`${sectionBytes} bytes cannot hold ${header.recordCount} records`);
  }
  const logAppendTime = (header.attributes & TIMESTAMP_TYPE_LOG_APPEND_TIME) !== 0;
  const records: StoredRecord[] = [];
  let at = batchAt + BATCH_HEADER_BYTES;
  for (let i = 0; i < header.recordCount; i += 1) {
    const prefix = body.bytes(at, Math.min(at + 5, end));
    const length = readVarint(prefix, 0, prefix.length, 5);
    const recordEnd = length === null ? -1 : at + length.next + length.value;
    if (length === null || length.value < RECORD_BYTES_MIN - 1 || recordEnd > end) {
      throw corrupt(`record ${i} has length ${length?.value ?? 'unreadable'}`);
    }
    const start = at + length.next;
    const index = body.indexOf(start);
    const offset = start - body.start(index);
    const chunk = body.chunk(index);
    const parsed =
      offset + length.value <= chunk.length
        ? decodeRecordBody(chunk, offset + 1, offset + length.value)
        : decodeRecordBody(body.bytes(start, recordEnd), 1, length.value);
    records.push(storedRecordOf(header, parsed, i, logAppendTime));
    at = recordEnd;
  }
  if (at !== end) throw corrupt(`${end - at} bytes follow the last record`);
  return records;
}
