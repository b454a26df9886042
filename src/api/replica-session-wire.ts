// The body of a replica session fetch answer (POST /internal/v1/replica/session-fetch), shared
// by the leader's route and the follower's transport. Format: a 4-byte big-endian length, that
// many bytes of UTF-8 JSON `{ kind: 'ok', sessionId, partitions: [...] }` where each 'records'
// partition carries `recordBytes`, then the partitions' record batches back to back in the same
// order — the segment bytes as stored. A refused session is a plain JSON `{ kind: 'error' }`.

/** Content type of a session fetch answer in the framing above. */
export const replicaSessionContentType = 'application/vnd.rill.replica-session';

export interface EncodedPartitionHeader {
  readonly topic: string;
  readonly partition: number;
  readonly kind: string;
  /** Only for 'records': the length of its batches in the body. */
  readonly recordBytes?: number;
  readonly [field: string]: unknown;
}

/** Frames the JSON header before the record bytes. */
export function encodeSessionAnswer(
  sessionId: number,
  partitions: readonly EncodedPartitionHeader[],
  records: readonly Uint8Array[],
): Uint8Array[] {
  const header = Buffer.from(JSON.stringify({ kind: 'ok', sessionId, partitions }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length, 0);
  return [length, header, ...records];
}

export interface DecodedSessionAnswer {
  readonly sessionId: number;
  readonly partitions: readonly (EncodedPartitionHeader & { records?: Uint8Array })[];
}

/** The inverse of encodeSessionAnswer; throws on a malformed body. */
export function decodeSessionAnswer(body: Buffer): DecodedSessionAnswer {
  if (body.length < 4) throw new Error('session answer shorter than its length prefix');
  const headerBytes = body.readUInt32BE(0);
  if (4 + headerBytes > body.length) throw new Error('session answer header runs past the body');
  const header = JSON.parse(body.subarray(4, 4 + headerBytes).toString('utf8')) as {
    sessionId?: unknown;
    partitions?: unknown;
  };
  const sessionId = header.sessionId;
  if (typeof sessionId !== 'number' || !Array.isArray(header.partitions)) {
    throw new Error('session answer header lacks sessionId or partitions');
  }
  let at = 4 + headerBytes;
  const partitions = (header.partitions as EncodedPartitionHeader[]).map((p) => {
    if (p.kind !== 'records') return p;
    const length = p.recordBytes;
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
      throw new Error(`session answer for ${p.topic}-${p.partition} lacks recordBytes`);
    }
    if (at + length > body.length) throw new Error('session answer records run past the body');
    const records = body.subarray(at, at + length);
    at += length;
    return { ...p, records };
  });
  if (at !== body.length) throw new Error('session answer has trailing bytes');
  return { sessionId, partitions };
}
