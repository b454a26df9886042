// Goal (issue 13, finding 1 / item 1): HTTP/1.1 clients — Prometheus, Kubernetes probes, curl
// without flags — are served on the node's h2c port by the same routes, in the same error shape
// and under the same limits (client budget, body deadline, header deadline), while h2c keeps
// working on that port.
// Method: one real `rill broker` child with small limits; `curl` as a child process (no protocol
// flags), node:http requests and raw sockets; the H2c client for the HTTP/2 side.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { decodeBatches } from '../../../src/log/index.ts';
import { BrokerProcess } from '../../support/api/broker-process.ts';
import { H2c } from '../../support/api/h2c.ts';
import { pollUntil } from '../../support/poll.ts';

const run = promisify(execFile);
const requestBodyTimeoutMs = 1_000;
const clientRequestsMax = 3;
let broker: BrokerProcess;
let h2: H2c;

beforeAll(async () => {
  const limits = { requestBodyTimeoutMs, clientRequestsMax, connectionIdleTimeoutMs: 2_000 };
  const args = Object.entries(limits).flatMap(([name, value]) => ['--limit', `${name}=${value}`]);
  broker = await BrokerProcess.start({ args });
  h2 = new H2c(broker.url);
  const topic = { name: 'plain', partitions: 2, replicationFactor: 1 };
  expect((await h2.post('/v1/topics', topic)).status).toBe(201);
});

afterAll(async () => {
  await h2?.close();
  const exitCode = await broker?.stop();
  await broker?.removeData();
  expect(exitCode).toBe(0);
});

interface Http1Response {
  readonly status: number;
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

function http1(
  path: string,
  options: { method?: string; json?: unknown; headers?: Record<string, string>; agent?: Agent },
): Promise<Http1Response> {
  const body = options.json === undefined ? null : JSON.stringify(options.json);
  const headers: Record<string, string> = { ...options.headers };
  if (body !== null) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const call = httpRequest(
      `${broker.url}${path}`,
      { method: options.method ?? 'GET', headers, agent: options.agent ?? false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            httpVersion: response.httpVersion,
            headers: response.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    call.on('error', reject);
    call.end(body ?? undefined);
  });
}

/** curl with no protocol flag: status, HTTP version and body. */
async function curl(path: string): Promise<{ status: number; version: string; body: string }> {
  const { stdout } = await run('curl', ['-sS', '-w', '\n%{http_code} %{http_version}', path]);
  const cut = stdout.lastIndexOf('\n');
  const [status, version] = stdout.slice(cut + 1).split(' ');
  return { status: Number(status), version: version ?? '', body: stdout.slice(0, cut) };
}

/** Prometheus text format: `name{labels} value` samples by series. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    expect(match, `a Prometheus sample line: ${line}`).not.toBeNull();
    samples.set(match![1]!, Number(match![2]));
  }
  return samples;
}

/** Sends raw bytes on a new connection and returns everything the node sent until it closed. */
async function rawExchange(bytes: string): Promise<string> {
  const socket: Socket = connect(broker.port, '127.0.0.1');
  await once(socket, 'connect');
  if (bytes !== '') socket.write(bytes);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'close');
  return Buffer.concat(chunks).toString();
}

function errorCodeOf(body: Buffer | string): unknown {
  return (JSON.parse(body.toString()) as { error: { code: string; message: unknown } }).error;
}

describe('curl without flags', () => {
  test('GET /healthz and /readyz answer over HTTP/1.1', async () => {
    const health = await curl(`${broker.url}/healthz`);
    expect(health).toMatchObject({ status: 200, version: '1.1' });
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
    expect((await curl(`${broker.url}/readyz`)).status).toBe(200);
  });

  test('GET /metrics is Prometheus text with the node counters', async () => {
    const metrics = await curl(`${broker.url}/metrics`);
    expect(metrics).toMatchObject({ status: 200, version: '1.1' });
    const samples = parsePrometheus(metrics.body);
    expect(samples.get('rill_local_partitions')).toBe(2);
    expect(samples.has('rill_process_resident_memory_bytes')).toBe(true);
    // This scrape itself holds a probe slot.
    expect(samples.get('rill_requests_in_flight{class="probe"}')).toBe(1);
  });

  test('an unknown route is 404 NOT_FOUND in the error shape', async () => {
    const missing = await curl(`${broker.url}/v1/nothing/here`);
    expect(missing.status).toBe(404);
    expect(errorCodeOf(missing.body)).toEqual({
      code: 'NOT_FOUND',
      message: 'no route GET /v1/nothing/here',
    });
  });
});

