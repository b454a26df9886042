// The JSON form of records (API.md "Records (JSON form)"): keys, values and header values are
// UTF-8 strings or null, or base64 with ?encoding=base64; a key or value may also be any other
// JSON value (object, array, number, boolean), stored as its UTF-8 JSON text, and a fetch with
// ?valueFormat=json returns values parsed where they are JSON. Produce encodes the records into
// RecordBatch v2 bytes — the same bytes a binary client sends — so the broker sees one path.
import {
  decompressedBytesBound,
  encodeBatch,
  type Compression,
  type LogRecord,
  type StoredRecord,
} from '../../log/index.ts';
import { ApiError } from '../errors.ts';
import { invalid, isPlainObject } from './request-checks.ts';

export type RecordEncoding = 'utf8' | 'base64';
/** How a JSON fetch shows values: as strings (`encoding`), or parsed where they are JSON. */
export type ValueFormat = 'string' | 'json';

export interface JsonRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: string | null;
  /** A string, or with valueFormat=json any JSON value (a value that is not JSON: its text). */
  readonly value: unknown;
  readonly headers: Record<string, string | null>;
}

export const recordsPerRequestMax = 100_000;
export const headersPerRecordMax = 256;
/**
 * Latest record timestamp (2^51 − 1 ms, year ~73,000): two timestamps of one batch then differ
 * by less than 2^51, so the zigzag varint of their delta stays a safe integer when read back.
 */
export const timestampMsMax = 2 ** 51 - 1;
const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;

function bytesField(value: unknown, what: string, encoding: RecordEncoding): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string') throw invalid(`${what} must be a string or null`);
  if (encoding === 'utf8') return Buffer.from(value, 'utf8');
  if (value.length % 4 !== 0 || !base64Pattern.test(value)) {
    throw invalid(`${what} is not valid base64`);
  }
  return Buffer.from(value, 'base64');
}

/**
 * A record's key or value: a string as bytesField reads it, or any other JSON value as its
 * UTF-8 JSON text (whatever the encoding: base64 applies to strings only).
 */
function keyOrValueField(value: unknown, what: string, encoding: RecordEncoding) {
  if (typeof value === 'object' && value !== null) return Buffer.from(JSON.stringify(value));
  if (typeof value === 'number' || typeof value === 'boolean') {
    return Buffer.from(JSON.stringify(value));
  }
  return bytesField(value, what, encoding);
}

function headersField(value: unknown, at: string, encoding: RecordEncoding) {
  if (value === undefined || value === null) return [];
  if (!isPlainObject(value)) throw invalid(`${at}.headers must be an object`);
  const entries = Object.entries(value);
  if (entries.length > headersPerRecordMax) {
    throw invalid(`${at}.headers has more than ${headersPerRecordMax} entries`);
  }
  return entries.map(([key, v]) => ({
    key,
    value: bytesField(v, `${at}.headers.${key}`, encoding),
  }));
}

/** Parses `{records: [...]}`. Codes: INVALID_REQUEST. */
export function parseJsonRecords(
  body: Record<string, unknown>,
  encoding: RecordEncoding,
  nowWallMs: number,
): LogRecord[] {
  const records = body['records'];
  if (!Array.isArray(records) || records.length === 0) {
    throw invalid('records must be a non-empty array');
  }
  if (records.length > recordsPerRequestMax) {
    throw invalid(`at most ${recordsPerRequestMax} records per request`);
  }
  return records.map((record: unknown, i): LogRecord => {
    const at = `records[${i}]`;
    if (!isPlainObject(record)) throw invalid(`${at} must be an object`);
    if (!('value' in record)) throw invalid(`${at}.value is required (it may be null)`);
    const timestamp = record['timestamp'] ?? nowWallMs;
    if (!Number.isSafeInteger(timestamp) || (timestamp as number) < 0) {
      throw invalid(`${at}.timestamp must be a non-negative integer (ms since the epoch)`);
    }
    if ((timestamp as number) > timestampMsMax) {
      throw invalid(`${at}.timestamp must be at most ${timestampMsMax}`);
    }
    return {
      key: keyOrValueField(record['key'], `${at}.key`, encoding),
      value: keyOrValueField(record['value'], `${at}.value`, encoding),
      headers: headersField(record['headers'], at, encoding),
      timestampMs: timestamp as number,
    };
  });
}

