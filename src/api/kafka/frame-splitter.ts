// Splits a connection's byte stream into Kafka request frames: int32 size, then that many
// bytes. Pure (no sockets): chunks in, whole frames out. A size below the smallest header or
// above requestBytesMax (socket.request.max.bytes) is KafkaProtocolError: the connection closes
// before a byte of the body is buffered.
import { KafkaProtocolError } from './protocol/errors.ts';

/** api_key + api_version + correlation_id + client_id length: the smallest request header. */
const headerBytesMin = 10;

export class FrameSplitter {
  readonly #requestBytesMax: number;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** The size of the frame being gathered, or -1 while its size prefix is incomplete. */
  #frameBytes = -1;

  constructor(requestBytesMax: number) {
    this.#requestBytesMax = requestBytesMax;
  }

  /** Bytes held that do not yet make a whole frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Adds a chunk; returns the frames it completes (without their size prefix). */
  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.#frameBytes === -1) {
        if (this.#buffered < 4) return frames;
        const size = this.#take(4).readInt32BE(0);
        if (size < headerBytesMin || size > this.#requestBytesMax) {
          throw new KafkaProtocolError(
            size > this.#requestBytesMax ? 'KAFKA_REQUEST_TOO_LARGE' : 'KAFKA_MALFORMED_REQUEST',
            `request frame of ${size} bytes (socket.request.max.bytes ${this.#requestBytesMax})`,
          );
        }
        this.#frameBytes = size;
      }
      if (this.#buffered < this.#frameBytes) return frames;
      frames.push(this.#take(this.#frameBytes));
      this.#frameBytes = -1;
    }
  }

  /** Removes and returns the first `bytes` buffered bytes (a view when one chunk holds them). */
  #take(bytes: number): Buffer {
    const first = this.#chunks[0];
    if (first !== undefined && first.length >= bytes) {
      const taken = first.subarray(0, bytes);
      if (first.length === bytes) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(bytes);
      this.#buffered -= bytes;
      return taken;
    }
    const whole = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = whole.length > bytes ? [whole.subarray(bytes)] : [];
    this.#buffered -= bytes;
    return whole.subarray(0, bytes);
  }
}

/**
 * Whether a connection's first bytes are a Kafka request frame: a positive int32 size, then an
 * api key and version that are non-negative int16s. Undefined while fewer than 8 bytes came.
 * An HTTP request starts with an ASCII letter, which no frame under 1 GiB does.
 */
export function isKafkaFrameStart(head: Buffer): boolean | undefined {
  const first = head[0];
  if (first === undefined) return undefined;
  if (first >= 0x41) return false;
  if (head.length < 8) return undefined;
  return head.readInt32BE(0) > 0 && head.readInt16BE(4) >= 0 && head.readInt16BE(6) >= 0;
}
