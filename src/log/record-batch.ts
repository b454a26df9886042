// Kafka's RecordBatch v2 (magic 2), byte for byte: the unit of write, storage, replication and
// fetch. Layout (big-endian; see docs/format.md): baseOffset i64 · batchLength i32 ·
// partitionLeaderEpoch i32 · magic i8 · crc u32 · attributes i16 · lastOffsetDelta i32 ·
// baseTimestamp i64 · maxTimestamp i64 · producerId i64 · producerEpoch i16 ·
// baseSequence i32 · recordCount i32 · records. The CRC-32C covers attributes to the end, so
// the first three fields can be rewritten in place (the leader assigns offsets, stamps its epoch).
import { crc32c } from '@node-rs/crc32';
import { assert } from '../common/index.ts';
import type { BatchHeader, Compression, LogRecord, StoredRecord } from './contract.ts';
import {
  compress,
  compressionCodecIds,
  compressionFromAttributes,
  decompress,
  decompressedBytesBound,
} from './compression.ts';
import { LogError } from './errors.ts';
import { readVarint, varintSize, writeVarint } from './varint.ts';

/** Byte positions of the header fields. */
export const BASE_OFFSET_AT = 0;
export const BATCH_LENGTH_AT = 8;
export const PARTITION_LEADER_EPOCH_AT = 12;
export const MAGIC_AT = 16;
export const CRC_AT = 17;
export const ATTRIBUTES_AT = 21;
export const LAST_OFFSET_DELTA_AT = 23;
export const BASE_TIMESTAMP_AT = 27;
export const MAX_TIMESTAMP_AT = 35;
export const PRODUCER_ID_AT = 43;
export const PRODUCER_EPOCH_AT = 51;
export const BASE_SEQUENCE_AT = 53;
export const RECORD_COUNT_AT = 57;
/** Header bytes before the records section. */
export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes not counted in batchLength. */
export const LOG_OVERHEAD_BYTES = 12;
export const MAGIC = 2;
/** Attributes bit 3: timestamps are the broker's append time, not the producer's. */
export const TIMESTAMP_TYPE_LOG_APPEND_TIME = 0x08;
const CODEC_MASK = 0x07;
/** The smallest record: length, attributes, timestamp, offset, key, value, header count. */
export const RECORD_BYTES_MIN = 7;

export interface EncodeBatchInput {
  readonly baseOffset: number;
  readonly partitionLeaderEpoch: number;
  readonly records: readonly LogRecord[];
  readonly compression: Compression;
  /** Idempotence is reserved: -1 / -1 / -1 (Kafka's "no producer id") unless given. */
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
}

export interface DecodedBatch {
  readonly header: BatchHeader;
  /** Keys and values are views into the decoded buffer, not copies. */
  readonly records: StoredRecord[];
}

export interface BatchLimits {
  /** Largest whole batch (max.message.bytes); bigger ones fail with LOG_RECORD_TOO_LARGE. */
  readonly batchBytesMax?: number;
}

/** Kafka's default max.message.bytes: the decompression bound when a caller names none. */
export const MAX_MESSAGE_BYTES_DEFAULT = 1024 * 1024 + 12;

export interface DecodeOptions extends BatchLimits {
  /** The topic's max.message.bytes, which (with the section's size) bounds decompression. */
  readonly maxMessageBytes?: number;
  /** A fixed decompression bound instead of decompressedBytesBound's. */
  readonly decompressedBytesMax?: number;
  /**
   * Ignore a last batch cut short by the end of the bytes, as Kafka consumers do with fetch
   * responses; without it, a cut batch is LOG_CORRUPT_BATCH.
   */
  readonly allowPartialTail?: boolean;
}

/** True when the batch at `position` runs past the end of `buffer` (or its header does). */
function isCutShort(buffer: Buffer, position: number): boolean {
  if (buffer.length - position < LOG_OVERHEAD_BYTES) return true;
  return (
    position + LOG_OVERHEAD_BYTES + buffer.readInt32BE(position + BATCH_LENGTH_AT) > buffer.length
  );
}

export type ScanResult =
  | { readonly ok: true; readonly batches: readonly BatchHeader[]; readonly recordCount: number }
  | { readonly ok: false; readonly error: LogError };

/** Encodes one batch. Preconditions (asserted): at least one record, safe-integer fields. */
export async function encodeBatch(input: EncodeBatchInput): Promise<Buffer> {
  return encodeBatches([input]);
}

