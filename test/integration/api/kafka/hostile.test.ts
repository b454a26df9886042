// Goal: hostile input on the Kafka side closes (or answers) that one connection; the node
// stays up and writes nothing. Covers random bytes (seeded: the seed is printed), truncated
// frames, 2 GiB, 1 GiB and 200 MiB lengths, unknown api keys and versions, arrays that lie about
// their length, topic names with a NUL; also in-order answers to 300 pipelined requests and
// the idle-connection close. Method: one broker process with a 1 s idle limit; a raw socket
// client per case; after each, HTTP /healthz and the topic list are checked.
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../../../src/common/index.ts';
import { KafkaWriter } from '../../../../src/api/kafka/protocol/writer.ts';
import { BrokerProcess } from '../../../support/api/broker-process.ts';
import { H2c } from '../../../support/api/h2c.ts';
import { KafkaWireClient } from '../../../support/api/kafka-wire.ts';
import { pollUntil } from '../../../support/poll.ts';

let broker: BrokerProcess;
let http: H2c;

beforeAll(async () => {
  broker = await BrokerProcess.start({ args: ['--limit', 'kafkaConnectionIdleMs=1000'] });
  http = new H2c(broker.url);
});

afterAll(async () => {
  await http?.close();
  await broker?.stop();
});

afterEach(async () => {
  expect((await http.get('/healthz')).status).toBe(200);
  const topics = (await http.get('/v1/topics')).json().topics as { name: string }[];
  expect(topics.filter((t) => !t.name.startsWith('__'))).toEqual([]);
});

/** Sends bytes on a fresh socket; resolves to what came back once the server closed it. */
async function sendAndAwaitClose(bytes: Buffer, end = false): Promise<Buffer> {
  const socket: Socket = connect({ host: '127.0.0.1', port: broker.port });
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', () => undefined); // A reset is one way of being closed.
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(bytes);
  if (end) socket.end();
  await closed;
  return Buffer.concat(received);
}

function frame(apiKey: number, apiVersion: number, body: (w: KafkaWriter) => void): Buffer {
  const w = new KafkaWriter().int32(0).int16(apiKey).int16(apiVersion).int32(1).string('h');
  body(w);
  const bytes = Buffer.from(w.finish());
  bytes.writeInt32BE(bytes.length - 4, 0);
  return bytes;
}

