// Kafka's variable-length integers: zig-zag encoded, then 7 bits per byte, low bits first, the
// high bit set on every byte but the last (protobuf's varint). `varint` holds an int32 in at
// most 5 bytes; `varlong` holds an int64 in at most 10 bytes — here limited to safe integers.
import { assert } from '../common/index.ts';

/** Zig-zag maps small magnitudes to small codes: 0→0, -1→1, 1→2, -2→3 … */
export function zigZag(value: number): number {
  // The message is built only on failure: this runs for every field of every record.
  if (!Number.isSafeInteger(value)) assert(false, `varint value ${value} is not a safe integer`);
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

export function unZigZag(code: number): number {
  return code % 2 === 0 ? code / 2 : -(code + 1) / 2;
}

/** Bytes needed to write `value` zig-zag encoded. */
export function varintSize(value: number): number {
  let code = zigZag(value);
  let size = 1;
  while (code >= 128) {
    code = Math.floor(code / 128);
    size += 1;
  }
  return size;
}

/** Writes `value` zig-zag encoded at `position`; returns the position after it. */
export function writeVarint(buffer: Buffer, position: number, value: number): number {
  let code = zigZag(value);
  let at = position;
  while (code >= 128) {
    buffer[at] = (code % 128) | 0x80;
    code = Math.floor(code / 128);
    at += 1;
  }
  buffer[at] = code;
  return at + 1;
}

/** A varint read from untrusted bytes: `null` when it runs past `end` or past `bytesMax`. */
export function readVarint(
  buffer: Uint8Array,
  position: number,
  end: number,
  bytesMax: 5 | 10,
): { value: number; next: number } | null {
  let code = 0;
  let scale = 1;
  for (let at = position; at < end && at - position < bytesMax; at += 1) {
    const byte = buffer[at] ?? 0;
    code += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (!Number.isSafeInteger(code)) return null;
      const value = unZigZag(code);
      if (bytesMax === 5 && (value > 0x7fffffff || value < -0x80000000)) return null;
      return { value, next: at + 1 };
    }
    scale *= 128;
  }
  return null;
}