/**
 * Encodes batches back to back into one buffer (a produce request's body) — each written in
 * place, so joining them costs no second copy. Preconditions as encodeBatch, per batch.
 */
export async function encodeBatches(inputs: readonly EncodeBatchInput[]): Promise<Buffer> {
  const prepared = await Promise.all(inputs.map(prepareBatch));
  let total = 0;
  for (const batch of prepared) total += BATCH_HEADER_BYTES + batch.sectionBytes;
  // Every byte of every batch is written (the header field by field, the records asserted to
  // fill their size), so the buffer need not be zeroed.
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  inputs.forEach((input, i) => {
    at = writeBatch(out, at, input, prepared[i] as PreparedBatch);
  });
  return out;
}

interface PreparedBatch {
  readonly baseTimestampMs: number;
  readonly maxTimestampMs: number;
  /** The compressed records section, or null: the records are written in place. */
  readonly compressed: Buffer | null;
  readonly sectionBytes: number;
}

async function prepareBatch(input: EncodeBatchInput): Promise<PreparedBatch> {
  const { records } = input;
  assert(records.length > 0, 'a batch holds at least one record');
  assert(Number.isSafeInteger(input.baseOffset) && input.baseOffset >= 0, 'bad baseOffset');
  assert(Number.isInteger(input.partitionLeaderEpoch), 'bad partitionLeaderEpoch');
  const first = records[0];
  assert(first !== undefined, 'a batch holds at least one record');
  const baseTimestampMs = first.timestampMs;
  let maxTimestampMs = baseTimestampMs;
  for (const record of records) maxTimestampMs = Math.max(maxTimestampMs, record.timestampMs);
  const plainSize = recordsSize(records, baseTimestampMs);
  const compressed =
    input.compression === 'none'
      ? null
      : await compress(input.compression, encodeRecords(records, baseTimestampMs, plainSize));
  const sectionBytes = compressed?.length ?? plainSize;
  return { baseTimestampMs, maxTimestampMs, compressed, sectionBytes };
}

/** Writes one prepared batch at `start` of `out`; returns the position after it. */
function writeBatch(
  out: Buffer,
  start: number,
  input: EncodeBatchInput,
  prepared: PreparedBatch,
): number {
  const { records } = input;
  const end = start + BATCH_HEADER_BYTES + prepared.sectionBytes;
  const at = (field: number): number => start + field;
  out.writeBigInt64BE(BigInt(input.baseOffset), at(BASE_OFFSET_AT));
  out.writeInt32BE(end - start - LOG_OVERHEAD_BYTES, at(BATCH_LENGTH_AT));
  out.writeInt32BE(input.partitionLeaderEpoch, at(PARTITION_LEADER_EPOCH_AT));
  out.writeInt8(MAGIC, at(MAGIC_AT));
  out.writeInt16BE(compressionCodecIds[input.compression], at(ATTRIBUTES_AT));
  out.writeInt32BE(records.length - 1, at(LAST_OFFSET_DELTA_AT));
  out.writeBigInt64BE(BigInt(prepared.baseTimestampMs), at(BASE_TIMESTAMP_AT));
  out.writeBigInt64BE(BigInt(prepared.maxTimestampMs), at(MAX_TIMESTAMP_AT));
  out.writeBigInt64BE(input.producerId ?? -1n, at(PRODUCER_ID_AT));
  out.writeInt16BE(input.producerEpoch ?? -1, at(PRODUCER_EPOCH_AT));
  out.writeInt32BE(input.baseSequence ?? -1, at(BASE_SEQUENCE_AT));
  out.writeInt32BE(records.length, at(RECORD_COUNT_AT));
  const section = at(BATCH_HEADER_BYTES);
  if (prepared.compressed === null) {
    writeRecords(out, section, end, records, prepared.baseTimestampMs);
  } else {
    prepared.compressed.copy(out, section);
  }
  out.writeUInt32BE(crc32c(out.subarray(at(ATTRIBUTES_AT), end)), at(CRC_AT));
  return end;
}

function recordBodySize(record: LogRecord, offsetDelta: number, timestampDelta: number): number {
  let size = 1 + varintSize(timestampDelta) + varintSize(offsetDelta);
  size += bytesFieldSize(record.key) + bytesFieldSize(record.value);
  size += varintSize(record.headers.length);
  for (const header of record.headers) {
    const keyBytes = Buffer.byteLength(header.key, 'utf8');
    size += varintSize(keyBytes) + keyBytes + bytesFieldSize(header.value);
  }
  return size;
}

