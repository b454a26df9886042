// Goal: HttpRaftTransport carries every message kind intact over h2c, refuses a wrong cluster
// secret with 403 in the API's error shape, and never queues more than queueCountMax per peer.
// Method: two transports behind real fastify HTTP/2 (h2c) servers on loopback ports.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, test } from 'vitest';
import type { Clock } from '../../../src/common/index.ts';
import { HttpRaftTransport, raftMessagesPath, type RaftMessage } from '../../../src/raft/index.ts';
import { until } from '../../support/poll.ts';
import { testTransportConfig } from '../../support/raft/transport-config.ts';
import { realClock } from '../../support/real-clock.ts';

/** A clock whose scheduled runs never fire: retry pauses last for the whole test. */
const frozenClock: Clock = { nowMs: () => 0, schedule: () => () => undefined };

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const config = testTransportConfig;

async function serve(transport: HttpRaftTransport): Promise<string> {
  const server: FastifyInstance = Fastify({
    http2: true,
    bodyLimit: 64 << 20,
  }) as unknown as FastifyInstance;
  server.post(raftMessagesPath, async (request, reply) => {
    const response = transport.handleRequest(request.body, request.headers);
    return reply.code(response.status).send(response.body);
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  closers.push(() => server.close());
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

const sample: RaftMessage[] = [
  {
    type: 'append-request',
    from: 1,
    to: 2,
    term: 3,
    prevLogIndex: 4,
    prevLogTerm: 2,
    commit: 4,
    context: 7,
    entries: [
      { term: 3, index: 5, kind: 'command', data: new Uint8Array(1024).fill(42) },
      { term: 3, index: 6, kind: 'noop', data: new Uint8Array(0) },
    ],
  },
  {
    type: 'vote-request',
    from: 1,
    to: 2,
    term: 4,
    preVote: true,
    lastLogIndex: 6,
    lastLogTerm: 3,
    transfer: false,
  },
  {
    type: 'snapshot-request',
    from: 1,
    to: 2,
    term: 4,
    snapshot: {
      meta: { index: 9, term: 4, membership: { voters: [1, 2, 3], observers: [4] } },
      data: Uint8Array.of(1, 2, 3),
    },
  },
  { type: 'timeout-now', from: 1, to: 2, term: 4 },
];

describe('HttpRaftTransport', () => {
  test('delivers every message kind intact and in order over h2c', async () => {
    const receiver = new HttpRaftTransport(config(2, [], 's3cret'), { clock: realClock });
    const received: RaftMessage[] = [];
    receiver.onMessage((message) => received.push(message));
    const url = await serve(receiver);
    const sender = new HttpRaftTransport(config(1, [[2, url]], 's3cret'), { clock: realClock });
    closers.push(() => sender.close());
    for (const message of sample) sender.send(message);
    await until('the response', () => sender.counters.sentRequests === 1, 5_000);
    expect(received).toEqual(sample);
    expect(sender.counters).toMatchObject({ sentMessages: 4, sentRequests: 1, droppedMessages: 0 });
  });

  test('a wrong or missing secret is refused with 403 CLUSTER_AUTHORIZATION_FAILED', async () => {
    const receiver = new HttpRaftTransport(config(2, [], 'right'), { clock: realClock });
    const received: RaftMessage[] = [];
    receiver.onMessage((message) => received.push(message));
    const url = await serve(receiver);
    const sender = new HttpRaftTransport(config(1, [[2, url]], 'wrong'), { clock: realClock });
    closers.push(() => sender.close());
    sender.send(sample[3] as RaftMessage);
    await until('the refusal', () => sender.counters.failedRequests === 1, 5_000);
    expect(received).toEqual([]);
    expect(receiver.counters.refusedRequests).toBe(1);
    const error = sender.peerErrors().get(2) ?? '';
    expect(error.startsWith('HTTP 403: ')).toBe(true);
    expect(JSON.parse(error.slice('HTTP 403: '.length))).toEqual({
      error: { code: 'CLUSTER_AUTHORIZATION_FAILED', message: 'missing or wrong cluster secret' },
    });
    const direct = receiver.handleRequest('{"messages":[]}', {});
    expect(direct.status).toBe(403);
  });

  test('a malformed body is refused with 400 INVALID_REQUEST', () => {
    const receiver = new HttpRaftTransport(config(2, [], null), { clock: realClock });
    for (const body of [
      'not json',
      '{"messages":[{"type":"x","from":-1,"to":2,"term":1}]}',
      '{}',
    ]) {
      const response = receiver.handleRequest(body, {});
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
    }
    expect(receiver.handleRequest({ messages: [sample[3]] }, {})).toEqual({
      status: 200,
      body: { accepted: 0 },
    });
  });

  test('a peer queue never holds more than queueCountMax; overflow drops the oldest, counted', async () => {
    // Port 9 (discard) is closed on loopback: every request fails and the peer pauses forever.
    const sender = new HttpRaftTransport(config(1, [[2, 'http://127.0.0.1:9']], null), {
      clock: frozenClock,
    });
    closers.push(() => sender.close());
    for (let term = 1; term <= 20; term += 1)
      sender.send({ type: 'timeout-now', from: 1, to: 2, term });
    expect(sender.counters.droppedMessages).toBe(12);
    await until('the failed request', () => sender.counters.failedRequests === 1, 5_000);
    for (let term = 21; term <= 40; term += 1)
      sender.send({ type: 'timeout-now', from: 1, to: 2, term });
    // 8 went out in the failed request; the paused queue keeps only the newest 8 of the next 20.
    expect(sender.counters.droppedMessages).toBe(12 + 8 + 12);
    sender.send({ type: 'timeout-now', from: 1, to: 99, term: 1 });
    expect(sender.counters.droppedMessages).toBe(33);
  });

  test('a peer queue never holds more than queueBytesMax; a big message evicts the oldest', () => {
    const limits = { ...config(1, [[2, 'http://127.0.0.1:9']], null), queueBytesMax: 3_000 };
    const sender = new HttpRaftTransport(limits, { clock: frozenClock });
    closers.push(() => sender.close());
    const big = (term: number, dataBytes = 1_200): RaftMessage => ({
      type: 'append-request',
      from: 1,
      to: 2,
      term,
      prevLogIndex: 0,
      prevLogTerm: 0,
      commit: 0,
      context: 0,
      entries: [{ term, index: 1, kind: 'command', data: new Uint8Array(dataBytes) }],
    });
    sender.send(big(1));
    expect(sender.counters.droppedMessages).toBe(0);
    sender.send(big(2)); // About 1.8 KB each: two exceed 3,000 bytes, so the first goes.
    expect(sender.counters.droppedMessages).toBe(1);
    sender.send(big(3, 9_000));
    expect(sender.counters.droppedMessages).toBe(2); // Alone, it is sent even though it is large.
  });

  test('an answer produced while handling a request rides back on its response', async () => {
    // Node 2 answers every append at once, as an idle follower does a heartbeat. Its only
    // route to node 1 is a dead address, so node 1 hears the answer only if it is piggybacked.
    const follower = new HttpRaftTransport(config(2, [[1, 'http://127.0.0.1:9']], null), {
      clock: frozenClock,
    });
    closers.push(() => follower.close());
    follower.onMessage((message) => {
      if (message.type !== 'append-request') return;
      follower.send({
        type: 'append-response',
        from: 2,
        to: 1,
        term: message.term,
        success: true,
        matchIndex: message.prevLogIndex,
        conflictTerm: null,
        conflictIndex: 0,
        lastLogIndex: message.prevLogIndex,
        prevLogIndex: message.prevLogIndex,
        context: message.context,
      });
    });
    const url = await serve(follower);
    const leader = new HttpRaftTransport(config(1, [[2, url]], null), { clock: realClock });
    closers.push(() => leader.close());
    const answers: RaftMessage[] = [];
    leader.onMessage((message) => answers.push(message));
    const heartbeat = { ...sample[0], entries: [] } as RaftMessage;
    leader.send(heartbeat);
    await until('the piggybacked answer', () => answers.length === 1, 5_000);
    expect(answers[0]).toMatchObject({ type: 'append-response', from: 2, to: 1, context: 7 });
    expect(follower.counters).toMatchObject({ sentRequests: 0, sentMessages: 1 });
    expect(leader.counters).toMatchObject({ sentRequests: 1, receivedMessages: 1 });
  });

  test('a peer that refuses connections is reported to onPeerUnreachable', async () => {
    const closed = Fastify({ http2: true }) as unknown as FastifyInstance;
    await closed.listen({ host: '127.0.0.1', port: 0 });
    const address = closed.server.address();
    await closed.close();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const unreachable: number[] = [];
    const sender = new HttpRaftTransport(
      config(1, [[2, `http://127.0.0.1:${address.port}`]], null),
      { clock: realClock, onPeerUnreachable: (nodeId) => unreachable.push(nodeId) },
    );
    closers.push(() => sender.close());
    sender.send(sample[1] as RaftMessage);
    await until('the refusal', () => unreachable.length > 0, 5_000);
    expect(unreachable[0]).toBe(2);
  });
});