describe('node:http', () => {
  test('produce, describe and fetch (JSON and batches) over HTTP/1.1', async () => {
    const records = [{ key: 'k', value: 'over http/1.1' }];
    const produced = await http1('/v1/topics/plain/partitions/0/records', {
      method: 'POST',
      json: { records },
    });
    expect(produced.httpVersion).toBe('1.1');
    expect(produced.status).toBe(200);
    expect(JSON.parse(produced.body.toString())).toMatchObject({ baseOffset: 0, lastOffset: 0 });
    const topic = await http1('/v1/topics/plain', {});
    expect(JSON.parse(topic.body.toString())).toMatchObject({
      name: 'plain',
      partitions: [{ partition: 0, highWatermark: 1 }, { partition: 1 }],
    });
    const fetched = await http1('/v1/topics/plain/partitions/0/records?offset=0', {});
    expect(JSON.parse(fetched.body.toString())).toMatchObject({
      records: [{ offset: 0, key: 'k', value: 'over http/1.1' }],
      nextOffset: 1,
    });
    const batches = await http1('/v1/topics/plain/partitions/0/records?offset=0', {
      headers: { accept: 'application/vnd.rill.batch' },
    });
    expect(batches.status).toBe(200);
    expect(batches.headers['content-type']).toBe('application/vnd.rill.batch');
    const decoded = await decodeBatches(batches.body);
    const values = decoded.flatMap((batch) => batch.records.map((r) => Buffer.from(r.value!)));
    expect(values.map(String)).toEqual(['over http/1.1']);
  });

  test('a bad request is answered in the error shape (400, 415)', async () => {
    const bad = await http1('/v1/topics/plain/partitions/0/records?offset=0&bogus=1', {});
    expect(bad.status).toBe(400);
    expect(errorCodeOf(bad.body)).toMatchObject({ code: 'INVALID_REQUEST' });
    const text = await http1('/v1/topics', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect(errorCodeOf(text.body)).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  test('one keep-alive connection serves many requests, and h2c on the same port', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ports = new Set<number>();
      agent.on('free', (socket: Socket) => ports.add(socket.localPort ?? -1));
      for (let i = 0; i < 5; i += 1) {
        expect((await http1('/healthz', { agent })).status).toBe(200);
        const h2Health = await h2.get('/healthz');
        expect(h2Health.status).toBe(200);
      }
      expect(ports.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});

describe('limits', () => {
  test('a body slower than requestBodyTimeoutMs is cut with 408 REQUEST_BODY_TIMEOUT', async () => {
    const head =
      'POST /v1/topics/plain/partitions/0/records HTTP/1.1\r\nhost: x\r\n' +
      'content-type: application/json\r\ncontent-length: 100\r\n\r\n{"records":';
    const startedAt = performance.now();
    const answer = await rawExchange(head);
    const elapsedMs = performance.now() - startedAt;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(errorCodeOf(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
      code: 'REQUEST_BODY_TIMEOUT',
    });
    expect(elapsedMs).toBeGreaterThanOrEqual(requestBodyTimeoutMs - 50);
  });

  test('headers slower than the deadline are cut with 408 in the error shape', async () => {
    const answer = await rawExchange('GET /healthz HTTP/1.1\r\nhost: x\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(errorCodeOf(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
      code: 'REQUEST_BODY_TIMEOUT',
    });
  });

  test('a malformed request is 400 INVALID_REQUEST; a silent connection is closed', async () => {
    const answer = await rawExchange('GARBAGE\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(errorCodeOf(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
      code: 'INVALID_REQUEST',
    });
    expect(await rawExchange('')).toBe(''); // Closed after the first-bytes deadline.
  });

  test('HTTP/1.1 requests count against the node client budget (503 BROKER_BUSY)', async () => {
    const longPoll = '/v1/topics/plain/partitions/1/records?offset=0&maxWaitMs=2000';
    const parked = Array.from({ length: clientRequestsMax }, () => http1(longPoll, {}));
    // The metrics (a probe: its own budget) show when all are admitted.
    await pollUntil('every long poll admitted', 5_000, async () => {
      const samples = parsePrometheus((await curl(`${broker.url}/metrics`)).body);
      const inFlight = samples.get('rill_requests_in_flight{class="client"}');
      return inFlight === clientRequestsMax ? true : undefined;
    });
    const refused = await http1('/v1/topics', {});
    expect(refused.status).toBe(503);
    expect(refused.headers.connection).toBe('close');
    expect(errorCodeOf(refused.body)).toMatchObject({ code: 'BROKER_BUSY' });
    expect((await curl(`${broker.url}/healthz`)).status).toBe(200);
    const h2Refused = await h2.get('/v1/topics');
    expect(h2Refused.status).toBe(503);
    // The long polls end at their maxWaitMs; their slots come back.
    for (const answer of await Promise.all(parked)) expect(answer.status).toBe(200);
    expect((await http1('/v1/topics', {})).status).toBe(200);
  }, 20_000);
});
