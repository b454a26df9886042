// A minimal Kafka wire client for tests: one TCP connection, requests framed with the codecs
// of src/api/kafka/protocol, responses matched by correlation id in order. Also sends raw
// bytes (hostile input) and reports whether the server closed the connection.
import { connect, type Socket } from 'node:net';
import { writeRequestHeader } from '../../../src/api/kafka/protocol/header.ts';
import { KafkaReader } from '../../../src/api/kafka/protocol/reader.ts';
import { KafkaWriter } from '../../../src/api/kafka/protocol/writer.ts';

export class KafkaWireClient {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #correlationId = 0;
  readonly #waiting: ((frame: Buffer) => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined); // A hostile test expects the server to cut us off.
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      while (this.#buffer.length >= 4) {
        const size = this.#buffer.readInt32BE(0);
        if (this.#buffer.length < 4 + size) break;
        const frame = this.#buffer.subarray(4, 4 + size);
        this.#buffer = this.#buffer.subarray(4 + size);
        this.#waiting.shift()?.(frame);
      }
    });
  }

  static async connect(port: number): Promise<KafkaWireClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new KafkaWireClient(socket);
  }

  get isClosed(): boolean {
    return this.#socket.destroyed || this.#socket.readyState === 'closed';
  }

  /** Sends a request; resolves to the response body reader (after the response header). */
  async request(
    apiKey: number,
    apiVersion: number,
    flexible: boolean,
    body: (writer: KafkaWriter) => void,
  ): Promise<KafkaReader> {
    const correlationId = (this.#correlationId += 1);
    const writer = new KafkaWriter();
    writer.int32(0);
    writeRequestHeader(writer, { apiKey, apiVersion, correlationId, clientId: 'test', flexible });
    body(writer);
    const frame = Buffer.from(writer.finish());
    frame.writeInt32BE(frame.length - 4, 0);
    const answered = new Promise<Buffer>((resolve, reject) => {
      this.#waiting.push(resolve);
      void this.closed.then(() => reject(new Error('connection closed')));
    });
    this.#socket.write(frame);
    const reader = new KafkaReader(await answered);
    if (reader.int32() !== correlationId) throw new Error('correlation id mismatch');
    if (flexible && apiKey !== 18) reader.skipTaggedFields();
    return reader;
  }

  /** Sends a request that takes no answer (Produce acks=0); resolves once written. */
  async send(
    apiKey: number,
    apiVersion: number,
    body: (writer: KafkaWriter) => void,
  ): Promise<void> {
    const correlationId = (this.#correlationId += 1);
    const writer = new KafkaWriter();
    writer.int32(0);
    writeRequestHeader(writer, {
      apiKey,
      apiVersion,
      correlationId,
      clientId: 'test',
      flexible: false,
    });
    body(writer);
    const frame = Buffer.from(writer.finish());
    frame.writeInt32BE(frame.length - 4, 0);
    await new Promise<void>((resolve, reject) =>
      this.#socket.write(frame, (error) => (error ? reject(error) : resolve())),
    );
  }

  /** Sends a whole frame as given (another client's encoding); resolves to the response frame. */
  async exchange(frame: Uint8Array): Promise<Buffer> {
    const answered = new Promise<Buffer>((resolve, reject) => {
      this.#waiting.push(resolve);
      void this.closed.then(() => reject(new Error('connection closed')));
    });
    this.#socket.write(frame);
    return answered;
  }

  writeRaw(bytes: Uint8Array): void {
    this.#socket.write(bytes);
  }

  close(): void {
    this.#socket.destroy();
  }
}

export interface FetchV11Answer {
  readonly errorCode: number;
  readonly highWatermark: bigint;
  readonly logStartOffset: bigint;
  readonly records: Buffer;
}

/** Fetch v11 of one partition: the record bytes as the broker sent them, and its error code. */
export async function fetchV11(
  client: KafkaWireClient,
  topic: string,
  partition: number,
  offset: number,
  maxWaitMs = 0,
  minBytes = 1,
): Promise<FetchV11Answer> {
  const reader = await client.request(1, 11, false, (w) => {
    w.int32(-1)
      .int32(maxWaitMs)
      .int32(minBytes)
      .int32(64 * 1024 * 1024)
      .int8(0)
      .int32(0)
      .int32(-1);
    w.array([topic], (tw, name) => {
      tw.string(name).array([partition], (pw, p) => {
        pw.int32(p)
          .int32(-1)
          .int64(offset)
          .int64(-1)
          .int32(16 * 1024 * 1024);
      });
    });
    w.array([], () => undefined).string('');
  });
  reader.int32(); // throttle
  reader.int16(); // error_code
  reader.int32(); // session_id
  const topics = reader.array((r) => {
    r.string();
    return r.array((pr) => {
      pr.int32();
      const errorCode = pr.int16();
      const highWatermark = pr.int64();
      pr.int64(); // last_stable_offset
      const logStartOffset = pr.int64();
      pr.nullableArray((ar) => [ar.int64(), ar.int64()]);
      pr.int32();
      const records = Buffer.from(pr.nullableBytes() ?? Buffer.alloc(0));
      return { errorCode, highWatermark, logStartOffset, records };
    });
  });
  const answer = topics[0]?.[0];
  if (answer === undefined) throw new Error('no partition in the Fetch answer');
  return answer;
}

/** Produce v8 of `records` to one partition with `acks` (1 or -1): that partition's answer. */
export async function produceV8(
  client: KafkaWireClient,
  topic: string,
  partition: number,
  records: Uint8Array,
  acks = 1,
): Promise<{ errorCode: number; baseOffset: bigint; errorMessage: string | null }> {
  const reader = await client.request(0, 8, false, (w) => {
    w.nullableString(null).int16(acks).int32(10_000);
    w.array([topic], (tw, name) => {
      tw.string(name).array([partition], (pw, p) => pw.int32(p).bytes(records));
    });
  });
  const topics = reader.array((r) => {
    r.string();
    return r.array((pr) => {
      pr.int32(); // partition
      const errorCode = pr.int16();
      const baseOffset = pr.int64();
      pr.int64(); // log append time
      pr.int64(); // log start offset
      pr.array((er) => [er.int32(), er.nullableString()]); // record errors
      const errorMessage = pr.nullableString();
      return { errorCode, baseOffset, errorMessage };
    });
  });
  const answer = topics[0]?.[0];
  if (answer === undefined) throw new Error('no partition in the Produce answer');
  return answer;
}
