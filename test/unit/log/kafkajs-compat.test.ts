// Goal: our RecordBatch v2 bytes are Kafka's. Method: an independent implementation, KafkaJS's
// own record-batch encoder and decoder (and its CRC-32C), checked in both directions for every
// codec. KafkaJS ships only gzip; snappy, lz4 and zstd are plugged into its CompressionCodecs
// the way the community packages do it (kafkajs-snappy: raw snappy out, xerial or raw in;
// kafkajs-lz4: LZ4 frames; @kafkajs/zstd: zstd frames), built on the same native libraries.
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, test } from 'vitest';
import { compressSync, uncompressSync } from 'snappy';
import { compressFrame, decompressFrame } from 'lz4-napi';
import * as zstd from '@bokuweb/zstd-wasm';
import {
  decodeBatches,
  encodeBatch,
  verifyBatchCrc,
  type Compression,
  type LogRecord,
} from '../../../src/log/index.ts';

const require = createRequire(import.meta.url);
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (input: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
};
const decodeKafkaJsBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  decoder: unknown,
) => Promise<KafkaJsBatch>;
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: object) => unknown;
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => {
  canReadInt64(): boolean;
};
const kafkaJsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
const { Codecs, Types } = require('kafkajs/src/protocol/message/compression') as {
  Codecs: Record<number, () => KafkaJsCodec>;
  Types: Record<string, number>;
};

interface KafkaJsCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}
interface KafkaJsBatch {
  firstOffset: string;
  partitionLeaderEpoch: number;
  lastOffsetDelta: number;
  firstTimestamp: string;
  maxTimestamp: string;
  records: {
    offset: string;
    timestamp: string;
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer | Buffer[]>;
  }[];
}

const kafkaJsTypes: Record<Compression, number> = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4,
};

/** kafkajs-snappy's reader: a xerial stream is a 16-byte header, then length-prefixed blocks. */
function xerialOrRawUncompress(buffer: Buffer): Buffer {
  if (buffer.subarray(1, 7).toString('latin1') !== 'SNAPPY') {
    return uncompressSync(buffer, { asBuffer: true }) as Buffer;
  }
  const blocks: Buffer[] = [];
  for (let at = 16; at < buffer.length;) {
    const size = buffer.readUInt32BE(at);
    blocks.push(
      uncompressSync(buffer.subarray(at + 4, at + 4 + size), { asBuffer: true }) as Buffer,
    );
    at += 4 + size;
  }
  return Buffer.concat(blocks);
}

beforeAll(async () => {
  await zstd.init();
  Codecs[Types.Snappy ?? 2] = () => ({
    compress: async (encoder) => compressSync(encoder.buffer),
    decompress: async (buffer) => xerialOrRawUncompress(buffer),
  });
  Codecs[Types.LZ4 ?? 3] = () => ({
    compress: async (encoder) => compressFrame(encoder.buffer),
    decompress: async (buffer) => decompressFrame(buffer),
  });
  Codecs[Types.ZSTD ?? 4] = () => ({
    compress: async (encoder) => Buffer.from(zstd.compress(encoder.buffer, 3)),
    decompress: async (buffer) => Buffer.from(zstd.decompress(buffer)),
  });
});

const baseTimestampMs = 1_700_000_000_000;
const records: LogRecord[] = Array.from({ length: 25 }, (_, i) => ({
  key: i % 5 === 0 ? null : Buffer.from(`key-${i}`),
  value: i % 7 === 3 ? null : Buffer.from(`value-${i}-`.repeat(i * 10 + 1)),
  headers: i % 3 === 0 ? [] : [{ key: `h${i}`, value: Buffer.from(`hv${i}`) }],
  timestampMs: baseTimestampMs + ((i * 37) % 11) - 5,
}));

