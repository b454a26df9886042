// Goal: the RecordBatch v2 codec round-trips every field under every codec, and its validators
// reject each kind of damage with the right code. Method: fixed and seeded random records.
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  BATCH_HEADER_BYTES,
  decodeBatches,
  encodeBatch,
  encodeBatches,
  readBatchHeader,
  scanBatches,
  setBaseOffset,
  setPartitionLeaderEpoch,
  verifyBatchCrc,
  type Compression,
  type LogRecord,
} from '../../../src/log/index.ts';

const codecs: Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

const sample: LogRecord[] = [
  { key: bytes('k1'), value: bytes('v1'), headers: [], timestampMs: 1_700_000_000_000 },
  { key: null, value: null, headers: [{ key: 'h', value: null }], timestampMs: 1_699_999_999_000 },
  {
    key: bytes(''),
    value: Buffer.alloc(3000, 7),
    headers: [
      { key: 'ü', value: bytes('x') },
      { key: 'ü', value: bytes('y') },
    ],
    timestampMs: 1_700_000_000_500,
  },
];

function plain(record: LogRecord) {
  return {
    key: record.key === null ? null : Buffer.from(record.key).toString('hex'),
    value: record.value === null ? null : Buffer.from(record.value).toString('hex'),
    headers: record.headers.map((h) => [
      h.key,
      h.value === null ? null : Buffer.from(h.value).toString('hex'),
    ]),
    timestampMs: record.timestampMs,
  };
}

describe('encodeBatch / decodeBatches', () => {
  test.each(codecs)('round-trips every field with %s', async (compression) => {
    const batch = await encodeBatch({
      baseOffset: 42,
      partitionLeaderEpoch: 7,
      records: sample,
      compression,
    });
    const [decoded, ...rest] = await decodeBatches(batch);
    expect(rest).toHaveLength(0);
    expect(decoded?.header).toMatchObject({
      baseOffset: 42,
      batchLength: batch.length - 12,
      partitionLeaderEpoch: 7,
      magic: 2,
      lastOffsetDelta: 2,
      baseTimestampMs: 1_700_000_000_000,
      maxTimestampMs: 1_700_000_000_500,
      producerId: -1n,
      producerEpoch: -1,
      baseSequence: -1,
      recordCount: 3,
    });
    expect(decoded?.header.attributes).toBe(codecs.indexOf(compression));
    expect(decoded?.records.map((r) => r.offset)).toEqual([42, 43, 44]);
    expect(decoded?.records.map(plain)).toEqual(sample.map(plain));
  });

  test('writes the fixed header fields where Kafka puts them', async () => {
    const batch = await encodeBatch({
      baseOffset: 5,
      partitionLeaderEpoch: 3,
      records: sample.slice(0, 1),
      compression: 'none',
    });
    expect(batch.readBigInt64BE(0)).toBe(5n);
    expect(batch.readInt32BE(8)).toBe(batch.length - 12);
    expect(batch.readInt32BE(12)).toBe(3);
    expect(batch.readInt8(16)).toBe(2);
    expect(batch.readInt32BE(57)).toBe(1);
    // Record: length 10 (zig-zag 0x14), attributes 0, tsDelta 0, offsetDelta 0, key "k1", value "v1", 0 headers.
    expect(batch.subarray(BATCH_HEADER_BYTES).toString('hex')).toBe('14000000046b3104763100');
  });

  test('round-trips random records under a random codec', async () => {
    const record = fc.record({
      key: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
      value: fc.option(fc.uint8Array({ maxLength: 400 }), { nil: null }),
      headers: fc.array(
        fc.record({
          key: fc.string({ maxLength: 8 }),
          value: fc.option(fc.uint8Array({ maxLength: 8 }), { nil: null }),
        }),
        { maxLength: 3 },
      ),
      timestampMs: fc.integer({ min: 0, max: 2 ** 42 }),
    });
    const seed = Date.now() % 1_000_000;
    console.log(`record-batch round-trip seed ${seed}`);
    await fc.assert(
      fc.asyncProperty(
        fc.array(record, { minLength: 1, maxLength: 20 }),
        fc.constantFrom(...codecs),
        fc.nat(2 ** 40),
        async (records, compression, baseOffset) => {
          const batch = await encodeBatch({
            baseOffset,
            partitionLeaderEpoch: 0,
            records,
            compression,
          });
          const [decoded] = await decodeBatches(batch);
          expect(decoded?.records.map(plain)).toEqual(records.map(plain));
          expect(decoded?.records.at(-1)?.offset).toBe(baseOffset + records.length - 1);
        },
      ),
      { seed, numRuns: 60 },
    );
  });
});

