// Goal: the Kafka primitive codecs round-trip every value, and the reader turns any truncation
// or garbage into KafkaProtocolError (never a RangeError). Method: fast-check over generated
// field lists written by KafkaWriter and read back by KafkaReader; then every prefix of the
// encoding and random bytes. The seed is printed by fast-check on failure.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KafkaProtocolError } from '../../../../src/api/kafka/protocol/errors.ts';
import { KafkaReader } from '../../../../src/api/kafka/protocol/reader.ts';
import { KafkaWriter } from '../../../../src/api/kafka/protocol/writer.ts';

type Field =
  | { kind: 'int8'; value: number }
  | { kind: 'int16'; value: number }
  | { kind: 'int32'; value: number }
  | { kind: 'uint32'; value: number }
  | { kind: 'int64'; value: bigint }
  | { kind: 'varint'; value: number }
  | { kind: 'uvarint'; value: number }
  | { kind: 'varlong'; value: bigint }
  | { kind: 'nullableString'; value: string | null }
  | { kind: 'compactNullableString'; value: string | null }
  | { kind: 'nullableBytes'; value: Buffer | null }
  | { kind: 'compactNullableBytes'; value: Buffer | null }
  | { kind: 'uuid'; value: Buffer }
  | { kind: 'int32Array'; value: number[]; flexible: boolean }
  | { kind: 'tags'; value: { tag: number; data: Buffer }[] };

const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const fieldArbitrary: fc.Arbitrary<Field> = fc.oneof(
  fc.integer({ min: -128, max: 127 }).map((value) => ({ kind: 'int8' as const, value })),
  fc.integer({ min: -32768, max: 32767 }).map((value) => ({ kind: 'int16' as const, value })),
  fc
    .integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
    .map((value) => ({ kind: 'int32' as const, value })),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((value) => ({ kind: 'uint32' as const, value })),
  fc
    .bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
    .map((value) => ({ kind: 'int64' as const, value })),
  fc
    .integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
    .map((value) => ({ kind: 'varint' as const, value })),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((value) => ({ kind: 'uvarint' as const, value })),
  fc
    .bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
    .map((value) => ({ kind: 'varlong' as const, value })),
  fc
    .option(fc.string({ maxLength: 30 }), { nil: null })
    .map((value) => ({ kind: 'nullableString' as const, value })),
  fc.option(fc.string({ maxLength: 30, unit: 'grapheme' }), { nil: null }).map((value) => ({
    kind: 'compactNullableString' as const,
    value,
  })),
  fc.option(bytes, { nil: null }).map((value) => ({ kind: 'nullableBytes' as const, value })),
  fc
    .option(bytes, { nil: null })
    .map((value) => ({ kind: 'compactNullableBytes' as const, value })),
  fc
    .uint8Array({ minLength: 16, maxLength: 16 })
    .map((a) => ({ kind: 'uuid' as const, value: Buffer.from(a) })),
  fc
    .record({
      value: fc.array(fc.integer({ min: -5, max: 2 ** 31 - 1 }), { maxLength: 10 }),
      flexible: fc.boolean(),
    })
    .map(({ value, flexible }) => ({ kind: 'int32Array' as const, value, flexible })),
  fc.uniqueArray(fc.integer({ min: 0, max: 5000 }), { maxLength: 4 }).chain((tags) =>
    fc.array(bytes, { minLength: tags.length, maxLength: tags.length }).map((datas) => ({
      kind: 'tags' as const,
      value: [...tags]
        .sort((a, b) => a - b)
        .map((tag, i) => ({ tag, data: datas[i] ?? Buffer.alloc(0) })),
    })),
  ),
);