function bytesFieldSize(bytes: Uint8Array | null): number {
  return bytes === null ? varintSize(-1) : varintSize(bytes.length) + bytes.length;
}

function recordsSize(records: readonly LogRecord[], baseTimestampMs: number): number {
  let total = 0;
  records.forEach((record, i) => {
    const size = recordBodySize(record, i, record.timestampMs - baseTimestampMs);
    total += varintSize(size) + size;
  });
  return total;
}

function encodeRecords(records: readonly LogRecord[], baseTimestampMs: number, size: number) {
  const out = Buffer.allocUnsafe(size);
  writeRecords(out, 0, size, records, baseTimestampMs);
  return out;
}

/** Writes the records section at `start`; asserts it fills exactly [start, end) of `out`. */
function writeRecords(
  out: Buffer,
  start: number,
  end: number,
  records: readonly LogRecord[],
  baseTimestampMs: number,
): void {
  let at = start;
  records.forEach((record, i) => {
    const bodySize = recordBodySize(record, i, record.timestampMs - baseTimestampMs);
    at = writeVarint(out, at, bodySize);
    out[at] = 0; // Record attributes: unused in magic 2.
    at = writeVarint(out, at + 1, record.timestampMs - baseTimestampMs);
    at = writeVarint(out, at, i);
    at = writeBytesField(out, at, record.key);
    at = writeBytesField(out, at, record.value);
    at = writeVarint(out, at, record.headers.length);
    for (const header of record.headers) {
      at = writeVarint(out, at, Buffer.byteLength(header.key, 'utf8'));
      at += out.write(header.key, at, 'utf8');
      at = writeBytesField(out, at, header.value);
    }
  });
  assert(at === end, `encoded ${at - start} record bytes, expected ${end - start}`);
}

function writeBytesField(out: Buffer, position: number, bytes: Uint8Array | null): number {
  if (bytes === null) return writeVarint(out, position, -1);
  const at = writeVarint(out, position, bytes.length);
  out.set(bytes, at);
  return at + bytes.length;
}

function view(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function int64AsNumber(buffer: Buffer, at: number, field: string): number {
  const value = buffer.readBigInt64BE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new LogError('LOG_CORRUPT_BATCH', `batch ${field} ${value} is not a safe integer`);
  }
  return Number(value);
}

/**
 * Reads the fixed header at `position` without checking the CRC or decompressing.
 * Fails with LOG_CORRUPT_BATCH when fewer than 61 bytes remain or an int64 is unsafe.
 */
export function readBatchHeader(bytes: Uint8Array, position: number): BatchHeader {
  const buffer = view(bytes);
  assert(Number.isSafeInteger(position) && position >= 0, `bad position ${position}`);
  if (position + BATCH_HEADER_BYTES > buffer.length) {
    throw new LogError('LOG_CORRUPT_BATCH', `batch header at ${position} is cut short`);
  }
  const at = (field: number): number => position + field;
  return {
    baseOffset: int64AsNumber(buffer, at(BASE_OFFSET_AT), 'baseOffset'),
    batchLength: buffer.readInt32BE(at(BATCH_LENGTH_AT)),
    partitionLeaderEpoch: buffer.readInt32BE(at(PARTITION_LEADER_EPOCH_AT)),
    magic: buffer.readInt8(at(MAGIC_AT)),
    crc: buffer.readUInt32BE(at(CRC_AT)),
    attributes: buffer.readInt16BE(at(ATTRIBUTES_AT)),
    lastOffsetDelta: buffer.readInt32BE(at(LAST_OFFSET_DELTA_AT)),
    baseTimestampMs: int64AsNumber(buffer, at(BASE_TIMESTAMP_AT), 'baseTimestamp'),
    maxTimestampMs: int64AsNumber(buffer, at(MAX_TIMESTAMP_AT), 'maxTimestamp'),
    producerId: buffer.readBigInt64BE(at(PRODUCER_ID_AT)),
    producerEpoch: buffer.readInt16BE(at(PRODUCER_EPOCH_AT)),
    baseSequence: buffer.readInt32BE(at(BASE_SEQUENCE_AT)),
    recordCount: buffer.readInt32BE(at(RECORD_COUNT_AT)),
  };
}

