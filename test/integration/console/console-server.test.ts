// Goal (issue 14): the node serves the console's files with cache headers within the bundle
// budget, and its write gate refuses a browser's changes unless the node runs with
// --console-write, leaving other clients alone; only the cluster's own origins may read GETs
// cross-node. Method: buildServer in process on a broker over test twins, with fastify.inject.
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ConsoleAssets } from '../../../src/api/console/console-assets.ts';
import { consoleWriteRefusal } from '../../../src/api/console/console-routes.ts';
import type { RillApp } from '../../../src/api/server/index.ts';
import { startServer } from '../../support/api/console-node.ts';
import { pollUntil } from '../../support/poll.ts';

/** The console's budget: every file it serves, gzipped, in total. */
const bundleGzipBytesMax = 200 * 1024;

const createBody = { name: 'demo', partitions: 1, replicationFactor: 1 };
const json = { 'content-type': 'application/json' };

test('the files the console serves stay within the bundle budget (gzip)', async () => {
  const assets = new ConsoleAssets();
  let total = 0;
  const sizes: string[] = [];
  for (const path of assets.paths()) {
    const asset = await assets.get(path);
    expect(gunzipSync(asset.gzip).equals(asset.body)).toBe(true);
    total += asset.gzip.length;
    sizes.push(`${path} ${asset.body.length} B (gzip ${asset.gzip.length} B)`);
  }
  console.log(`console bundle: ${total} B gzip in ${sizes.length} files\n${sizes.join('\n')}`);
  expect(total).toBeLessThan(bundleGzipBytesMax);
  expect(total).toBe(
    (await Promise.all(assets.paths().map((p) => assets.get(p)))).reduce(
      (sum, a) => sum + gzipSync(a.body, { level: 9 }).length,
      0,
    ),
  );
});

