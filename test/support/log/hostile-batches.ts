// Hostile record batches for the tests and checks of issue 15, each with a valid CRC so that only
// the record walk or the bounded decompression can refuse it. Poison batches: well framed, with
// malformed records (issue 15's own batch with a 14-byte varint, a count that lies, a negative
// length, offset deltas out of order, a garbage gzip body). Compression bombs: small on the wire,
// expanding far past the broker's bound, one per way a codec can be made to expand (gzip
// members, zstd frames with and without a declared size, raw snappy's length preamble, xerial's
// block list, LZ4 frames of 4 MiB blocks).
import { gzipSync } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { compressFrameSync, compressSync as lz4BlockCompress } from 'lz4-napi';
import {
  ATTRIBUTES_AT,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_AT,
  CRC_AT,
  LAST_OFFSET_DELTA_AT,
  LOG_OVERHEAD_BYTES,
  RECORD_COUNT_AT,
} from '../../../src/log/record-batch.ts';
import { compressionCodecIds, encodeBatch, type Compression } from '../../../src/log/index.ts';

const MiB = 1024 * 1024;

export interface HostileBatch {
  readonly name: string;
  readonly codec: Compression;
  /** The whole batch (header and records section), CRC valid. */
  readonly batch: Buffer;
  /** What the broker answers: the code, and for bombs a message naming the expansion. */
  readonly code: 'CORRUPT_MESSAGE' | 'INVALID_RECORD';
}

/** Issue 15's defect 1 batch, as its report gives it: a valid CRC, a 14-byte varint length. */
export const defectOneBatchHex =
  '000000000000000000000045ffffffff02f3fc81a10000000000000000018bcfe568000000018bcfe568' +
  '00ffffffffffffffffffffffffffff00000001ffffffffffffffffffffffffffffffffffffffff';

function withCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_AT)), CRC_AT);
  return batch;
}

/** Well-framed batches with a valid CRC whose records are malformed. */
export async function poisonBatches(): Promise<HostileBatch[]> {
  const good = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    records: ['a', 'b'].map((v) => ({
      key: null,
      value: Buffer.from(v),
      headers: [],
      timestampMs: 5,
    })),
  });
  const countLies = Buffer.from(good);
  countLies.writeInt32BE(3, RECORD_COUNT_AT); // 3 records said, 2 there
  countLies.writeInt32BE(2, LAST_OFFSET_DELTA_AT);
  const negativeKey = Buffer.from(good);
  negativeKey[BATCH_HEADER_BYTES + 4] = 3; // zig-zag -2: record 0's key length
  const deltas = Buffer.from(good);
  // Record 1 starts after record 0 (its length varint, zig-zag, then that many bytes); its
  // offset delta follows its length, attributes and timestamp delta: 1 → 0.
  const second = BATCH_HEADER_BYTES + 1 + (good[BATCH_HEADER_BYTES] as number) / 2;
  deltas[second + 3] = 0;
  const longVarint = Buffer.from(good);
  // Record 0's length as a 10-byte varint: the record section no longer parses.
  const tenBytes = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  const tenByteVarint = Buffer.concat([
    longVarint.subarray(0, BATCH_HEADER_BYTES),
    tenBytes,
    longVarint.subarray(BATCH_HEADER_BYTES + 1),
  ]);
  tenByteVarint.writeInt32BE(tenByteVarint.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_AT);
  const garbage = Buffer.from('this is not a gzip stream at all, only text that says so');
  return [
    {
      name: 'issue 15 batch (14-byte varint)',
      codec: 'none',
      batch: Buffer.from(defectOneBatchHex, 'hex'),
      code: 'CORRUPT_MESSAGE',
    },
    {
      name: 'a 10-byte varint',
      codec: 'none',
      batch: withCrc(tenByteVarint),
      code: 'CORRUPT_MESSAGE',
    },
    {
      name: 'a record count that lies',
      codec: 'none',
      batch: withCrc(countLies),
      code: 'CORRUPT_MESSAGE',
    },
    {
      name: 'a negative key length',
      codec: 'none',
      batch: withCrc(negativeKey),
      code: 'CORRUPT_MESSAGE',
    },
    {
      name: 'offset deltas out of order',
      codec: 'none',
      batch: withCrc(deltas),
      code: 'INVALID_RECORD',
    },
    {
      name: 'a garbage gzip body',
      codec: 'gzip',
      batch: await batchWithSection('gzip', garbage),
      code: 'CORRUPT_MESSAGE',
    },
  ];
}

/** A one-record batch whose records section is replaced by `section` under `codec`. */
export async function batchWithSection(codec: Compression, section: Buffer): Promise<Buffer> {
  const plain = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    records: [{ key: null, value: Buffer.from('x'), headers: [], timestampMs: 1_000 }],
  });
  const batch = Buffer.concat([plain.subarray(0, BATCH_HEADER_BYTES), section]);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_AT);
  batch.writeInt16BE(compressionCodecIds[codec], ATTRIBUTES_AT);
  return withCrc(batch);
}

/**
 * Nine bombs, each expanding to `bytes` (a multiple of 64 MiB; the were 1 GiB), xerial
 * to at most 128 MiB: gzip, zstd with an unknown, a declared and an understated content size,
 * raw snappy, xerial snappy, an LZ4 frame, an LZ4 frame that declares a small content size,
 * and four LZ4 frames.
 */