function write(writer: KafkaWriter, field: Field): void {
  switch (field.kind) {
    case 'int8':
      writer.int8(field.value);
      break;
    case 'int16':
      writer.int16(field.value);
      break;
    case 'int32':
      writer.int32(field.value);
      break;
    case 'uint32':
      writer.uint32(field.value);
      break;
    case 'int64':
      writer.int64(field.value);
      break;
    case 'varint':
      writer.varint(field.value);
      break;
    case 'uvarint':
      writer.uvarint(field.value);
      break;
    case 'varlong':
      writer.varlong(field.value);
      break;
    case 'nullableString':
      writer.nullableString(field.value);
      break;
    case 'compactNullableString':
      writer.compactNullableString(field.value);
      break;
    case 'nullableBytes':
      writer.nullableBytes(field.value);
      break;
    case 'compactNullableBytes':
      writer.compactNullableBytes(field.value);
      break;
    case 'uuid':
      writer.uuid(field.value);
      break;
    case 'int32Array':
      writer.arrayOf(field.flexible, field.value, (w, v) => w.int32(v));
      break;
    case 'tags':
      writer.taggedFields(field.value);
      break;
  }
}

function read(reader: KafkaReader, field: Field): unknown {
  switch (field.kind) {
    case 'int8':
      return reader.int8();
    case 'int16':
      return reader.int16();
    case 'int32':
      return reader.int32();
    case 'uint32':
      return reader.uint32();
    case 'int64':
      return reader.int64();
    case 'varint':
      return reader.varint();
    case 'uvarint':
      return reader.uvarint();
    case 'varlong':
      return reader.varlong();
    case 'nullableString':
      return reader.nullableString();
    case 'compactNullableString':
      return reader.compactNullableString();
    case 'nullableBytes':
      return reader.nullableBytes();
    case 'compactNullableBytes':
      return reader.compactNullableBytes();
    case 'uuid':
      return reader.uuid();
    case 'int32Array':
      return reader.arrayOf(field.flexible, (r) => r.int32());
    case 'tags':
      return reader.taggedFields();
  }
}

function normalise(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString('hex');
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}

function readAll(buffer: Buffer, fields: readonly Field[]): unknown[] {
  const reader = new KafkaReader(buffer);
  return fields.map((field) => read(reader, field));
}

describe('Kafka primitives', () => {
  it('round-trip any sequence of fields and consume every byte', () => {
    fc.assert(
      fc.property(fc.array(fieldArbitrary, { maxLength: 12 }), (fields) => {
        const writer = new KafkaWriter(1);
        for (const field of fields) write(writer, field);
        const buffer = writer.finish();
        const reader = new KafkaReader(buffer);
        const values = fields.map((field) => read(reader, field));
        expect(normalise(values)).toEqual(normalise(fields.map((field) => field.value)));
        expect(reader.remaining).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it('reject every strict prefix with KafkaProtocolError only', () => {
    fc.assert(
      fc.property(fc.array(fieldArbitrary, { minLength: 1, maxLength: 6 }), (fields) => {
        const writer = new KafkaWriter();
        for (const field of fields) write(writer, field);
        const buffer = writer.finish();
        for (let cut = 0; cut < buffer.length; cut += 1) {
          // A prefix may still parse when a later field was empty; otherwise it must be ours.
          try {
            readAll(Buffer.from(buffer.subarray(0, cut)), fields);
          } catch (error) {
            expect(error).toBeInstanceOf(KafkaProtocolError);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('read random bytes as any field list without an error other than KafkaProtocolError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fieldArbitrary, { maxLength: 8 }),
        (raw, fields) => {
          try {
            readAll(Buffer.from(raw), fields);
          } catch (error) {
            expect(error).toBeInstanceOf(KafkaProtocolError);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('bound arrays by their named maximum and by the bytes left', () => {
    const writer = new KafkaWriter().int32(5).int32(1).int32(2).int32(3).int32(4).int32(5);
    const tooMany = (): unknown => new KafkaReader(writer.finish()).array((r) => r.int32(), 4);
    expect(tooMany).toThrow(expect.objectContaining({ code: 'KAFKA_REQUEST_TOO_LARGE' }));
    const lying = Buffer.from([0x7f, 0xff, 0xff, 0xff, 0]);
    expect(() => new KafkaReader(lying).array((r) => r.int8())).toThrow(KafkaProtocolError);
    const overlongVarint = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(() => new KafkaReader(overlongVarint).uvarint()).toThrow(KafkaProtocolError);
  });
});