test("the console's own modules load nothing from the internet and import only served files", async () => {
  const assets = new ConsoleAssets();
  const served = new Set(assets.paths());
  const mapped = new Set(['preact', 'preact/hooks', 'htm', 'uplot']);
  for (const path of assets.paths().filter((p) => !p.startsWith('/console/vendor/'))) {
    const text = (await assets.get(path)).body.toString('utf8');
    expect(text, path).not.toMatch(/(src|href)=["']?https?:/);
    for (const [, specifier] of text.matchAll(/from '([^']+)'/g)) {
      const target = specifier?.startsWith('./') ? `/console/${specifier.slice(2)}` : specifier;
      expect(mapped.has(target ?? '') || served.has(target ?? ''), `${path}: ${specifier}`).toBe(
        true,
      );
    }
  }
});

test.each([
  ['GET', {}, false, null],
  ['POST', {}, false, null],
  ['DELETE', { 'x-rill-console': '1' }, false, 'read-only'],
  ['POST', { origin: 'http://127.0.0.1:9091' }, false, 'read-only'],
  ['PUT', { origin: 'http://127.0.0.1:9091' }, true, 'must come from the console'],
  ['POST', { origin: 'http://127.0.0.1:9091', 'x-rill-console': '1' }, true, null],
  ['GET', { origin: 'http://elsewhere', 'x-rill-console': '1' }, false, null],
] as const)('gate: %s %j with write=%s → %s', (method, headers, write, refusal) => {
  const answer = consoleWriteRefusal(method, headers, write);
  if (refusal === null) expect(answer).toBeNull();
  else expect(answer).toContain(refusal);
});

describe('a node without --console-write', () => {
  let app: RillApp;
  beforeAll(async () => {
    ({ app } = await startServer(false));
  });
  afterAll(async () => {
    await app?.close();
  });

  test('serves the page and its files with ETag, cache headers and gzip', async () => {
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.body).toContain('/console/app.js');
    const etag = String(page.headers['etag']);
    const again = await app.inject({ method: 'GET', url: '/', headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    const script = await app.inject({
      method: 'GET',
      url: '/console/vendor/uplot.js',
      headers: { 'accept-encoding': 'gzip, deflate' },
    });
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-encoding']).toBe('gzip');
    expect(script.headers['cache-control']).toBe('public, max-age=3600');
    expect(gunzipSync(script.rawPayload).toString('utf8')).toContain('uPlot');
    const missing = await app.inject({ method: 'GET', url: '/console/secrets.txt' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const escape = await app.inject({ method: 'GET', url: '/console/../package.json' });
    expect(escape.statusCode).toBe(404);
  });

  test("refuses a browser's change with 403 CONSOLE_WRITE_DISABLED and creates nothing", async () => {
    for (const headers of [{ 'x-rill-console': '1' }, { origin: 'http://n1' }]) {
      const answer = await app.inject({
        method: 'POST',
        url: '/v1/topics',
        headers: { ...json, ...headers },
        payload: createBody,
      });
      expect(answer.statusCode).toBe(403);
      expect(answer.json()).toMatchObject({ error: { code: 'CONSOLE_WRITE_DISABLED' } });
    }
    const topics = await app.inject({ method: 'GET', url: '/v1/topics' });
    expect(topics.json()).toEqual({ topics: [] });
  });

  test('leaves other clients alone: the same change without browser headers is served', async () => {
    const answer = await app.inject({
      method: 'POST',
      url: '/v1/topics',
      headers: json,
      payload: { ...createBody, name: 'plain' },
    });
    expect(answer.statusCode).not.toBe(403);
  });

  test("lets only the cluster's own origins read GET answers cross-node", async () => {
    const own = await app.inject({
      method: 'GET',
      url: '/v1/cluster',
      headers: { origin: 'http://n1' },
    });
    expect(own.json().brokers.map((b: { url: string }) => b.url)).toEqual(['http://n1']);
    expect(own.headers['access-control-allow-origin']).toBe('http://n1');
    const other = await app.inject({
      method: 'GET',
      url: '/v1/cluster',
      headers: { origin: 'http://evil.example' },
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('a node with --console-write', () => {
  let app: RillApp;
  beforeAll(async () => {
    ({ app } = await startServer(true));
  });
  afterAll(async () => {
    await app?.close();
  });

  test("serves the console's change and refuses a browser's change without its header", async () => {
    const fromConsole = await app.inject({
      method: 'POST',
      url: '/v1/topics',
      headers: { ...json, origin: 'http://n1', 'x-rill-console': '1' },
      payload: createBody,
    });
    expect(fromConsole.statusCode).not.toBe(403);
    const forged = await app.inject({
      method: 'DELETE',
      url: '/v1/topics/demo',
      headers: { origin: 'http://evil.example' },
    });
    expect(forged.statusCode).toBe(403);
    expect(forged.json()).toMatchObject({ error: { code: 'CONSOLE_WRITE_DISABLED' } });
  });
});

/** Opens GET /v1/console/events over HTTP/1.1; resolves with the response once headers came. */
function openStream(port: number): Promise<{ request: ClientRequest; response: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: '/v1/console/events' });
    request.once('response', (response) => resolve({ request, response }));
    request.once('error', reject);
    request.end();
  });
}

/** The first `state` event of a stream, parsed. */
function firstState(response: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = /event: state\ndata: (.*)\n\n/.exec(text);
      if (match === null) return;
      response.off('data', onData);
      resolve(JSON.parse(match[1] ?? '{}') as Record<string, unknown>);
    };
    response.on('data', onData);
  });
}

describe('the event stream over a real socket', () => {
  let app: RillApp;
  let port: number;
  beforeAll(async () => {
    ({ app } = await startServer(false));
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    port = typeof address === 'object' && address !== null ? address.port : 0;
  });
  afterAll(async () => {
    await app?.close();
  });

  test('pushes the view, bounds open streams at 32 and frees a slot when one closes', async () => {
    const first = await openStream(port);
    expect(first.response.statusCode).toBe(200);
    expect(first.response.headers['content-type']).toContain('text/event-stream');
    const state = await firstState(first.response);
    expect(state).toMatchObject({ nodeId: 1, consoleWrite: false, topics: [], groups: [] });
    expect(state['cluster']).toMatchObject({ brokers: [{ id: 1, url: 'http://n1' }] });
    const others = await Promise.all(Array.from({ length: 31 }, () => openStream(port)));
    expect(others.map((o) => o.response.statusCode)).toEqual(new Array(31).fill(200));
    const refused = await openStream(port);
    expect(refused.response.statusCode).toBe(503);
    let body = '';
    for await (const chunk of refused.response) body += String(chunk);
    expect(JSON.parse(body)).toMatchObject({
      error: { code: 'BROKER_BUSY', limit: 'consoleSubscribersMax' },
    });
    first.request.destroy();
    const again = await pollUntil('a freed stream slot', 5_000, async () => {
      const next = await openStream(port);
      if (next.response.statusCode === 200) return next;
      next.request.destroy();
      return undefined;
    });
    again.request.destroy();
    for (const other of others) other.request.destroy();
  });
});

test('closing the node ends open streams instead of waiting for them', async () => {
  const { app } = await startServer(false);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const stream = await openStream(port);
  await firstState(stream.response);
  const ended = new Promise<void>((resolve) => stream.response.once('end', resolve));
  const head = await app.inject({ method: 'HEAD', url: '/v1/console/events' });
  expect(head.statusCode).toBe(200);
  expect(head.headers['content-type']).toContain('text/event-stream');
  await app.close();
  await ended;
});