export async function compressionBombs(bytes: number): Promise<HostileBatch[]> {
  const sections: [string, Compression, Buffer][] = [
    ['gzip', 'gzip', gzipBomb(bytes)],
    ['zstd, size unknown', 'zstd', zstdRleBomb(bytes, null)],
    ['zstd, size declared', 'zstd', zstdRleBomb(bytes, bytes)],
    ['zstd, size understated', 'zstd', zstdRleBomb(bytes, 1024)],
    ['snappy raw', 'snappy', snappyRawBomb(bytes)],
    // 21:1 is snappy's best ratio: 1 GiB of real blocks would be a 50 MB body, past any topic's
    // max.message.bytes here; 128 MiB of blocks is past the bound all the same.
    ['snappy xerial', 'snappy', xerialBomb(Math.min(bytes, 128 * MiB))],
    ['lz4', 'lz4', lz4Bomb(bytes, 1)],
    ['lz4, size understated', 'lz4', lz4Bomb(bytes, 1, 1024)],
    ['lz4, 4 frames', 'lz4', lz4Bomb(bytes, 4)],
  ];
  const bombs: HostileBatch[] = [];
  for (const [name, codec, section] of sections) {
    const batch = await batchWithSection(codec, section);
    bombs.push({ name, codec, batch, code: 'CORRUPT_MESSAGE' });
  }
  return bombs;
}

/** A zstd frame of RLE blocks (128 KiB of zeros each), 4 bytes per block; `declared` or none. */
export function zstdRleBomb(bytes: number, declared: number | null): Buffer {
  const blockBytes = 128 * 1024;
  const header =
    declared === null
      ? Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38])
      : Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x38]), u64le(declared)]);
  const blocks: Buffer[] = [header];
  const count = bytes / blockBytes;
  for (let i = 0; i < count; i += 1) {
    const last = i === count - 1 ? 1 : 0;
    const word = last | (1 << 1) | (blockBytes << 3); // RLE block of blockBytes.
    blocks.push(Buffer.from([word & 0xff, (word >> 8) & 0xff, (word >> 16) & 0xff, 0]));
  }
  return Buffer.concat(blocks);
}

function u64le(value: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(BigInt(value));
  return out;
}

/**
 * `frames` LZ4 frames (lz4-napi's header: 4 MiB independent blocks) of `bytes` zeros in all;
 * with `declared`, each frame's descriptor claims that content size instead.
 */
export function lz4Bomb(bytes: number, frames: number, declared?: number): Buffer {
  const blockBytes = 4 * MiB;
  const block = lz4BlockCompress(Buffer.alloc(blockBytes)).subarray(4); // Drop the size prefix.
  let header = compressFrameSync(Buffer.from('x')).subarray(0, 7);
  if (declared !== undefined) {
    // FLG with the content-size bit, BD as before, the size, and the descriptor checksum byte
    // (xxh32 >> 8; lz4-napi's decoder checks it, the broker's bound does not depend on it).
    header = Buffer.concat([header.subarray(0, 6), u64le(declared), Buffer.from([0])]);
    header[4] = (header[4] as number) | 0x08;
  }
  const size = Buffer.alloc(4);
  size.writeUInt32LE(block.length);
  const parts: Buffer[] = [];
  const blocksPerFrame = Math.max(1, Math.floor(bytes / blockBytes / frames));
  for (let f = 0; f < frames; f += 1) {
    parts.push(header);
    for (let i = 0; i < blocksPerFrame; i += 1) parts.push(size, block);
    parts.push(Buffer.alloc(4)); // End mark.
  }
  return Buffer.concat(parts);
}

/** Raw snappy whose length preamble claims `bytes`, followed by one literal. */
export function snappyRawBomb(bytes: number): Buffer {
  return Buffer.concat([uvarint(bytes), Buffer.from([0x00, 0x00])]);
}

/**
 * xerial framing of `bytes` in legitimate-looking 32 KiB blocks of zeros, each within any
 * bound: the sum is what passes it.
 */
export function xerialBomb(bytes: number): Buffer {
  const magic = Buffer.from([
    0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1,
  ]);
  const blockBytes = 32 * 1024;
  const block = snappyZerosBlock(blockBytes);
  const length = Buffer.alloc(4);
  length.writeInt32BE(block.length);
  const parts: Buffer[] = [magic];
  for (let i = 0; i < bytes / blockBytes; i += 1) parts.push(length, block);
  return Buffer.concat(parts);
}

function uvarint(value: number): Buffer {
  const out: number[] = [];
  for (let rest = value; ; rest = Math.floor(rest / 128)) {
    if (rest < 128) {
      out.push(rest);
      return Buffer.from(out);
    }
    out.push((rest % 128) | 0x80);
  }
}

/** A raw snappy block of `bytes` zeros: a one-byte literal then 64-byte copies at offset 1. */
function snappyZerosBlock(bytes: number): Buffer {
  const out: number[] = [...uvarint(bytes)];
  out.push(0x00, 0x00); // Literal of length 1: a zero.
  let left = bytes - 1;
  while (left > 0) {
    const n = Math.min(64, left);
    if (n < 4) {
      out.push((n - 1) << 2, 0); // Literal of n zeros.
      for (let i = 1; i < n; i += 1) out.push(0);
    } else {
      out.push(((n - 1) << 2) | 2, 1, 0); // Copy n bytes from offset 1.
    }
    left -= n;
  }
  return Buffer.from(out);
}

/**
 * gzip members of 64 MiB of zeros, concatenated (gunzip reads them as one stream): 1 GiB of
 * zeros at level 9 in one member takes seconds to build, and is no harder to refuse.
 */
export function gzipBomb(bytes: number): Buffer {
  const member = gzipSync(Buffer.alloc(64 * MiB), { level: 9 });
  return Buffer.concat(Array.from({ length: Math.max(1, bytes / (64 * MiB)) }, () => member));
}