/** Total bytes of the batch whose header is `header` (batchLength + 12). */
export function batchSize(header: BatchHeader): number {
  return header.batchLength + LOG_OVERHEAD_BYTES;
}

export function lastOffsetOf(header: BatchHeader): number {
  return header.baseOffset + header.lastOffsetDelta;
}

/** True when the stored CRC-32C matches attributes..end. The batch must be whole in `bytes`. */
export function verifyBatchCrc(bytes: Uint8Array, position: number): boolean {
  const buffer = view(bytes);
  if (position + BATCH_HEADER_BYTES > buffer.length) return false;
  const end = position + LOG_OVERHEAD_BYTES + buffer.readInt32BE(position + BATCH_LENGTH_AT);
  if (end > buffer.length || end < position + BATCH_HEADER_BYTES) return false;
  const stored = buffer.readUInt32BE(position + CRC_AT);
  return crc32c(buffer.subarray(position + ATTRIBUTES_AT, end)) === stored;
}

/** Rewrites baseOffset in place; it is outside the CRC, so the batch stays valid. */
export function setBaseOffset(bytes: Uint8Array, position: number, baseOffset: number): void {
  assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, `bad baseOffset ${baseOffset}`);
  view(bytes).writeBigInt64BE(BigInt(baseOffset), position + BASE_OFFSET_AT);
}

/** Rewrites partitionLeaderEpoch in place; it is outside the CRC too. */
export function setPartitionLeaderEpoch(bytes: Uint8Array, position: number, epoch: number): void {
  assert(Number.isInteger(epoch) && epoch >= -1 && epoch <= 0x7fffffff, `bad epoch ${epoch}`);
  view(bytes).writeInt32BE(epoch, position + PARTITION_LEADER_EPOCH_AT);
}

/**
 * Checks one batch at `position` of `buffer` without decompressing: length, magic, codec,
 * counts and CRC. Returns its header, or the LogError that rejects it.
 */
export function checkBatch(
  buffer: Buffer,
  position: number,
  limits: BatchLimits = {},
): BatchHeader | LogError {
  const available = buffer.length - position;
  return checkBatchAt(buffer, position, available, limits, () => verifyBatchCrc(buffer, position));
}

/**
 * checkBatch over a header at `position` of `head` for a batch of which `available` bytes
 * exist (perhaps in other buffers): `crcMatches` checks the CRC over the whole batch.
 */
export function checkBatchAt(
  head: Buffer,
  position: number,
  available: number,
  limits: BatchLimits,
  crcMatches: () => boolean,
): BatchHeader | LogError {
  if (available < BATCH_HEADER_BYTES) {
    return corrupt(`${available} bytes at ${position} are too few for a batch`);
  }
  const batchLength = head.readInt32BE(position + BATCH_LENGTH_AT);
  const size = batchLength + LOG_OVERHEAD_BYTES;
  if (batchLength < BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES) {
    return corrupt(`batch at ${position} has length ${batchLength}`);
  }
  if (limits.batchBytesMax !== undefined && size > limits.batchBytesMax) {
    return new LogError(
      'LOG_RECORD_TOO_LARGE',
      `batch of ${size} bytes exceeds ${limits.batchBytesMax}`,
    );
  }
  if (size > available)
    return corrupt(`batch at ${position} needs ${size} bytes, has ${available}`);
  const magic = head.readInt8(position + MAGIC_AT);
  if (magic !== MAGIC) return corrupt(`batch at ${position} has magic ${magic}, expected 2`);
  if (!crcMatches()) return corrupt(`batch at ${position} fails its CRC`);
  let header: BatchHeader;
  try {
    header = readBatchHeader(head, position);
  } catch (error) {
    if (error instanceof LogError) return error;
    throw error;
  }
  return checkHeaderFields(header, position) ?? header;
}

function checkHeaderFields(header: BatchHeader, position: number): LogError | null {
  if (compressionFromAttributes(header.attributes) === null) {
    return new LogError(
      'LOG_UNSUPPORTED_COMPRESSION',
      `batch at ${position} has codec ${header.attributes & CODEC_MASK}`,
    );
  }
  if (header.recordCount < 0 || header.lastOffsetDelta < 0) {
    return corrupt(`batch at ${position} has negative counts`);
  }
  if (header.recordCount > 0 && header.lastOffsetDelta < header.recordCount - 1) {
    return corrupt(`batch at ${position} has ${header.recordCount} records in fewer offsets`);
  }
  const isPlain = (header.attributes & CODEC_MASK) === 0;
  const recordBytes = header.batchLength + LOG_OVERHEAD_BYTES - BATCH_HEADER_BYTES;
  if (isPlain && header.recordCount * RECORD_BYTES_MIN > recordBytes) {
    return corrupt(`batch at ${position} cannot hold ${header.recordCount} records`);
  }
  return null;
}