describe('Kafka hostile input', () => {
  it('closes connections that send random bytes', async () => {
    const seed = Date.now() % 2 ** 31;
    console.log(`hostile random-bytes seed ${seed}`);
    const random = new SeededRandom(seed);
    for (let round = 0; round < 20; round += 1) {
      const bytes = Buffer.alloc(8 + random.int(200));
      for (let i = 0; i < bytes.length; i += 1) bytes[i] = random.int(256);
      bytes[0] = 0; // A first byte below 'A' routes the connection to the Kafka handler.
      // Any api key but those that may create a topic from a valid-looking body (0, 3, 19).
      const keys = [1, 2, 8, 9, 10, 11, 12, 13, 14, 18, 20, 22, 32, 68, 500];
      bytes.writeInt16BE(keys[random.int(keys.length)] ?? 1, 4);
      await sendAndAwaitClose(bytes, true);
    }
  });

  it('closes on lengths of 2 GiB, 1 GiB and 200 MiB before buffering them', async () => {
    const twoGiB = Buffer.from([0x80, 0, 0, 0, 0, 18, 0, 0]);
    const answer = await sendAndAwaitClose(twoGiB);
    // Not a Kafka frame (negative size): the HTTP/1 side answers 400 and closes.
    expect(answer.toString('latin1')).toMatch(/^HTTP\/1\.1 400/);
    // The largest int32 (2 GiB - 1) starts with 0x7f, past the ASCII letters: HTTP/1 too.
    const largest = Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 7]);
    expect((await sendAndAwaitClose(largest)).toString('latin1')).toMatch(/^HTTP\/1\.1 400/);
    // Kafka frames of 200 MiB and of 0x40ffffff bytes (the largest the sniffer hands to the
    // Kafka side) are refused by socket.request.max.bytes before any body is buffered.
    for (const size of [200 * 1024 * 1024, 0x40ffffff]) {
      const large = Buffer.alloc(64);
      large.writeInt32BE(size, 0);
      large.writeInt16BE(0, 4);
      large.writeInt16BE(7, 6);
      expect((await sendAndAwaitClose(large)).length).toBe(0);
    }
  });

  it('closes on a truncated frame when the client ends', async () => {
    const whole = frame(3, 1, (w) => w.array(['x'], (tw, name) => tw.string(name)));
    expect((await sendAndAwaitClose(whole.subarray(0, whole.length - 2), true)).length).toBe(0);
  });

  it('closes on unknown api keys and unsupported versions; answers a new ApiVersions', async () => {
    expect((await sendAndAwaitClose(frame(999, 0, () => undefined))).length).toBe(0);
    expect((await sendAndAwaitClose(frame(0, 99, () => undefined))).length).toBe(0);
    expect((await sendAndAwaitClose(frame(1, 0, () => undefined))).length).toBe(0); // Fetch v0
    const client = await KafkaWireClient.connect(broker.port);
    try {
      const reader = await client.request(18, 77, true, (w) => w.raw(Buffer.from([9, 9, 9])));
      expect(reader.int16()).toBe(35); // UNSUPPORTED_VERSION, in the v0 format
      const apis = reader.array((r) => [r.int16(), r.int16(), r.int16()]);
      expect(apis).toContainEqual([0, 3, 9]);
      expect(apis).toContainEqual([1, 4, 17]);
    } finally {
      client.close();
    }
  });

  it('closes on an array whose count exceeds the bytes or its bound', async () => {
    const lying = frame(3, 1, (w) => w.int32(2 ** 31 - 1));
    expect((await sendAndAwaitClose(lying)).length).toBe(0);
  });

  it('answers INVALID_TOPIC_EXCEPTION to Metadata, Produce, CreateTopics for a NUL', async () => {
    const client = await KafkaWireClient.connect(broker.port);
    try {
      const metadata = await client.request(3, 4, false, (w) => {
        w.array(['bad\u0000name'], (tw, name) => tw.string(name)).boolean(true);
      });
      metadata.int32(); // throttle
      metadata.array((r) => [r.int32(), r.string(), r.int32(), r.nullableString()]);
      metadata.nullableString();
      metadata.int32();
      const [topic] = metadata.array((r) => {
        const errorCode = r.int16();
        const name = r.string();
        r.boolean();
        r.array(() => undefined);
        return { errorCode, name };
      });
      expect(topic).toEqual({ errorCode: 17, name: 'bad\u0000name' });
      const produce = await client.request(0, 7, false, (w) => {
        w.nullableString(null).int16(-1).int32(1000);
        w.array(['bad\u0000name'], (tw, name) => {
          tw.string(name).array([0], (pw, p) => pw.int32(p).bytes(Buffer.alloc(70)));
        });
      });
      const [answer] = produce.array((r) => {
        r.string();
        return r.array((pr) => ({ partition: pr.int32(), errorCode: pr.int16() }));
      });
      expect(answer).toEqual([{ partition: 0, errorCode: 17 }]);
      const created = await client.request(19, 0, false, (w) => {
        w.array(['bad\u0000name'], (tw, name) => {
          tw.string(name).int32(1).int16(1).int32(0).int32(0);
        });
        w.int32(5_000);
      });
      expect(created.array((r) => ({ name: r.string(), errorCode: r.int16() }))).toEqual([
        { name: 'bad\u0000name', errorCode: 17 },
      ]);
    } finally {
      client.close();
    }
  });

  it('answers 300 pipelined requests in order, then closes the idle connection', async () => {
    const client = await KafkaWireClient.connect(broker.port);
    const answers = await Promise.all(
      Array.from({ length: 300 }, () => client.request(18, 2, false, () => undefined)),
    );
    // Each request() checks its correlation id: order held if all resolved.
    expect(answers.map((reader) => reader.int16())).toEqual(new Array(300).fill(0));
    await pollUntil('the idle Kafka connection to close', 10_000, () =>
      client.isClosed ? true : undefined,
    );
  });
});
