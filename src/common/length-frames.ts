// Length-prefixed frames on a byte stream: an int32 size (big-endian), then that many bytes.
// Pure (no sockets): chunks in, whole frames out. A size the caller's check refuses (by default
// a negative one or one above `frameBytesMax`) throws before a byte of its body is buffered, so
// a stream holds at most one frame. Used by the Raft transport's stream and Kafka connections.

export class FrameTooLargeError extends Error {
  override name = 'FrameTooLargeError';
}

/** Returns the error to throw for a frame of `size` bytes, or null to accept it. */
export type FrameSizeCheck = (size: number) => Error | null;

/** `payload` with its 4-byte size prefix. */
export function lengthFrame(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(4 + payload.length);
  frame.writeInt32BE(payload.length, 0);
  payload.copy(frame, 4);
  return frame;
}

export class LengthFrameSplitter {
  readonly #refuse: FrameSizeCheck;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** The size of the frame being gathered, or -1 while its size prefix is incomplete. */
  #frameBytes = -1;

  /** `limit`: the largest frame accepted, or a check of each frame's size. */
  constructor(limit: number | FrameSizeCheck) {
    this.#refuse =
      typeof limit === 'function'
        ? limit
        : (size) =>
            size < 0 || size > limit
              ? new FrameTooLargeError(`a frame of ${size} bytes (at most ${limit})`)
              : null;
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
        const refused = this.#refuse(size);
        if (refused !== null) throw refused;
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
