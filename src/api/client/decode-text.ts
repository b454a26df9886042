// Decoding helpers for record keys, values and header values, which the consumer returns as
// bytes (Uint8Array; at run time Node Buffers that share memory with the fetched batch). Both
// map null — a null key or a tombstone value — to null.

/** The bytes as UTF-8 text (malformed sequences become U+FFFD, as Buffer#toString does). */
export function decodeText(bytes: Uint8Array | null): string | null {
  if (bytes === null) return null;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** The bytes parsed as UTF-8 JSON; throws the SyntaxError of JSON.parse if they are not. */
export function decodeJson(bytes: Uint8Array | null): unknown {
  const text = decodeText(bytes);
  return text === null ? null : (JSON.parse(text) as unknown);
}
