// Goal: the registration point for node-to-node routes (e.g. the Raft transport's handler)
// serves them, and the cluster secret guards them however the path is spelled.
// Method: buildServer in process on a broker over test twins, driven with fastify.inject.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { H2Transport } from '../../../src/api/client/index.ts';
import { buildServer, type InternalRoute, type RillApp } from '../../../src/api/server/index.ts';
import { defaultServerConfig } from '../../../src/main.ts';
import { startMemoryBroker } from '../../support/broker/memory-broker.ts';
import { realClock } from '../../support/real-clock.ts';

let app: RillApp;
const received: unknown[] = [];

beforeAll(async () => {
  const { broker, logger } = await startMemoryBroker();
  const echo: InternalRoute = {
    method: 'POST',
    path: '/internal/v1/echo',
    handle: (body) => {
      received.push(body);
      return { status: 200, body: { echoed: body } };
    },
  };
  app = await buildServer(
    { ...defaultServerConfig, clusterSecret: 's3cret' },
    {
      broker,
      logger,
      wallClock: { wallMs: () => 0 },
      clock: realClock,
      internalRoutes: [echo],
      forwarder: new H2Transport(),
    },
  );
});

afterAll(async () => {
  await app?.close();
});

test('an internal route answers with the secret', async () => {
  const response = await app.inject({
    method: 'POST',
    url: '/internal/v1/echo',
    headers: { 'x-rill-cluster-secret': 's3cret' },
    payload: { hello: 1 },
  });
  expect(response.statusCode).toBe(200);
  expect(response.json()).toEqual({ echoed: { hello: 1 } });
});

test.each(['/internal/v1/echo', '/%69nternal/v1/echo', '/internal/v1/%65cho'])(
  '%s without the secret is refused with 403 and never reaches the handler',
  async (url) => {
    const before = received.length;
    const response = await app.inject({ method: 'POST', url, payload: { hello: 2 } });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ error: { code: 'CLUSTER_AUTHORIZATION_FAILED' } });
    expect(received.length).toBe(before);
  },
);