function corrupt(message: string): LogError {
  return new LogError('LOG_CORRUPT_BATCH', message);
}

/**
 * Walks concatenated batches (a produce body or a segment slice) checking each one's length,
 * magic, codec and CRC, without decompressing. An empty input is valid and has no batches.
 * Codes: LOG_CORRUPT_BATCH, LOG_UNSUPPORTED_COMPRESSION, LOG_RECORD_TOO_LARGE.
 */
export function scanBatches(bytes: Uint8Array, limits: BatchLimits = {}): ScanResult {
  const buffer = view(bytes);
  const batches: BatchHeader[] = [];
  let recordCount = 0;
  for (let position = 0; position < buffer.length;) {
    const checked = checkBatch(buffer, position, limits);
    if (checked instanceof LogError) return { ok: false, error: checked };
    batches.push(checked);
    recordCount += checked.recordCount;
    position += batchSize(checked);
  }
  return { ok: true, batches, recordCount };
}

/**
 * Decodes every batch in `bytes`, checking each CRC and decompressing its records.
 * Codes: LOG_CORRUPT_BATCH, LOG_UNSUPPORTED_COMPRESSION, LOG_RECORD_TOO_LARGE (per `limits`).
 */
export async function decodeBatches(
  bytes: Uint8Array,
  limits: DecodeOptions = {},
): Promise<DecodedBatch[]> {
  const buffer = view(bytes);
  const decoded: DecodedBatch[] = [];
  for (let position = 0; position < buffer.length;) {
    if (limits.allowPartialTail === true && isCutShort(buffer, position)) break;
    const header = checkBatch(buffer, position, limits);
    if (header instanceof LogError) throw header;
    const end = position + batchSize(header);
    const codec = compressionFromAttributes(header.attributes);
    assert(codec !== null, 'checkBatch rejects unknown codecs');
    const section = buffer.subarray(position + BATCH_HEADER_BYTES, end);
    const plain =
      codec === 'none' ? section : await decompress(codec, section, boundOf(section, limits));
    decoded.push({ header, records: decodeRecords(header, plain) });
    position = end;
  }
  return decoded;
}

/** How far `section` may expand under `options` (decompressedBytesBound by default). */
export function boundOf(section: Uint8Array, options: DecodeOptions): number {
  const maxMessageBytes = options.maxMessageBytes ?? MAX_MESSAGE_BYTES_DEFAULT;
  return options.decompressedBytesMax ?? decompressedBytesBound(section.length, maxMessageBytes);
}

/** Parses an uncompressed records section; every byte must belong to exactly one record. */
export function decodeRecords(header: BatchHeader, section: Buffer): StoredRecord[] {
  if (header.recordCount * RECORD_BYTES_MIN > section.length) {
    throw corrupt(`${section.length} bytes cannot hold ${header.recordCount} records`);
  }
  const logAppendTime = (header.attributes & TIMESTAMP_TYPE_LOG_APPEND_TIME) !== 0;
  const records: StoredRecord[] = [];
  let at = 0;
  for (let i = 0; i < header.recordCount; i += 1) {
    const length = varintAt(section, at, section.length, 5);
    const end = length.next + length.value;
    if (length.value < RECORD_BYTES_MIN - 1 || end > section.length) {
      throw corrupt(`record ${i} has length ${length.value}`);
    }
    const parsed = decodeRecordBody(section, length.next + 1, end);
    records.push(storedRecordOf(header, parsed, i, logAppendTime));
    at = end;
  }
  if (at !== section.length) throw corrupt(`${section.length - at} bytes follow the last record`);
  return records;
}

