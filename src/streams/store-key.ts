// Store keys as binary strings: one char (0..255) per byte of the serialized key, so a Map
// compares keys by their bytes. Windowed keys append the window's start and end as two 8-byte
// big-endian integers, which is also the layout of their changelog keys.
import { assert } from '../common/index.ts';

export function bytesToId(bytes: Uint8Array): string {
  // latin1 maps each byte to the char of the same code: exactly one char per byte.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

export function idToBytes(id: string): Uint8Array {
  const bytes = new Uint8Array(id.length);
  for (let i = 0; i < id.length; i += 1) {
    const code = id.charCodeAt(i);
    assert(code < 256, 'a store id holds one byte per char');
    bytes[i] = code;
  }
  return bytes;
}

/** The 16-byte suffix of a windowed key: start and end, 8-byte big-endian each. */
export function windowSuffix(startMs: number, endMs: number): string {
  return int64Chars(startMs) + int64Chars(endMs);
}

const twoTo32 = 2 ** 32;

/** A safe integer as 8 big-endian two's-complement bytes, one char per byte (no BigInt). */
function int64Chars(value: number): string {
  assert(Number.isSafeInteger(value), 'a window bound is a safe integer');
  const high = Math.floor(value / twoTo32);
  const low = value - high * twoTo32; // In [0, 2^32): the low word, unsigned.
  const h = high >>> 0; // Two's complement of a negative high word.
  return String.fromCharCode(
    h >>> 24,
    (h >>> 16) & 0xff,
    (h >>> 8) & 0xff,
    h & 0xff,
    low >>> 24,
    (low >>> 16) & 0xff,
    (low >>> 8) & 0xff,
    low & 0xff,
  );
}