describe('validation', () => {
  test('baseOffset and epoch rewrites keep the CRC valid', async () => {
    const batch = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: 0,
      records: sample,
      compression: 'lz4',
    });
    setBaseOffset(batch, 0, 1_000_000);
    setPartitionLeaderEpoch(batch, 0, 9);
    expect(verifyBatchCrc(batch, 0)).toBe(true);
    expect(readBatchHeader(batch, 0)).toMatchObject({
      baseOffset: 1_000_000,
      partitionLeaderEpoch: 9,
    });
    const [decoded] = await decodeBatches(batch);
    expect(decoded?.records[2]?.offset).toBe(1_000_002);
  });

  test('scanBatches walks concatenated batches', async () => {
    const a = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: 0,
      records: sample,
      compression: 'gzip',
    });
    const b = await encodeBatch({
      baseOffset: 3,
      partitionLeaderEpoch: 0,
      records: sample.slice(0, 2),
      compression: 'none',
    });
    const result = scanBatches(Buffer.concat([a, b]));
    expect(result.ok && result.batches.map((h) => h.baseOffset)).toEqual([0, 3]);
    expect(result.ok && result.recordCount).toBe(5);
    expect(scanBatches(Buffer.alloc(0))).toMatchObject({ ok: true, batches: [] });
  });

  test('every flipped byte after the epoch fails the CRC', async () => {
    const batch = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: 0,
      records: sample,
      compression: 'none',
    });
    // Every header byte, then a stride through the records (the big value makes 3 KB).
    for (let at = 17; at < batch.length; at += at < 200 ? 1 : 37) {
      const damaged = Buffer.from(batch);
      damaged[at] = (damaged[at] ?? 0) ^ 0x10;
      const result = scanBatches(damaged);
      expect(result.ok, `byte ${at}`).toBe(false);
      if (!result.ok) expect(result.error.code).toBe('LOG_CORRUPT_BATCH');
      await expect(decodeBatches(damaged)).rejects.toMatchObject({ code: 'LOG_CORRUPT_BATCH' });
    }
  });

  test('a cut batch, a bad length, a bad magic are corrupt', async () => {
    const batch = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: 0,
      records: sample,
      compression: 'none',
    });
    for (const cut of [1, 11, 12, 60, 61, batch.length - 1]) {
      expect(scanBatches(batch.subarray(0, cut))).toMatchObject({
        ok: false,
        error: { code: 'LOG_CORRUPT_BATCH' },
      });
    }
    const shortLength = Buffer.from(batch);
    shortLength.writeInt32BE(10, 8);
    expect(scanBatches(shortLength)).toMatchObject({
      ok: false,
      error: { code: 'LOG_CORRUPT_BATCH' },
    });
    const magic1 = Buffer.from(batch);
    magic1.writeInt8(1, 16);
    expect(scanBatches(magic1)).toMatchObject({
      ok: false,
      error: { code: 'LOG_CORRUPT_BATCH', retriable: false },
    });
  });

  test('a batch cut short at the end is ignored only when asked', async () => {
    const a = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: 0,
      records: sample,
      compression: 'none',
    });
    const b = await encodeBatch({
      baseOffset: 3,
      partitionLeaderEpoch: 0,
      records: sample,
      compression: 'none',
    });
    const cut = Buffer.concat([a, b]).subarray(0, a.length + 70);
    await expect(decodeBatches(cut)).rejects.toMatchObject({ code: 'LOG_CORRUPT_BATCH' });
    const decoded = await decodeBatches(cut, { allowPartialTail: true });
    expect(decoded.map((batch) => batch.header.baseOffset)).toEqual([0]);
    expect(
      await decodeBatches(cut.subarray(0, a.length + 5), { allowPartialTail: true }),
    ).toHaveLength(1);
  });

  test('an unknown codec and an oversize batch have their own codes', async () => {
    const batch = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: 0,
      records: sample,
      compression: 'none',
    });
    expect(scanBatches(batch, { batchBytesMax: batch.length - 1 })).toMatchObject({
      ok: false,
      error: { code: 'LOG_RECORD_TOO_LARGE' },
    });
    expect(scanBatches(batch, { batchBytesMax: batch.length }).ok).toBe(true);
    const codec5 = Buffer.from(batch);
    codec5.writeInt16BE(5, 21);
    const { crc32c } = await import('@node-rs/crc32');
    codec5.writeUInt32BE(crc32c(codec5.subarray(21)), 17);
    expect(scanBatches(codec5)).toMatchObject({
      ok: false,
      error: { code: 'LOG_UNSUPPORTED_COMPRESSION' },
    });
  });

  test('records that do not fill the section exactly are corrupt even with a good CRC', async () => {
    const batch = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: 0,
      records: sample,
      compression: 'none',
    });
    const lying = Buffer.from(batch);
    lying.writeInt32BE(2, 57); // Three records inside, two claimed.
    const { crc32c } = await import('@node-rs/crc32');
    lying.writeUInt32BE(crc32c(lying.subarray(21)), 17);
    expect(scanBatches(lying).ok).toBe(true); // The cheap scan does not parse records.
    await expect(decodeBatches(lying)).rejects.toMatchObject({ code: 'LOG_CORRUPT_BATCH' });
  });
});

test('encodeBatches writes the batches back to back, byte for byte as encodeBatch', async () => {
  const record = (value: string, timestampMs: number) => ({
    key: bytes('k'),
    value: bytes(value),
    headers: [{ key: 'h', value: null }],
    timestampMs,
  });
  const inputs = [
    { baseOffset: 0, partitionLeaderEpoch: -1, records: [record('a', 5), record('bb', 9)] },
    { baseOffset: 0, partitionLeaderEpoch: -1, records: [record('c'.repeat(300), 7)] },
  ].map((input, i) => ({ ...input, compression: i === 1 ? ('gzip' as const) : ('none' as const) }));
  const joined = await encodeBatches(inputs);
  const separate = Buffer.concat(await Promise.all(inputs.map((input) => encodeBatch(input))));
  expect(joined.equals(separate)).toBe(true);
  const decoded = await decodeBatches(joined);
  expect(decoded.map((batch) => batch.records.length)).toEqual([2, 1]);
});
