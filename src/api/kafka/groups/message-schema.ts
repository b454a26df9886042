// A small interpreter of message schemas written as data, the way Kafka's own JSON schemas
// describe them (fields with version ranges, nullable-from versions, nested arrays, a tag
// section after every struct in flexible versions), so that one description per message both
// reads and writes it and every version round-trips. The group APIs' schemas are in
// group-schemas.ts, written from Kafka's published message definitions. Arrays name their bound.
import { KafkaProtocolError } from '../protocol/errors.ts';
import type { KafkaReader } from '../protocol/reader.ts';
import type { KafkaWriter } from '../protocol/writer.ts';

export type Scalar = 'int8' | 'int16' | 'int32' | 'int64' | 'bool' | 'string' | 'bytes' | 'uuid';

export interface Field {
  readonly name: string;
  /** A scalar, or an array of scalars or of structs. */
  readonly type: Scalar | { readonly of: Scalar | readonly Field[]; readonly max: number };
  /** First and last version holding the field (inclusive). */
  readonly versions: readonly [number, number];
  /** First version where the value may be null (strings, bytes, arrays); none if absent. */
  readonly nullableFrom?: number;
  /** The value a version without the field reads as, and writes nothing for. */
  readonly absent?: unknown;
}

export type Message = Record<string, unknown>;

const any = 1_000;

/** Field versions: `v(5)` is 5+, `v(0, 3)` is 0-3. */
export function v(min: number, max = any): readonly [number, number] {
  return [min, max];
}

export function readMessage(
  reader: KafkaReader,
  fields: readonly Field[],
  version: number,
  flexible: boolean,
): Message {
  const message: Message = {};
  for (const field of fields) {
    if (version < field.versions[0] || version > field.versions[1]) {
      message[field.name] = field.absent ?? null;
      continue;
    }
    const nullable = field.nullableFrom !== undefined && version >= field.nullableFrom;
    message[field.name] = readValue(reader, field.type, version, flexible, nullable);
  }
  if (flexible) reader.skipTaggedFields();
  return message;
}

function readValue(
  reader: KafkaReader,
  type: Field['type'],
  version: number,
  flexible: boolean,
  nullable: boolean,
): unknown {
  if (typeof type === 'object') {
    const of = type.of;
    const read = (r: KafkaReader): unknown =>
      typeof of === 'string'
        ? readValue(r, of, version, flexible, false)
        : readMessage(r, of, version, flexible);
    return nullable
      ? reader.nullableArrayOf(flexible, read, type.max)
      : reader.arrayOf(flexible, read, type.max);
  }
  switch (type) {
    case 'int8':
      return reader.int8();
    case 'int16':
      return reader.int16();
    case 'int32':
      return reader.int32();
    case 'int64':
      return reader.int64Number();
    case 'bool':
      return reader.boolean();
    case 'string':
      return nullable ? reader.nullableStringOf(flexible) : reader.stringOf(flexible);
    case 'bytes':
      return nullable ? reader.nullableBytesOf(flexible) : reader.bytesOf(flexible);
    case 'uuid':
      return reader.uuid();
  }
}

export function writeMessage(
  writer: KafkaWriter,
  fields: readonly Field[],
  version: number,
  flexible: boolean,
  message: Message,
  /** False for a message the caller continues (a field this interpreter does not write). */
  endTags = true,
): KafkaWriter {
  for (const field of fields) {
    if (version < field.versions[0] || version > field.versions[1]) continue;
    const nullable = field.nullableFrom !== undefined && version >= field.nullableFrom;
    const value = message[field.name] ?? null;
    writeValue(writer, field, field.type, version, flexible, nullable, value);
  }
  if (flexible && endTags) writer.taggedFields();
  return writer;
}

function writeValue(
  writer: KafkaWriter,
  field: Field,
  type: Field['type'],
  version: number,
  flexible: boolean,
  nullable: boolean,
  value: unknown,
): void {
  if (value === null && !nullable && type !== 'string' && type !== 'bytes') {
    if (typeof type === 'object') value = [];
    else throw new KafkaProtocolError('KAFKA_MALFORMED_REQUEST', `${field.name} is null`);
  }
  if (typeof type === 'object') {
    const of = type.of;
    const list = value as readonly unknown[] | null;
    const write = (w: KafkaWriter, item: unknown): void => {
      if (typeof of === 'string') writeValue(w, field, of, version, flexible, false, item);
      else writeMessage(w, of, version, flexible, item as Message);
    };
    if (nullable) writer.nullableArrayOf(flexible, list, write);
    else writer.arrayOf(flexible, list ?? [], write);
    return;
  }
  switch (type) {
    case 'int8':
      writer.int8(value as number);
      return;
    case 'int16':
      writer.int16(value as number);
      return;
    case 'int32':
      writer.int32(value as number);
      return;
    case 'int64':
      writer.int64(value as number);
      return;
    case 'bool':
      writer.boolean(value as boolean);
      return;
    case 'string':
      if (nullable) writer.nullableStringOf(flexible, value as string | null);
      else writer.stringOf(flexible, (value as string | null) ?? '');
      return;
    case 'bytes':
      if (nullable) writer.nullableBytesOf(flexible, value as Uint8Array | null);
      else writer.bytesOf(flexible, (value as Uint8Array | null) ?? new Uint8Array());
      return;
    case 'uuid':
      writer.uuid(Buffer.from(value as Uint8Array));
      return;
  }
}
