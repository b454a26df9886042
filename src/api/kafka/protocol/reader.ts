// A bounds-checked reader of Kafka's primitive types (the protocol guide's "Protocol Primitive
// Types"): every read checks the bytes left first and throws KafkaProtocolError, never a
// RangeError, so a hostile frame closes its connection and nothing else. Arrays take a named
// element bound; compact (flexible) forms store length + 1 as an unsigned varint.
import { KafkaProtocolError } from './errors.ts';

/** Default bound on the elements of one array (topics, partitions, …) when a caller sets none. */
export const arrayElementsMaxDefault = 100_000;

/** One tagged field of a flexible version's tag section, its bytes as they came. */
export interface TaggedField {
  readonly tag: number;
  readonly data: Buffer;
}

export class KafkaReader {
  readonly buffer: Buffer;
  offset: number;
  private readonly end: number;

  constructor(buffer: Buffer, offset = 0, end = buffer.length) {
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(bytes: number, what: string): number {
    if (bytes < 0 || this.offset + bytes > this.end) {
      throw new KafkaProtocolError(
        'KAFKA_MALFORMED_REQUEST',
        `${what} needs ${bytes} bytes at offset ${this.offset}, ${this.remaining} left`,
      );
    }
    const at = this.offset;
    this.offset += bytes;
    return at;
  }

  int8(): number {
    return this.buffer.readInt8(this.need(1, 'int8'));
  }
  boolean(): boolean {
    return this.int8() !== 0;
  }
  int16(): number {
    return this.buffer.readInt16BE(this.need(2, 'int16'));
  }
  uint16(): number {
    return this.buffer.readUInt16BE(this.need(2, 'uint16'));
  }
  int32(): number {
    return this.buffer.readInt32BE(this.need(4, 'int32'));
  }
  uint32(): number {
    return this.buffer.readUInt32BE(this.need(4, 'uint32'));
  }
  int64(): bigint {
    return this.buffer.readBigInt64BE(this.need(8, 'int64'));
  }
  /** An int64 that must fit a JS number exactly (offsets, timestamps). */
  int64Number(): number {
    const value = this.int64();
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new KafkaProtocolError('KAFKA_MALFORMED_REQUEST', `int64 ${value} is out of range`);
    }
    return Number(value);
  }
  float64(): number {
    return this.buffer.readDoubleBE(this.need(8, 'float64'));
  }
  uuid(): Buffer {
    const at = this.need(16, 'uuid');
    return this.buffer.subarray(at, at + 16);
  }

