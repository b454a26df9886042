// Goal: once a peer serves the Raft stream, HttpRaftTransport sends every batch as a frame on
// one long-lived HTTP/2 stream (no request per batch), in order; a peer that refuses the stream
// (a wrong secret) gets requests instead; the end of an accepted stream that we did not close
// is reported to onPeerUnreachable once; a frame over frameBytesMax resets the stream.
// Method: two transports behind bare node:http2 servers on loopback ports, routed the way
// the node's server routes them (the stream path to acceptStream, messages to handleRequest).
import { connect, createServer, type Http2Server, type Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { lengthFrame } from '../../../src/common/index.ts';
import {
  HttpRaftTransport,
  raftMessagesPath,
  raftStreamPath,
  type RaftMessage,
} from '../../../src/raft/index.ts';
import { until } from '../../support/poll.ts';
import { testTransportConfig } from '../../support/raft/transport-config.ts';
import { realClock } from '../../support/real-clock.ts';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const config = (nodeId: number, peers: [number, string][], secret: string | null) =>
  testTransportConfig(nodeId, peers, secret, { queueCountMax: 64, frameBytesMax: 64 * 1024 });

async function serve(transport: HttpRaftTransport): Promise<{
  url: string;
  server: Http2Server;
  sessions: Set<Http2Session>;
  sockets: Set<Socket>;
}> {
  const server = createServer();
  server.on('stream', (stream, headers) => {
    if (headers[':path'] === raftStreamPath) return transport.acceptStream(stream, headers);
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const answer =
        headers[':path'] === raftMessagesPath
          ? transport.handleRequest(body, headers)
          : { status: 404, body: {} };
      stream.respond({ ':status': answer.status, 'content-type': 'application/json' });
      stream.end(JSON.stringify(answer.body));
    });
  });
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => sockets.add(socket));
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  closers.push(async () => {
    for (const session of sessions) session.destroy();
    await new Promise((ok) => server.close(ok));
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { url: `http://127.0.0.1:${address.port}`, server, sessions, sockets };
}

const timeoutNow = (term: number): RaftMessage => ({ type: 'timeout-now', from: 1, to: 2, term });

test('after the stream opens, batches go as frames on it, in order', async () => {
  const receiver = new HttpRaftTransport(config(2, [], 's3cret'), { clock: realClock });
  const received: number[] = [];
  receiver.onMessage((message) => received.push(message.term));
  const { url } = await serve(receiver);
  const sender = new HttpRaftTransport(config(1, [[2, url]], 's3cret'), { clock: realClock });
  closers.push(() => sender.close());
  sender.send(timeoutNow(1)); // Goes as a request while the stream opens.
  await until('the stream', () => sender.counters.openedStreams === 1, 5_000);
  for (let term = 2; term <= 200; term += 1) {
    sender.send(timeoutNow(term));
    if (term % 10 === 0) await new Promise((ok) => setImmediate(ok));
  }
  await until('every message', () => received.length === 200, 5_000);
  expect(received).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  expect(sender.counters.sentRequests).toBe(1);
  expect(sender.counters.sentFrames).toBeGreaterThanOrEqual(20);
  expect(sender.counters.droppedMessages).toBe(0);
});

test('a peer that refuses the stream (wrong secret) is sent requests, also refused', async () => {
  const receiver = new HttpRaftTransport(config(2, [], 'right'), { clock: realClock });
  const received: RaftMessage[] = [];
  receiver.onMessage((message) => received.push(message));
  const { url } = await serve(receiver);
  const sender = new HttpRaftTransport(config(1, [[2, url]], 'wrong'), { clock: realClock });
  closers.push(() => sender.close());
  sender.send(timeoutNow(1));
  await until('both refusals', () => receiver.counters.refusedRequests === 2, 5_000);
  expect(sender.counters.openedStreams).toBe(0);
  expect(received).toEqual([]);
});

test('an accepted stream that ends without us is reported once; closing ours is not', async () => {
  const receiver = new HttpRaftTransport(config(2, [], null), { clock: realClock });
  receiver.onMessage(() => undefined);
  const { url, server, sessions, sockets } = await serve(receiver);
  const unreachable: number[] = [];
  const sender = new HttpRaftTransport(config(1, [[2, url]], null), {
    clock: realClock,
    onPeerUnreachable: (nodeId) => unreachable.push(nodeId),
  });
  sender.send(timeoutNow(1));
  await until('the stream', () => sender.counters.openedStreams === 1, 5_000);
  // A live peer closing an idle connection says GOAWAY first: not a sign of anything.
  for (const session of sessions) session.close();
  await until('the close', () => sessions.size === 0, 5_000);
  sender.send(timeoutNow(2));
  await until('a new stream', () => sender.counters.openedStreams === 2, 5_000);
  expect(unreachable).toEqual([]);
  // The peer's process goes: its sockets close without a GOAWAY.
  server.close();
  for (const socket of sockets) socket.destroy();
  await until('the report', () => unreachable.length > 0, 5_000);
  expect(unreachable).toEqual([2]);
  await sender.close();
  expect(unreachable).toEqual([2]);
});

test('a frame over frameBytesMax resets the stream and is counted as refused', async () => {
  const receiver = new HttpRaftTransport(config(2, [], null), { clock: realClock });
  const received: RaftMessage[] = [];
  receiver.onMessage((message) => received.push(message));
  const { url } = await serve(receiver);
  const session = connect(url);
  closers.push(async () => session.destroy());
  const stream = session.request({ ':method': 'POST', ':path': raftStreamPath });
  const closed = new Promise<number>((ok) => stream.once('close', () => ok(stream.rstCode ?? -1)));
  stream.on('error', () => undefined);
  stream.resume();
  stream.write(lengthFrame(Buffer.alloc(64 * 1024 + 1)));
  expect(await closed).not.toBe(0);
  expect(receiver.counters.refusedRequests).toBe(1);
  expect(received).toEqual([]);
});
