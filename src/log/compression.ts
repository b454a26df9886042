// Compression of a record batch's records section, as Kafka does it: gzip (RFC 1952), snappy
// in xerial's framing (what Kafka's Java client writes; raw snappy is accepted too), lz4 in the
// LZ4 frame format, zstd frames. Every decompression stops once `decompressedBytesMax` would be
// passed (decompressedBytesBound), so a small hostile batch cannot expand into a large buffer.
import { promisify } from 'node:util';
import { gzip as gzipCallback, gunzip as gunzipCallback } from 'node:zlib';
import { compressSync as snappyCompress, uncompressSync as snappyUncompress } from 'snappy';
import { compressFrame as lz4Compress } from 'lz4-napi';
import * as zstd from '@bokuweb/zstd-wasm';
import { assert, assertNever } from '../common/index.ts';
import type { Compression } from './contract.ts';
import { LogError } from './errors.ts';
import { lz4BoundedDecompress } from './lz4-frame.ts';

const gzipAsync = promisify(gzipCallback);
const gunzipAsync = promisify(gunzipCallback);

/** The codec ids in bits 0–2 of the batch attributes. */
export const compressionCodecIds: Readonly<Record<Compression, number>> = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4,
};
const codecsById: readonly Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** Largest records section any batch may expand to, whatever max.message.bytes says. */
export const DECOMPRESSED_BYTES_MAX = 64 * 1024 * 1024;
/** A compressed section may expand to this many times its own size (or max.message.bytes). */
export const DECOMPRESSION_RATIO_MAX = 64;

/**
 * How far a compressed section of `compressedBytes` may expand, under a topic whose
 * max.message.bytes is `maxMessageBytes`: to what the batch could have held uncompressed
 * (max.message.bytes) or DECOMPRESSION_RATIO_MAX × its size, whichever is more, but never past
 * DECOMPRESSED_BYTES_MAX. Produce, every fetch and the client decode with this same bound.
 */
export function decompressedBytesBound(compressedBytes: number, maxMessageBytes: number): number {
  const allowed = Math.max(maxMessageBytes, DECOMPRESSION_RATIO_MAX * compressedBytes);
  return Math.min(DECOMPRESSED_BYTES_MAX, allowed);
}

/** xerial snappy-java stream header: magic, then version 1 and minimum compatible version 1. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
/** snappy-java's default block size; each block is `int32 length` + one raw snappy block. */
const XERIAL_BLOCK_BYTES = 32 * 1024;

/** The codec named by attribute bits 0–2, or null for the unused ids 5–7. */
export function compressionFromAttributes(attributes: number): Compression | null {
  return codecsById[attributes & 0x07] ?? null;
}

export async function compress(codec: Compression, bytes: Uint8Array): Promise<Buffer> {
  switch (codec) {
    case 'none':
      return Buffer.from(bytes);
    case 'gzip':
      return gzipAsync(bytes);
    case 'snappy':
      return xerialCompress(bytes);
    case 'lz4':
      return lz4Compress(bytes);
    case 'zstd':
      await zstdReady();
      return Buffer.from(zstd.compress(bytes, 3));
    default:
      return assertNever(codec, 'compression');
  }
}

/**
 * Expands a records section. Fails with LOG_CORRUPT_BATCH when the bytes do not decode or
 * would exceed `decompressedBytesMax`.
 */