interface RecordBody {
  timestampDelta: number;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

/** Shared by every decoded record without headers: one array fewer per record. */
const noHeaders = Object.freeze([]) as unknown as { key: string; value: Buffer | null }[];

/** Record `index` of the batch from its parsed body. Throws LOG_CORRUPT_BATCH on a bad delta. */
export function storedRecordOf(
  header: BatchHeader,
  parsed: RecordBody,
  index: number,
  logAppendTime: boolean,
): StoredRecord {
  if (parsed.offsetDelta < 0 || parsed.offsetDelta > header.lastOffsetDelta) {
    throw corrupt(`record ${index} has offset delta ${parsed.offsetDelta}`);
  }
  return {
    offset: header.baseOffset + parsed.offsetDelta,
    timestampMs: logAppendTime
      ? header.maxTimestampMs
      : header.baseTimestampMs + parsed.timestampDelta,
    key: parsed.key,
    value: parsed.value,
    headers: parsed.headers,
  };
}

/** Parses from the timestamp delta (the attributes byte is skipped) to exactly `end`. */
export function decodeRecordBody(section: Buffer, start: number, end: number): RecordBody {
  const timestamp = varintAt(section, start, end, 10);
  const offset = varintAt(section, timestamp.next, end, 5);
  const key = bytesAt(section, offset.next, end);
  const value = bytesAt(section, key.next, end);
  const count = varintAt(section, value.next, end, 5);
  if (count.value < 0 || count.value * 2 > end - count.next) {
    throw corrupt(`record has ${count.value} headers`);
  }
  const headers: { key: string; value: Buffer | null }[] = count.value === 0 ? noHeaders : [];
  let at = count.next;
  for (let i = 0; i < count.value; i += 1) {
    const headerKey = bytesAt(section, at, end);
    if (headerKey.bytes === null) throw corrupt('record header has a null key');
    const headerValue = bytesAt(section, headerKey.next, end);
    headers.push({ key: headerKey.bytes.toString('utf8'), value: headerValue.bytes });
    at = headerValue.next;
  }
  if (at !== end) throw corrupt(`record ends at ${at}, its length says ${end}`);
  return {
    timestampDelta: timestamp.value,
    offsetDelta: offset.value,
    key: key.bytes,
    value: value.bytes,
    headers,
  };
}

function varintAt(section: Buffer, at: number, end: number, bytesMax: 5 | 10) {
  const read = readVarint(section, at, end, bytesMax);
  if (read === null) throw corrupt(`bad varint at ${at}`);
  return read;
}

function bytesAt(section: Buffer, at: number, end: number): { bytes: Buffer | null; next: number } {
  const length = varintAt(section, at, end, 5);
  if (length.value === -1) return { bytes: null, next: length.next };
  const next = length.next + length.value;
  if (length.value < -1 || next > end) throw corrupt(`bad field length ${length.value} at ${at}`);
  return { bytes: section.subarray(length.next, next), next };
}

// ---- validation at produce (Kafka's LogValidator) ------------------------------------------

/**
 * Walks the plain records section [start, end) of `section` in place — nothing is copied or
 * decoded into objects — and returns the LogError that refuses it, or null. LOG_CORRUPT_BATCH:
 * a varint too long or out of range, a length outside the record or section, a record count
 * that does not fill the section exactly. LOG_INVALID_RECORD (well-formed, against the rules):
 * offset deltas not 0, 1, 2 … (`producer`) or not rising within lastOffsetDelta, a timestamp
 * outside [-1, maxTimestamp] of a create-time batch, a null key where `keyRequired` (Kafka
 * refuses keyless records on a compacted topic).
 */
export function checkRecords(
  header: BatchHeader,
  section: Uint8Array,
  start: number,
  end: number,
  producer: boolean,
  keyRequired = false,
): LogError | null {
  if (producer && header.lastOffsetDelta !== header.recordCount - 1) {
    return invalidRecord(`lastOffsetDelta ${header.lastOffsetDelta} for ${header.recordCount}`);
  }
  if (header.recordCount * RECORD_BYTES_MIN > end - start) {
    return corrupt(`${end - start} bytes cannot hold ${header.recordCount} records`);
  }
  const createTime = (header.attributes & TIMESTAMP_TYPE_LOG_APPEND_TIME) === 0;
  const cursor: Cursor = { next: 0 };
  let at = start;
  let lastDelta = -1;
  for (let i = 0; i < header.recordCount; i += 1) {
    const length = readAt(section, at, end, 5, cursor);
    if (cursor.next < 0) return corrupt(`record ${i} has a bad length varint`);
    const recordEnd = cursor.next + length;
    if (length < RECORD_BYTES_MIN - 1 || recordEnd > end) {
      return corrupt(`record ${i} has length ${length}`);
    }
    const timestampDelta = readAt(section, cursor.next + 1, recordEnd, 10, cursor);
    if (cursor.next < 0) return corrupt(`record ${i} has a bad timestamp delta`);
    const delta = readAt(section, cursor.next, recordEnd, 5, cursor);
    if (cursor.next < 0) return corrupt(`record ${i} has a bad offset delta`);
    if (producer ? delta !== i : delta <= lastDelta || delta > header.lastOffsetDelta) {
      return invalidRecord(`record ${i} has offset delta ${delta}`);
    }
    lastDelta = delta;
    const timestampMs = header.baseTimestampMs + timestampDelta;
    if (createTime && (timestampMs < -1 || timestampMs > header.maxTimestampMs)) {
      return invalidRecord(`record ${i} has timestamp ${timestampMs}`);
    }
    const fieldsAt = cursor.next;
    if (keyRequired && readAt(section, fieldsAt, recordEnd, 5, cursor) === -1) {
      return invalidRecord(`record ${i} has a null key, which a compacted topic refuses`);
    }
    cursor.next = fieldsAt;
    if (skipFields(section, cursor.next, recordEnd, cursor) !== recordEnd) {
      return corrupt(`record ${i} does not fill its length`);
    }
    at = recordEnd;
  }
  return at === end ? null : corrupt(`${end - at} bytes follow the last record`);
}

/** Where the varint readAt read ends, or -1 after a malformed one; one per walk, reused. */
interface Cursor {
  next: number;
}

/** readVarint without an object per call (most record varints are one byte). */
function readAt(
  section: Uint8Array,
  at: number,
  end: number,
  bytesMax: 5 | 10,
  cursor: Cursor,
): number {
  if (at < end) {
    const byte = section[at] as number;
    if (byte < 0x80) {
      cursor.next = at + 1;
      return (byte >>> 1) ^ -(byte & 1);
    }
  }
  const read = readVarint(section, at, end, bytesMax);
  cursor.next = read === null ? -1 : read.next;
  return read === null ? 0 : read.value;
}

/** Skips key, value and headers from `at`; the position after them, or -1 if malformed. */
function skipFields(section: Uint8Array, at: number, end: number, cursor: Cursor): number {
  let next = skipBytes(section, at, end, true, cursor);
  next = next < 0 ? -1 : skipBytes(section, next, end, true, cursor);
  if (next < 0) return -1;
  const count = readAt(section, next, end, 5, cursor);
  if (cursor.next < 0 || count < 0 || count * 2 > end - cursor.next) return -1;
  next = cursor.next;
  for (let h = 0; h < count && next >= 0; h += 1) {
    next = skipBytes(section, next, end, false, cursor);
    next = next < 0 ? -1 : skipBytes(section, next, end, true, cursor);
  }
  return next;
}

/** Skips a length-prefixed field (-1 is null where `nullable`); -1 if malformed. */
function skipBytes(
  section: Uint8Array,
  at: number,
  end: number,
  nullable: boolean,
  cursor: Cursor,
): number {
  const length = readAt(section, at, end, 5, cursor);
  if (cursor.next < 0) return -1;
  if (length === -1 && nullable) return cursor.next;
  if (length < 0 || cursor.next + length > end) return -1;
  return cursor.next + length;
}

function invalidRecord(message: string): LogError {
  return new LogError('LOG_INVALID_RECORD', message);
}

/**
 * checkRecords for the batch at `position` of `bytes` (already through checkBatch), its
 * section decompressed first within boundOf(`options`). Throws the LogError that refuses it.
 */
export async function validateBatchRecords(
  bytes: Uint8Array,
  position: number,
  header: BatchHeader,
  options: DecodeOptions & { readonly producer: boolean; readonly keyRequired?: boolean },
): Promise<void> {
  const keyRequired = options.keyRequired ?? false;
  const start = position + BATCH_HEADER_BYTES;
  const end = position + batchSize(header);
  const codec = compressionFromAttributes(header.attributes);
  let refused: LogError | null;
  if (codec === null || codec === 'none') {
    refused = checkRecords(header, bytes, start, end, options.producer, keyRequired);
  } else {
    const section = view(bytes).subarray(start, end);
    const plain = await decompress(codec, section, boundOf(section, options));
    refused = checkRecords(header, plain, 0, plain.length, options.producer, keyRequired);
  }
  if (refused !== null) throw refused;
}
