// An HTTP/2 client at the frame level (RFC 9113 §4) for tests that must see which frames a
// server sends and when: one TCP connection, the preface and an empty SETTINGS, then frames
// written as given and every received frame kept in order. Request headers use HPACK's
// literal forms only (RFC 7541 §6.2.2, no Huffman), so no encoder state is needed.
import { connect, type Socket } from 'node:net';

export const frameTypes = { data: 0, headers: 1, rstStream: 3, settings: 4, ping: 6 } as const;
export const frameFlags = { endStream: 0x1, ack: 0x1, endHeaders: 0x4 } as const;
const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const frameBytesMax = 16_384; // SETTINGS_MAX_FRAME_SIZE's initial value

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** DATA frames of at most the initial frame size; END_STREAM on the last when `end`. */
export function dataFrames(streamId: number, body: Buffer, end: boolean): Buffer {
  const frames: Buffer[] = [];
  for (let at = 0; at < body.length || frames.length === 0; at += frameBytesMax) {
    const last = at + frameBytesMax >= body.length;
    const flags = last && end ? frameFlags.endStream : 0;
    frames.push(frame(frameTypes.data, flags, streamId, body.subarray(at, at + frameBytesMax)));
  }
  return Buffer.concat(frames);
}

/** A header block: :method and :scheme from the static table, the rest as literals. */
export function headerBlock(method: 'GET' | 'POST', headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.from([method === 'GET' ? 0x82 : 0x83, 0x86])];
  const literal = (text: string): Buffer => {
    if (text.length >= 127) throw new Error('header too long for this encoder');
    return Buffer.concat([Buffer.from([text.length]), Buffer.from(text, 'latin1')]);
  };
  for (const [name, value] of Object.entries(headers)) {
    // Literal without indexing, new name (RFC 7541 §6.2.2).
    parts.push(Buffer.from([0x00]), literal(name), literal(value));
  }
  return Buffer.concat(parts);
}

export class H2FrameClient {
  readonly frames: Frame[] = [];
  readonly #socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('error', () => undefined); // A closed connection shows as missing frames.
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  static async connect(port: number): Promise<H2FrameClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new H2FrameClient(socket);
    socket.write(Buffer.concat([preface, frame(frameTypes.settings, 0, 0, Buffer.alloc(0))]));
    return client;
  }

  write(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  /** Resolves with the index of the first received frame that `matches`, waiting until then. */
  async until(matches: (frame: Frame) => boolean, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.frames.findIndex(matches);
      if (index >= 0) return index;
      if (Date.now() > deadline || this.#socket.destroyed) throw new Error('no such frame');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3);
      if (this.#buffer.length < 9 + length) break;
      const received: Frame = {
        type: this.#buffer[3] as number,
        flags: this.#buffer[4] as number,
        streamId: this.#buffer.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.#buffer.subarray(9, 9 + length)),
      };
      this.#buffer = this.#buffer.subarray(9 + length);
      this.frames.push(received);
      if (received.type === frameTypes.settings && (received.flags & frameFlags.ack) === 0) {
        this.write(frame(frameTypes.settings, frameFlags.ack, 0, Buffer.alloc(0)));
      }
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