async function kafkaJsEncode(compression: Compression, firstOffset: number): Promise<Buffer> {
  const first = records[0]?.timestampMs ?? 0;
  const batch = await RecordBatch({
    compression: kafkaJsTypes[compression],
    firstOffset,
    firstTimestamp: first,
    maxTimestamp: Math.max(...records.map((r) => r.timestampMs)),
    partitionLeaderEpoch: 5,
    lastOffsetDelta: records.length - 1,
    records: records.map((r, i) =>
      Record({
        offsetDelta: i,
        timestampDelta: r.timestampMs - first,
        key: r.key,
        value: r.value,
        headers: Object.fromEntries(r.headers.map((h) => [h.key, h.value])),
      }),
    ),
  });
  return batch.buffer;
}

const hex = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes).toString('hex');

describe.each(Object.keys(kafkaJsTypes) as Compression[])(
  'KafkaJS compatibility: %s',
  (compression) => {
    test('a KafkaJS batch decodes in ours, CRC included', async () => {
      const bytes = await kafkaJsEncode(compression, 1000);
      expect(verifyBatchCrc(bytes, 0)).toBe(true);
      const [batch, ...rest] = await decodeBatches(bytes);
      expect(rest).toHaveLength(0);
      expect(batch?.header).toMatchObject({ baseOffset: 1000, partitionLeaderEpoch: 5, magic: 2 });
      expect(batch?.header.attributes).toBe(kafkaJsTypes[compression]);
      expect(batch?.records).toHaveLength(records.length);
      batch?.records.forEach((got, i) => {
        const want = records[i];
        expect(got.offset).toBe(1000 + i);
        expect(got.timestampMs).toBe(want?.timestampMs);
        expect(hex(got.key)).toBe(hex(want?.key ?? null));
        expect(hex(got.value)).toBe(hex(want?.value ?? null));
        expect(got.headers.map((h) => [h.key, hex(h.value)])).toEqual(
          want?.headers.map((h) => [h.key, hex(h.value)]),
        );
      });
    });

    test('our batch decodes in KafkaJS, and KafkaJS computes the same CRC', async () => {
      const bytes = await encodeBatch({
        baseOffset: 2000,
        partitionLeaderEpoch: 9,
        records,
        compression,
      });
      expect(kafkaJsCrc32c(bytes.subarray(21))).toBe(bytes.readUInt32BE(17));
      const decoder = new Decoder(bytes);
      const batch = await decodeKafkaJsBatch(decoder);
      expect(decoder.canReadInt64()).toBe(false);
      expect(batch.firstOffset).toBe('2000');
      expect(batch.partitionLeaderEpoch).toBe(9);
      expect(batch.lastOffsetDelta).toBe(records.length - 1);
      batch.records.forEach((got, i) => {
        const want = records[i];
        expect(got.offset).toBe(String(2000 + i));
        expect(got.timestamp).toBe(String(want?.timestampMs));
        expect(hex(got.key)).toBe(hex(want?.key ?? null));
        expect(hex(got.value)).toBe(hex(want?.value ?? null));
        const headers = Object.entries(got.headers).map(([k, v]) => [k, hex(v as Buffer)]);
        expect(headers).toEqual(want?.headers.map((h) => [h.key, hex(h.value)]));
      });
    });

    test('with the same producer fields and codec output, the bytes are identical', async () => {
      // KafkaJS writes producerEpoch 0 and baseSequence 0 where we default to -1.
      const ours = await encodeBatch({
        baseOffset: 1000,
        partitionLeaderEpoch: 5,
        records,
        compression,
        producerEpoch: 0,
        baseSequence: 0,
      });
      const theirs = await kafkaJsEncode(compression, 1000);
      if (compression === 'snappy') {
        // Ours is xerial-framed (as Java writes), theirs raw: same header up to the records.
        expect(ours.subarray(21, 61).equals(theirs.subarray(21, 61))).toBe(true);
      } else {
        expect(ours.toString('hex')).toBe(theirs.toString('hex'));
      }
    });
  },
);
