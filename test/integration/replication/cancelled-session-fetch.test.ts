// Goal (issue 7, dormant followers): a session fetch the follower cancels while the leader
// holds it frees its request slot on the leader. Before the fix the route resolved with the
// fastify reply, which never settles once its stream is reset, so every cancelled long poll
// leaked a slot of the connection's budget; after 256 (requestsPerSessionMax) the leader
// refused every replica fetch on that connection with 503 BROKER_BUSY, for good, and followers
// of freshly created partitions fell out of the ISR and stayed out.
// Method: two in-process brokers over real h2c; a test-side HttpReplicaTransport (one h2c
// connection) opens session fetches that the leader parks, waits until each is held (the
// leader's session count), cancels it, and reads the internal in-flight gauge from /metrics.
import { afterEach, expect, test } from 'vitest';
import { H2Transport } from '../../../src/api/client/index.ts';
import { HttpReplicaTransport } from '../../../src/api/replica-transport.ts';
import { InProcessCluster } from '../../support/broker/in-process-cluster.ts';
import { pollUntil, until } from '../../support/poll.ts';

let cluster: InProcessCluster | null = null;
const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await cluster?.close();
  cluster = null;
});

async function internalInFlight(http: H2Transport, url: string): Promise<number> {
  const request = {
    method: 'GET' as const,
    path: '/metrics',
    timeoutMs: 5_000,
    responseBytesMax: 1 << 20,
  };
  const response = await http.request(url, request);
  const line = response.body
    .toString('utf8')
    .split('\n')
    .find((l) => l.startsWith('rill_requests_in_flight{class="internal"}'));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

test('cancelled session fetches free their slots on the leader', async () => {
  const c = await InProcessCluster.start(2, 10_000);
  cluster = c;
  const leader = c.node(1);
  const follower = new HttpReplicaTransport({
    clusterSecret: 'in-process-secret',
    responseBytesMax: 1024 * 1024,
    requestTimeoutMs: 5_000,
  });
  const probe = new H2Transport();
  closers.push(
    () => follower.close(),
    () => probe.close(),
  );
  const cancelled = 6;
  for (let i = 1; i <= cancelled; i += 1) {
    // A new session per request (each its own replica id), so the leader's session count
    // shows when the request has reached the handler and is parked there.
    const aborter = new AbortController();
    const call = {
      replicaId: 100 + i,
      sessionId: 0,
      sessionEpoch: 0,
      partitions: [],
      forgotten: [],
      maxWaitMs: 30_000,
      maxBytes: 1024,
      partitionMaxBytes: 1024,
    };
    const fetching = follower.sessionFetch(leader.url, call, aborter.signal);
    await until('the leader holds the fetch', () => {
      return c.broker(1).replicationSessions().leading === i;
    });
    aborter.abort();
    await expect(fetching).rejects.toThrow();
  }
  // Each cancelled fetch ends its handler at once; before the fix all of them stayed counted.
  const settled = await pollUntil('internal requests in flight back to 0', 5_000, async () => {
    const count = await internalInFlight(probe, leader.url);
    return count === 0 ? count : undefined;
  });
  expect(settled).toBe(0);
  // The connection still serves replica fetches.
  const answer = await follower.sessionFetch(leader.url, {
    replicaId: 2,
    sessionId: 0,
    sessionEpoch: 0,
    partitions: [],
    forgotten: [],
    maxWaitMs: 0,
    maxBytes: 1024,
    partitionMaxBytes: 1024,
  });
  expect(answer.kind).toBe('ok');
});
