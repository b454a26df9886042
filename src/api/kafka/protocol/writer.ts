// A growable writer of Kafka's primitive types, the mirror of reader.ts. Capacity doubles as
// needed; `finish()` returns a view of the written bytes. Compact forms write length + 1 as an
// unsigned varint (KIP-482); a tag section is a count then (tag, size, bytes) in tag order.
import type { TaggedField } from './reader.ts';

export class KafkaWriter {
  private buffer: Buffer;
  private length = 0;

  constructor(capacity = 256) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  get size(): number {
    return this.length;
  }

  private reserve(bytes: number): number {
    if (this.length + bytes > this.buffer.length) {
      let capacity = this.buffer.length * 2;
      while (capacity < this.length + bytes) capacity *= 2;
      const grown = Buffer.allocUnsafe(capacity);
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    const at = this.length;
    this.length += bytes;
    return at;
  }

  int8(value: number): this {
    const at = this.reserve(1);
    this.buffer.writeInt8(value, at);
    return this;
  }
  boolean(value: boolean): this {
    return this.int8(value ? 1 : 0);
  }
  int16(value: number): this {
    const at = this.reserve(2);
    this.buffer.writeInt16BE(value, at);
    return this;
  }
  uint16(value: number): this {
    const at = this.reserve(2);
    this.buffer.writeUInt16BE(value, at);
    return this;
  }
  int32(value: number): this {
    const at = this.reserve(4);
    this.buffer.writeInt32BE(value, at);
    return this;
  }
  uint32(value: number): this {
    const at = this.reserve(4);
    this.buffer.writeUInt32BE(value, at);
    return this;
  }
  int64(value: bigint | number): this {
    const at = this.reserve(8);
    this.buffer.writeBigInt64BE(BigInt(value), at);
    return this;
  }
  float64(value: number): this {
    const at = this.reserve(8);
    this.buffer.writeDoubleBE(value, at);
    return this;
  }
  uuid(value: Buffer): this {
    if (value.length !== 16) throw new RangeError('a uuid is 16 bytes');
    const at = this.reserve(16);
    value.copy(this.buffer, at);
    return this;
  }
  uvarint(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError(`uvarint ${value}`);
    }
    let rest = value;
    while (rest >= 0x80) {
      const at = this.reserve(1);
      this.buffer.writeUInt8((rest % 0x80) | 0x80, at);
      rest = Math.floor(rest / 0x80);
    }
    const at = this.reserve(1);
    this.buffer.writeUInt8(rest, at);
    return this;
  }
  varint(value: number): this {
    return this.uvarint(value >= 0 ? value * 2 : -value * 2 - 1);
  }
  varlong(value: bigint): this {
    let raw = BigInt.asUintN(64, (value << 1n) ^ (value >> 63n));
    while (raw >= 0x80n) {
      const at = this.reserve(1);
      this.buffer.writeUInt8(Number(raw & 0x7fn) | 0x80, at);
      raw >>= 7n;
    }
    const at = this.reserve(1);
    this.buffer.writeUInt8(Number(raw), at);
    return this;
  }
  /** Raw bytes, no length. */
  raw(value: Uint8Array): this {
    const at = this.reserve(value.length);
    this.buffer.set(value, at);
    return this;
  }

  string(value: string): this {
    return this.nullableString(value);
  }
  nullableString(value: string | null): this {
    if (value === null) return this.int16(-1);
    const length = Buffer.byteLength(value);
    this.int16(length);
    const at = this.reserve(length);
    this.buffer.write(value, at, 'utf8');
    return this;
  }
  compactString(value: string): this {
    return this.compactNullableString(value);
  }
  compactNullableString(value: string | null): this {
    if (value === null) return this.uvarint(0);
    const length = Buffer.byteLength(value);
    this.uvarint(length + 1);
    const at = this.reserve(length);
    this.buffer.write(value, at, 'utf8');
    return this;
  }
  stringOf(flexible: boolean, value: string): this {
    return flexible ? this.compactString(value) : this.string(value);
  }
  nullableStringOf(flexible: boolean, value: string | null): this {
    return flexible ? this.compactNullableString(value) : this.nullableString(value);
  }

  bytes(value: Uint8Array): this {
    return this.nullableBytes(value);
  }
  nullableBytes(value: Uint8Array | null): this {
    if (value === null) return this.int32(-1);
    return this.int32(value.length).raw(value);
  }
  compactBytes(value: Uint8Array): this {
    return this.compactNullableBytes(value);
  }
  compactNullableBytes(value: Uint8Array | null): this {
    if (value === null) return this.uvarint(0);
    return this.uvarint(value.length + 1).raw(value);
  }
  bytesOf(flexible: boolean, value: Uint8Array): this {
    return flexible ? this.compactBytes(value) : this.bytes(value);
  }
  nullableBytesOf(flexible: boolean, value: Uint8Array | null): this {
    return flexible ? this.compactNullableBytes(value) : this.nullableBytes(value);
  }

  array<T>(values: readonly T[], write: (writer: this, value: T) => void): this {
    this.int32(values.length);
    for (const value of values) write(this, value);
    return this;
  }
  nullableArray<T>(values: readonly T[] | null, write: (writer: this, value: T) => void): this {
    if (values === null) return this.int32(-1);
    return this.array(values, write);
  }
  compactArray<T>(values: readonly T[], write: (writer: this, value: T) => void): this {
    this.uvarint(values.length + 1);
    for (const value of values) write(this, value);
    return this;
  }
  compactNullableArray<T>(
    values: readonly T[] | null,
    write: (writer: this, value: T) => void,
  ): this {
    if (values === null) return this.uvarint(0);
    return this.compactArray(values, write);
  }
  arrayOf<T>(
    flexible: boolean,
    values: readonly T[],
    write: (writer: this, value: T) => void,
  ): this {
    return flexible ? this.compactArray(values, write) : this.array(values, write);
  }
  nullableArrayOf<T>(
    flexible: boolean,
    values: readonly T[] | null,
    write: (writer: this, value: T) => void,
  ): this {
    return flexible ? this.compactNullableArray(values, write) : this.nullableArray(values, write);
  }

  /** A tag section; fields must ascend by tag. */
  taggedFields(fields: readonly TaggedField[] = []): this {
    this.uvarint(fields.length);
    let previous = -1;
    for (const field of fields) {
      if (field.tag <= previous) throw new RangeError('tagged fields must ascend');
      previous = field.tag;
      this.uvarint(field.tag).uvarint(field.data.length).raw(field.data);
    }
    return this;
  }
  /** An empty tag section when `flexible`. */
  tagsOf(flexible: boolean, fields: readonly TaggedField[] = []): this {
    return flexible ? this.taggedFields(fields) : this;
  }

  /** The bytes written so far (a view; the writer must not be used after). */
  finish(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}
