// Serdes turn typed keys and values into the bytes topics, changelogs and repartition topics
// carry, and back. A null value is a tombstone and never reaches a serde. Pure functions.
import { StreamsError } from './errors.ts';
import type { Windowed } from './windows.ts';

export interface Serde<T> {
  serialize(value: T): Uint8Array;
  deserialize(bytes: Uint8Array): T;
}

/** The key and value serdes of one step of a topology. */
export interface Serdes<K, V> {
  readonly key: Serde<K>;
  readonly value: Serde<V>;
}

/** UTF-8 bytes of `text`; Buffer.from takes short strings from a shared pool (cheap). */
const utf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');
const decoder = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch (error) {
    throw new StreamsError('STREAMS_DESERIALIZATION', 'bytes are not valid UTF-8', {
      cause: error,
    });
  }
}

export const stringSerde: Serde<string> = {
  serialize: (value) => utf8(value),
  deserialize: decodeUtf8,
};

export const bytesSerde: Serde<Uint8Array> = {
  serialize: (value) => value,
  deserialize: (bytes) => bytes,
};

/** Numbers as their decimal string, so a console consumer reads them (word-count's output). */
export const numberSerde: Serde<number> = {
  serialize: (value) => utf8(String(value)),
  deserialize: (bytes) => {
    const text = decodeUtf8(bytes);
    const value = Number(text);
    if (text.trim() === '' || Number.isNaN(value)) {
      throw new StreamsError('STREAMS_DESERIALIZATION', `not a number: ${text.slice(0, 40)}`);
    }
    return value;
  },
};

/** JSON in UTF-8; the type parameter is trusted, as with any JSON.parse. */
export function jsonSerde<T>(): Serde<T> {
  return {
    serialize: (value) => utf8(JSON.stringify(value)),
    deserialize: (bytes) => {
      const text = decodeUtf8(bytes);
      try {
        return JSON.parse(text) as T;
      } catch (error) {
        throw new StreamsError('STREAMS_DESERIALIZATION', 'bytes are not valid JSON', {
          cause: error,
        });
      }
    },
  };
}

/** A user-defined serde from two functions. */
export function customSerde<T>(
  serialize: (value: T) => Uint8Array,
  deserialize: (bytes: Uint8Array) => T,
): Serde<T> {
  return { serialize, deserialize };
}

export function serdes<K, V>(key: Serde<K>, value: Serde<V>): Serdes<K, V> {
  return { key, value };
}

/** A windowed key: the key's bytes, then the window's start and end (8-byte big-endian each). */
export function windowedSerde<K>(keySerde: Serde<K>): Serde<Windowed<K>> {
  return {
    serialize: (windowed) => {
      const key = keySerde.serialize(windowed.key);
      const bytes = new Uint8Array(key.length + 16);
      bytes.set(key);
      const view = new DataView(bytes.buffer);
      view.setBigInt64(key.length, BigInt(windowed.window.startMs));
      view.setBigInt64(key.length + 8, BigInt(windowed.window.endMs));
      return bytes;
    },
    deserialize: (bytes) => {
      if (bytes.length < 16) {
        throw new StreamsError('STREAMS_DESERIALIZATION', 'a windowed key has >= 16 bytes');
      }
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const startMs = Number(view.getBigInt64(bytes.length - 16));
      const endMs = Number(view.getBigInt64(bytes.length - 8));
      const key = keySerde.deserialize(bytes.subarray(0, bytes.length - 16));
      return { key, window: { startMs, endMs } };
    },
  };
}
