// Goal: the produce-time validator (scanBatches + validateBatchRecords, Kafka's LogValidator)
// has no gap with the readers: a random mutation of a valid batch — bytes overwritten, inserted
// or removed in the records (plain, or before recompression), or in the compressed bytes —
// with its length and CRC recomputed is either accepted and then decodes fully (every record,
// offsets base + i), or refused with a typed LogError code; never an untyped throw. And the
// readers' decodeReadableChunks never throws on any of these bytes.
// Replay a failure with VALIDATE_PROPERTY_SEED=<seed printed below>.
import fc from 'fast-check';
import { crc32c } from '@node-rs/crc32';
import { expect, test } from 'vitest';
import { decodeReadableChunks } from '../../../src/log/chunked-batches.ts';
import { compress, decompress } from '../../../src/log/compression.ts';
import {
  ATTRIBUTES_AT,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_AT,
  CRC_AT,
  LOG_OVERHEAD_BYTES,
  decodeBatches,
  encodeBatch,
  scanBatches,
  validateBatchRecords,
} from '../../../src/log/record-batch.ts';
import { isLogError, type Compression, type LogRecord } from '../../../src/log/index.ts';

const typedCodes = new Set([
  'LOG_CORRUPT_BATCH',
  'LOG_INVALID_RECORD',
  'LOG_UNSUPPORTED_COMPRESSION',
  'LOG_RECORD_TOO_LARGE',
]);

const recordArb: fc.Arbitrary<LogRecord> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 4 }).map((b) => Buffer.from(b))),
  value: fc.option(fc.uint8Array({ maxLength: 10 }).map((b) => Buffer.from(b))),
  headers: fc.array(
    fc.record({
      key: fc.string({ maxLength: 4 }),
      value: fc.option(fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b))),
    }),
    { maxLength: 2 },
  ),
  timestampMs: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_001_000 }),
});

type Edit =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'remove'; at: number; count: number };

// Small records, so that most positions hold a varint; overwrites weigh most.
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat({ max: 1_000_000 }),
    byte: fc.constantFrom(0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0xfe, 0x03, 0x40),
  }),
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat({ max: 1_000_000 }),
    byte: fc.nat({ max: 255 }),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat({ max: 1_000_000 }),
    bytes: fc.array(fc.constantFrom(0x00, 0x02, 0x80, 0xff), { minLength: 1, maxLength: 12 }),
  }),
  fc.record({
    kind: fc.constant('remove' as const),
    at: fc.nat({ max: 1_000_000 }),
    count: fc.integer({ min: 1, max: 4 }),
  }),
);

/** Where the edits land: the plain records, the header's fields, or the compressed bytes. */
const targetArb = fc.constantFrom('records', 'records', 'header', 'compressed');

function applyEdits(bytes: Buffer, edits: readonly Edit[]): Buffer {
  let out = Buffer.from(bytes);
  for (const edit of edits) {
    const at = edit.at % (out.length + 1);
    if (edit.kind === 'set' && at < out.length) out[at] = edit.byte;
    if (edit.kind === 'insert') {
      out = Buffer.concat([out.subarray(0, at), Buffer.from(edit.bytes), out.subarray(at)]);
    }
    if (edit.kind === 'remove') {
      out = Buffer.concat([out.subarray(0, at), out.subarray(at + edit.count)]);
    }
  }
  return out;
}

/** A batch with `header` (61 bytes) and `section`, its length and CRC made right again. */
function reframe(header: Buffer, section: Buffer): Buffer {
  const batch = Buffer.concat([header, section]);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_AT);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_AT)), CRC_AT);
  return batch;
}

async function mutate(
  batch: Buffer,
  codec: Compression,
  target: string,
  edits: readonly Edit[],
): Promise<Buffer> {
  const header = Buffer.from(batch.subarray(0, BATCH_HEADER_BYTES));
  const section = batch.subarray(BATCH_HEADER_BYTES);
  if (target === 'header') {
    // Fields after the CRC: attributes, deltas, timestamps, producer fields, record count.
    const edited = applyEdits(header.subarray(ATTRIBUTES_AT), edits).subarray(0, 40);
    if (edited.length < 40) return reframe(header, section);
    edited.copy(header, ATTRIBUTES_AT);
    return reframe(header, section);
  }
  if (codec === 'none' || target === 'compressed') {
    return reframe(header, applyEdits(section, edits));
  }
  const plain = await decompress(codec, section);
  return reframe(header, await compress(codec, applyEdits(plain, edits)));
}

type Outcome = { accepted: true } | { code: string };

async function validate(bytes: Buffer): Promise<Outcome> {
  try {
    const scan = scanBatches(bytes);
    if (!scan.ok) return { code: scan.error.code };
    let position = 0;
    for (const header of scan.batches) {
      await validateBatchRecords(bytes, position, header, { producer: true });
      position += header.batchLength + LOG_OVERHEAD_BYTES;
    }
    return { accepted: true };
  } catch (error) {
    if (!isLogError(error)) throw error;
    return { code: error.code };
  }
}

test('a mutated batch is accepted and fully decodable, or refused with a typed code', async () => {
  const seed = Number(process.env.VALIDATE_PROPERTY_SEED ?? Date.now() % 2 ** 31);
  console.log(`validate property seed: ${seed} (VALIDATE_PROPERTY_SEED=${seed} to replay)`);
  const tally = { accepted: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(
      fc.array(recordArb, { minLength: 1, maxLength: 8 }),
      fc.constantFrom<Compression>('none', 'none', 'gzip', 'snappy', 'lz4', 'zstd'),
      targetArb,
      fc.array(editArb, { minLength: 0, maxLength: 2 }),
      async (records, codec, target, edits) => {
        const valid = await encodeBatch({
          baseOffset: 40,
          partitionLeaderEpoch: 2,
          records,
          compression: codec,
        });
        const bytes = await mutate(valid, codec, target, edits);
        const outcome = await validate(bytes);
        const readable = await decodeReadableChunks([bytes]); // Never throws.
        if ('accepted' in outcome) {
          tally.accepted += 1;
          const [batch] = await decodeBatches(bytes);
          expect(batch?.records.map((r) => r.offset)).toEqual(
            Array.from({ length: batch?.header.recordCount ?? -1 }, (_, i) => 40 + i),
          );
          expect(readable.unreadable).toBeNull();
        } else {
          tally.refused += 1;
          expect(typedCodes.has(outcome.code)).toBe(true);
        }
      },
    ),
    { seed, numRuns: 1500 },
  );
  console.log(`validate property: ${tally.accepted} accepted, ${tally.refused} refused`);
  // Both sides of the property are exercised.
  expect(tally.accepted).toBeGreaterThan(50);
  expect(tally.refused).toBeGreaterThan(150);
});