export async function decompress(
  codec: Compression,
  bytes: Uint8Array,
  decompressedBytesMax = DECOMPRESSED_BYTES_MAX,
): Promise<Buffer> {
  assert(Number.isSafeInteger(decompressedBytesMax), 'decompressedBytesMax must be an integer');
  let output: Buffer;
  try {
    output = await decompressUnchecked(codec, bytes, decompressedBytesMax);
  } catch (cause) {
    if (cause instanceof LogError) throw cause;
    if ((cause as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE') {
      throw tooLarge(codec, decompressedBytesMax + 1); // zlib stopped at maxOutputLength.
    }
    throw new LogError('LOG_CORRUPT_BATCH', `${codec} records do not decompress`, { cause });
  }
  if (output.length > decompressedBytesMax) throw tooLarge(codec, output.length);
  return output;
}

async function decompressUnchecked(
  codec: Compression,
  bytes: Uint8Array,
  decompressedBytesMax: number,
): Promise<Buffer> {
  switch (codec) {
    case 'none':
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    case 'gzip':
      // maxOutputLength makes zlib stop early instead of inflating a bomb.
      return gunzipAsync(bytes, { maxOutputLength: decompressedBytesMax + 1 });
    case 'snappy':
      return xerialDecompress(bytes, decompressedBytesMax);
    case 'lz4':
      return lz4BoundedDecompress(bytes, decompressedBytesMax);
    case 'zstd':
      await zstdReady();
      return zstdDecompress(bytes, decompressedBytesMax);
    default:
      return assertNever(codec, 'compression');
  }
}

function tooLarge(codec: Compression, bytes: number): LogError {
  return new LogError('LOG_CORRUPT_BATCH', `${codec} records expand to ${bytes} bytes or more`);
}

function xerialCompress(bytes: Uint8Array): Buffer {
  const parts: Buffer[] = [XERIAL_MAGIC, int32(1), int32(1)];
  for (let start = 0; start < bytes.length; start += XERIAL_BLOCK_BYTES) {
    const block = snappyCompress(bytes.subarray(start, start + XERIAL_BLOCK_BYTES));
    parts.push(int32(block.length), block);
  }
  return Buffer.concat(parts);
}

function xerialDecompress(bytes: Uint8Array, decompressedBytesMax: number): Buffer {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isXerial = input.length >= XERIAL_HEADER_BYTES && input.subarray(0, 8).equals(XERIAL_MAGIC);
  if (!isXerial) return snappyRawDecompress(input, decompressedBytesMax);
  const blocks: Buffer[] = [];
  let total = 0;
  let position = XERIAL_HEADER_BYTES;
  while (position < input.length) {
    if (position + 4 > input.length) throw corruptSnappy('a truncated block length');
    const length = input.readInt32BE(position);
    position += 4;
    if (length < 0 || position + length > input.length) throw corruptSnappy('a bad block length');
    const block = snappyRawDecompress(
      input.subarray(position, position + length),
      decompressedBytesMax,
      total,
    );
    total += block.length;
    blocks.push(block);
    position += length;
  }
  return Buffer.concat(blocks, total);
}

/**
 * Raw snappy starts with its uncompressed length as a uvarint: check it before expanding, with
 * the `before` bytes earlier blocks of the same section expanded to.
 */
function snappyRawDecompress(input: Buffer, decompressedBytesMax: number, before = 0): Buffer {
  let length = 0;
  for (let i = 0, scale = 1; ; i += 1, scale *= 128) {
    const byte = input[i];
    if (byte === undefined || i >= 5) throw corruptSnappy('a bad length preamble');
    length += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) break;
  }
  if (before + length > decompressedBytesMax) throw tooLarge('snappy', before + length);
  const output = snappyUncompress(input, { asBuffer: true });
  assert(Buffer.isBuffer(output), 'snappy asBuffer returns a Buffer');
  return output;
}

function corruptSnappy(what: string): LogError {
  return new LogError('LOG_CORRUPT_BATCH', `snappy records have ${what}`);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value, 0);
  return buffer;
}

/**
 * A zstd frame names its content size only when the writer knew it (Kafka's streaming writer
 * does not), so unknown sizes are tried with a growing output buffer up to the bound.
 */
function zstdDecompress(bytes: Uint8Array, decompressedBytesMax: number): Buffer {
  const declared = zstdContentSize(bytes);
  if (declared !== null) {
    if (declared > decompressedBytesMax) throw tooLarge('zstd', declared);
    return Buffer.from(zstd.decompress(bytes));
  }
  let lastError: unknown = null;
  for (let heap = 1024 * 1024; ; heap *= 4) {
    const capacity = Math.min(heap, decompressedBytesMax);
    try {
      return Buffer.from(zstd.decompress(bytes, { defaultHeapSize: capacity }));
    } catch (cause) {
      lastError = cause;
    }
    if (capacity === decompressedBytesMax) break;
  }
  // Corrupt, or a frame that expands past the bound: the decoder does not say which.
  const message = `zstd records do not decompress within ${decompressedBytesMax} bytes`;
  throw new LogError('LOG_CORRUPT_BATCH', message, { cause: lastError });
}

/** The frame content size from a zstd frame header (RFC 8878 §3.1.1.1), or null if absent. */
function zstdContentSize(bytes: Uint8Array): number | null {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.length < 6 || view.readUInt32LE(0) !== 0xfd2fb528) {
    throw new LogError('LOG_CORRUPT_BATCH', 'zstd records lack the frame magic');
  }
  const descriptor = view[4] ?? 0;
  const sizeFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 3] ?? 0;
  const sizeBytes = [singleSegment === 1 ? 1 : 0, 2, 4, 8][sizeFlag] ?? 0;
  if (sizeBytes === 0) return null;
  const at = 5 + (singleSegment === 1 ? 0 : 1) + dictionaryIdBytes;
  if (view.length < at + sizeBytes) throw new LogError('LOG_CORRUPT_BATCH', 'zstd header cut');
  switch (sizeBytes) {
    case 1:
      return view.readUInt8(at);
    case 2:
      return view.readUInt16LE(at) + 256;
    case 4:
      return view.readUInt32LE(at);
    default:
      return Number(view.readBigUInt64LE(at));
  }
}

// The wasm instance is process-wide by the library's design; initialise it once, lazily.
const zstdInit: { promise: Promise<void> | null } = { promise: null };
function zstdReady(): Promise<void> {
  zstdInit.promise ??= zstd.init();
  return zstdInit.promise;
}