/** The optional `producer` of a JSON produce: an idempotent batch's identity. */
export interface JsonProducer {
  readonly id: number;
  readonly epoch: number;
  readonly sequence: number;
}

/** Parses `producer: {id, epoch, sequence}` (absent: null). Codes: INVALID_REQUEST. */
export function parseJsonProducer(body: Record<string, unknown>): JsonProducer | null {
  const value = body['producer'];
  if (value === undefined || value === null) return null;
  if (!isPlainObject(value)) throw invalid('producer must be an object {id, epoch, sequence}');
  const field = (name: string, max: number): number => {
    const v = value[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
      throw invalid(`producer.${name} must be an integer in [0, ${max}]`);
    }
    return v;
  };
  for (const key of Object.keys(value)) {
    if (key !== 'id' && key !== 'epoch' && key !== 'sequence') {
      throw invalid(`producer has an unknown field '${key}' (known: id, epoch, sequence)`);
    }
  }
  return {
    id: field('id', Number.MAX_SAFE_INTEGER),
    epoch: field('epoch', 0x7fff),
    sequence: field('sequence', 0x7fffffff),
  };
}

/**
 * Encodes records as client batches (baseOffset 0), splitting them so each batch stays under
 * `batchBytesMax` where it can; a single record too large for a batch is left for the broker
 * to refuse with MESSAGE_TOO_LARGE. With a `producer`, the records are one idempotent batch
 * (never split: a retry must be the same batch), which the broker may refuse as too large.
 */
export async function encodeJsonBatches(
  records: readonly LogRecord[],
  compression: Compression,
  batchBytesMax: number,
  producer: JsonProducer | null = null,
): Promise<Buffer> {
  if (producer !== null) {
    return encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      records,
      compression,
      producerId: BigInt(producer.id),
      producerEpoch: producer.epoch,
      baseSequence: producer.sequence,
    });
  }
  const parts: Buffer[] = [];
  const encode = async (slice: readonly LogRecord[]): Promise<void> => {
    const bytes = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      records: slice,
      compression,
    });
    // Split too when the records would expand past the broker's decompression bound.
    const fits =
      bytes.length <= batchBytesMax &&
      (compression === 'none' ||
        plainBytesMax(slice) <= decompressedBytesBound(bytes.length, batchBytesMax));
    if (!fits && slice.length === 1 && bytes.length <= batchBytesMax) {
      throw new ApiError(
        'MESSAGE_TOO_LARGE',
        `a record of about ${plainBytesMax(slice)} bytes expands past the decompression bound ` +
          `${decompressedBytesBound(bytes.length, batchBytesMax)} of this ${compression} topic`,
      );
    }
    if (fits || slice.length === 1) {
      parts.push(bytes);
      return;
    }
    const half = Math.ceil(slice.length / 2);
    await encode(slice.slice(0, half));
    await encode(slice.slice(half));
  };
  await encode(records);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/** At least the size of `records` uncompressed (a record's varints and attributes ≤ 40). */
function plainBytesMax(records: readonly LogRecord[]): number {
  let total = 0;
  for (const record of records) {
    total += 40 + (record.key?.length ?? 0) + (record.value?.length ?? 0);
    for (const header of record.headers) {
      total += 16 + Buffer.byteLength(header.key) + (header.value?.length ?? 0);
    }
  }
  return total;
}

function bytesToJson(bytes: Uint8Array | null, encoding: RecordEncoding): string | null {
  if (bytes === null) return null;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(encoding);
}

/** First characters JSON text may start with (after whitespace): anything else is no JSON. */
const jsonStart = /^[\s]*[{["\-0-9tfn]/;

/** The value parsed as JSON where it is JSON text; else the text itself. */
export function parsedOrText(text: string): unknown {
  if (!jsonStart.test(text)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text; // Not JSON: the documented answer is the string as stored.
  }
}

export function toJsonRecord(
  record: StoredRecord,
  encoding: RecordEncoding,
  valueFormat: ValueFormat = 'string',
): JsonRecord {
  // No prototype: a header named __proto__ is data, not a prototype change.
  const headers = Object.create(null) as Record<string, string | null>;
  for (const header of record.headers) headers[header.key] = bytesToJson(header.value, encoding);
  const value = bytesToJson(record.value, encoding);
  return {
    offset: record.offset,
    timestamp: record.timestampMs,
    key: bytesToJson(record.key, encoding),
    value: valueFormat === 'json' && value !== null ? parsedOrText(value) : value,
    headers,
  };
}
