// Goal: a client request whose stream is reset while its handler runs frees its request slot,
// even when the handler ends by returning its fastify reply (`return reply.code(201).send(…)`).
// fastify's reply.then waits for the response to end, which a reset HTTP/2 stream never does,
// so such a handler never settled and the stream guard kept its slot for good: a client that
// gave up on slow topic creations leaked slots until the node refused every request (the same
// leak as the replica session fetch of issue 7, on the client routes). Method: an in-process
// node; topic creations reset at staggered moments after their headers; the client in-flight
// gauge of /metrics must return to 0.
import { connect, constants } from 'node:http2';
import { afterEach, expect, test } from 'vitest';
import { H2Transport } from '../../../src/api/client/index.ts';
import { InProcessCluster } from '../../support/broker/in-process-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

let cluster: InProcessCluster | null = null;
const probe = new H2Transport();

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

async function clientInFlight(url: string): Promise<number> {
  const response = await probe.request(url, {
    method: 'GET',
    path: '/metrics',
    timeoutMs: 5_000,
    responseBytesMax: 1 << 20,
  });
  const line = response.body
    .toString('utf8')
    .split('\n')
    .find((l) => l.startsWith('rill_requests_in_flight{class="client"}'));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

test('topic creations reset mid-handler free their request slots', async () => {
  const c = await InProcessCluster.start(1, 10_000);
  cluster = c;
  const url = c.node(1).url;
  const session = connect(url);
  const resets = 40;
  const done: Promise<void>[] = [];
  for (let i = 0; i < resets; i += 1) {
    const stream = session.request({
      ':method': 'POST',
      ':path': '/v1/topics',
      'content-type': 'application/json',
    });
    stream.on('error', () => {});
    stream.end(JSON.stringify({ name: `reset-${i}`, partitions: 1, replicationFactor: 1 }));
    // Staggered: some resets land before the handler, some while the creation commits.
    done.push(
      new Promise((resolve) => {
        setTimeout(() => {
          stream.close(constants.NGHTTP2_CANCEL);
          resolve();
        }, i % 10);
      }),
    );
  }
  await Promise.all(done);
  session.close();
  const settled = await pollUntil('client requests in flight back to 0', 10_000, async () => {
    const count = await clientInFlight(url);
    // The probe's own /metrics request is in flight while the gauge is read.
    return count <= 1 ? count : undefined;
  });
  expect(settled).toBeLessThanOrEqual(1);
  await probe.close();
});