  /** An unsigned varint of at most 5 bytes (32 bits). */
  uvarint(): number {
    let value = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      const byte = this.buffer.readUInt8(this.need(1, 'varint'));
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) break;
        return value;
      }
    }
    throw new KafkaProtocolError('KAFKA_MALFORMED_REQUEST', 'varint longer than 32 bits');
  }
  /** A zigzag-encoded signed varint (32 bits). */
  varint(): number {
    const raw = this.uvarint();
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
  }
  /** A zigzag-encoded signed varlong (64 bits). */
  varlong(): bigint {
    let raw = 0n;
    for (let shift = 0n; shift <= 63n; shift += 7n) {
      const byte = this.buffer.readUInt8(this.need(1, 'varlong'));
      raw |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return (raw >> 1n) ^ -(raw & 1n);
    }
    throw new KafkaProtocolError('KAFKA_MALFORMED_REQUEST', 'varlong longer than 64 bits');
  }

  private text(length: number, what: string): string {
    const at = this.need(length, what);
    return this.buffer.toString('utf8', at, at + length);
  }
  string(): string {
    const value = this.nullableString();
    if (value === null) throw malformed('string is null');
    return value;
  }
  nullableString(): string | null {
    const length = this.int16();
    if (length === -1) return null;
    if (length < 0) throw malformed(`string length ${length}`);
    return this.text(length, 'string');
  }
  compactString(): string {
    const value = this.compactNullableString();
    if (value === null) throw malformed('compact string is null');
    return value;
  }
  compactNullableString(): string | null {
    const length = this.uvarint() - 1;
    if (length === -1) return null;
    return this.text(length, 'compact string');
  }
  /** Reads `string` or `compactString` by the version's flexibility. */
  stringOf(flexible: boolean): string {
    return flexible ? this.compactString() : this.string();
  }
  nullableStringOf(flexible: boolean): string | null {
    return flexible ? this.compactNullableString() : this.nullableString();
  }

  /** Bytes as a view into the frame (no copy). */
  bytes(): Buffer {
    const value = this.nullableBytes();
    if (value === null) throw malformed('bytes are null');
    return value;
  }
  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length === -1) return null;
    if (length < 0) throw malformed(`bytes length ${length}`);
    const at = this.need(length, 'bytes');
    return this.buffer.subarray(at, at + length);
  }
  compactBytes(): Buffer {
    const value = this.compactNullableBytes();
    if (value === null) throw malformed('compact bytes are null');
    return value;
  }
  compactNullableBytes(): Buffer | null {
    const length = this.uvarint() - 1;
    if (length === -1) return null;
    const at = this.need(length, 'compact bytes');
    return this.buffer.subarray(at, at + length);
  }
  nullableBytesOf(flexible: boolean): Buffer | null {
    return flexible ? this.compactNullableBytes() : this.nullableBytes();
  }
  bytesOf(flexible: boolean): Buffer {
    return flexible ? this.compactBytes() : this.bytes();
  }

  /** An array (int32 count; -1 is null, read as []). At most `elementsMax` elements. */
  array<T>(read: (reader: KafkaReader) => T, elementsMax = arrayElementsMaxDefault): T[] {
    return this.elements(this.int32(), read, elementsMax) ?? [];
  }
  nullableArray<T>(
    read: (reader: KafkaReader) => T,
    elementsMax = arrayElementsMaxDefault,
  ): T[] | null {
    return this.elements(this.int32(), read, elementsMax);
  }
  /** A compact array (uvarint count + 1; 0 is null, read as []). */
  compactArray<T>(read: (reader: KafkaReader) => T, elementsMax = arrayElementsMaxDefault): T[] {
    return this.elements(this.uvarint() - 1, read, elementsMax) ?? [];
  }
  compactNullableArray<T>(
    read: (reader: KafkaReader) => T,
    elementsMax = arrayElementsMaxDefault,
  ): T[] | null {
    return this.elements(this.uvarint() - 1, read, elementsMax);
  }
  arrayOf<T>(
    flexible: boolean,
    read: (reader: KafkaReader) => T,
    elementsMax = arrayElementsMaxDefault,
  ): T[] {
    return flexible ? this.compactArray(read, elementsMax) : this.array(read, elementsMax);
  }
  nullableArrayOf<T>(
    flexible: boolean,
    read: (reader: KafkaReader) => T,
    elementsMax = arrayElementsMaxDefault,
  ): T[] | null {
    return flexible
      ? this.compactNullableArray(read, elementsMax)
      : this.nullableArray(read, elementsMax);
  }

  private elements<T>(count: number, read: (reader: KafkaReader) => T, max: number): T[] | null {
    if (count === -1) return null;
    if (count < 0) throw malformed(`array length ${count}`);
    if (count > max) {
      throw new KafkaProtocolError(
        'KAFKA_REQUEST_TOO_LARGE',
        `array of ${count} elements exceeds its bound of ${max}`,
      );
    }
    // Each element takes at least one byte: a count beyond the bytes left is a lie.
    if (count > this.remaining) throw malformed(`array of ${count} in ${this.remaining} bytes`);
    const values: T[] = [];
    for (let i = 0; i < count; i += 1) values.push(read(this));
    return values;
  }

  /** Skips a flexible version's tagged-field section. */
  skipTaggedFields(): void {
    this.taggedFields();
  }
  /** Reads a tagged-field section: tags ascend strictly (KIP-482). */
  taggedFields(): TaggedField[] {
    const count = this.uvarint();
    if (count > this.remaining)
      throw malformed(`${count} tagged fields in ${this.remaining} bytes`);
    const fields: TaggedField[] = [];
    let previous = -1;
    for (let i = 0; i < count; i += 1) {
      const tag = this.uvarint();
      if (tag <= previous) throw malformed(`tagged field ${tag} after ${previous}`);
      previous = tag;
      const size = this.uvarint();
      const at = this.need(size, 'tagged field');
      fields.push({ tag, data: this.buffer.subarray(at, at + size) });
    }
    return fields;
  }
  /** Skips the tag section when `flexible`. */
  tagsOf(flexible: boolean): void {
    if (flexible) this.skipTaggedFields();
  }
}

function malformed(message: string): KafkaProtocolError {
  return new KafkaProtocolError('KAFKA_MALFORMED_REQUEST', message);
}
