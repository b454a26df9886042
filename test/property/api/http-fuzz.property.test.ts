// Goal: no input reaches past the API contract (issue 15). Random and mutated bodies (JSON,
// near-valid produce bodies, RecordBatch v2 built with the log's encoder then damaged, with and
// without a recomputed CRC, compression bombs), headers, paths, query strings, methods and
// HTTP/2 frame abuse, sent to ONE real node: every answer has a documented status and, from
// 400 up, the {"error": {"code", "message"}} shape with the code's catalogued status; never
// 500; the node's RSS stays under a bound; records acknowledged before and during the run stay
// readable at their offsets (checked every `checkEvery` runs and at the end).
// Method: a `rill broker` child, fast-check with a printed seed. Replay: RILL_FUZZ_SEED=<seed>;
// more runs: RILL_FUZZ_RUNS=<n>; a subset of classes: RILL_FUZZ_CLASSES=json,paths,…
import { readFile } from 'node:fs/promises';
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { apiErrorCatalog, isApiErrorCode } from '../../../src/api/errors.ts';
import { encodeBatch } from '../../../src/log/index.ts';
import { BrokerProcess } from '../../support/api/broker-process.ts';
import { RawH2, type RawAnswer } from '../../support/api/raw-h2.ts';
import {
  anchorTopic,
  bombBatch,
  describeRequest,
  fuzzClasses,
  fuzzRequestArb,
  scratchTopic,
  type FuzzClass,
  type FuzzRequest,
} from './http-fuzz-inputs.ts';

const seed = Number(process.env['RILL_FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
const numRuns = Number(process.env['RILL_FUZZ_RUNS'] ?? 800);
const classes = (process.env['RILL_FUZZ_CLASSES']?.split(',') ?? fuzzClasses) as FuzzClass[];
const bombMib = Number(process.env['RILL_FUZZ_BOMB_MIB'] ?? 8);
/** The node's resident set may not pass this (a fresh node is ~200 MiB). */
const rssMibMax = Number(process.env['RILL_FUZZ_RSS_MIB'] ?? 1024);
const checkEvery = 25;
const secret = 'fuzz-secret';

/** Every status the API documents (docs/api.md): the successes and the catalog's, less 500. */
const documentedStatuses = new Set([
  200,
  201,
  202,
  204,
  ...Object.values(apiErrorCatalog)
    .map((entry) => entry.status)
    .filter((status) => status !== 500),
]);

interface Anchor {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

let broker: BrokerProcess;
let h2: RawH2;
const anchors: Anchor[] = [];
let rssMibPeak = 0;
/** Requests answered 2xx since the last check: one of them broke the node if a check fails. */
let acceptedSinceCheck: string[] = [];

beforeAll(async () => {
  broker = await BrokerProcess.start({ clusterSecret: secret });
  h2 = new RawH2(broker.url);
  for (const name of [anchorTopic, scratchTopic]) {
    const body = JSON.stringify({
      name,
      partitions: 2,
      replicationFactor: 1,
      configs: { 'max.message.bytes': 65_536 },
    });
    const created = await send({ method: 'POST', path: '/v1/topics', body, json: true });
    expect(created).toMatchObject({ kind: 'response', status: 201 });
  }
  for (let i = 0; i < 10; i++) await addAnchor(i % 2);
  await addBinaryAnchor();
});

afterAll(async () => {
  h2?.close();
  const exitCode = await broker?.stop();
  if (exitCode === 0 && process.env['RILL_FUZZ_KEEP'] === undefined) await broker?.removeData();
  else console.log(`fuzz node exited ${exitCode}; data kept in ${broker?.dataDir}`);
});

function send(request: {
  method: string;
  path: string;
  body?: string | Buffer;
  json?: boolean;
}): Promise<RawAnswer> {
  const headers = request.json === true ? { 'content-type': 'application/json' } : {};
  return h2.request({ ...request, headers });
}

function parsed(answer: RawAnswer): Record<string, unknown> {
  if (answer.kind !== 'response') throw new Error(`no answer: ${answer.reason}`);
  return JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
}

async function addAnchor(partition: number): Promise<void> {
  const value = `anchor-${anchors.length}-${seed}`;
  const path = `/v1/topics/${anchorTopic}/partitions/${partition}/records?acks=all`;
  const body = JSON.stringify({ records: [{ value }] });
  const answer = await send({ method: 'POST', path, body, json: true });
  expect(answer, 'anchor produce').toMatchObject({ kind: 'response', status: 200 });
  anchors.push({ partition, offset: parsed(answer)['baseOffset'] as number, value });
}

async function addBinaryAnchor(): Promise<void> {
  const value = `binary-anchor-${seed}`;
  const record = { key: null, value: Buffer.from(value), headers: [], timestampMs: Date.now() };
  const batch = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    records: [record],
    compression: 'gzip',
  });
  const stream = await h2.request({
    method: 'POST',
    path: `/v1/topics/${anchorTopic}/partitions/0/records`,
    headers: { 'content-type': 'application/vnd.rill.batch' },
    body: batch,
  });
  expect(stream).toMatchObject({ kind: 'response', status: 200 });
  anchors.push({ partition: 0, offset: parsed(stream)['baseOffset'] as number, value });
}

/** Every anchor is readable at its offset with a default (1 MiB) JSON fetch. */
async function checkAnchors(): Promise<void> {
  for (const anchor of anchors) {
    const path =
      `/v1/topics/${anchorTopic}/partitions/${anchor.partition}/records` +
      `?offset=${anchor.offset}`;
    const answer = await send({ method: 'GET', path });
    const body = answer.kind === 'response' ? answer.body.toString().slice(0, 300) : '';
    const what =
      `anchor ${JSON.stringify(anchor)} (seed ${seed}): ${body}\n` +
      `accepted since the last check:\n${acceptedSinceCheck.join('\n')}`;
    expect(answer.kind === 'response' ? answer.status : answer.reason, what).toBe(200);
    const records = parsed(answer)['records'] as { offset: number; value: string }[];
    expect(records[0], what).toMatchObject({ offset: anchor.offset, value: anchor.value });
  }
}

async function rssMib(): Promise<number> {
  const status = await readFile(`/proc/${broker.pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kib / 1024;
}

async function checkNode(): Promise<void> {
  const health = await send({ method: 'GET', path: '/healthz' });
  expect(health.kind === 'response' ? health.status : health.reason, 'healthz').toBe(200);
  const rss = await rssMib();
  rssMibPeak = Math.max(rssMibPeak, rss);
  expect(rss, `node RSS MiB (seed ${seed})`).toBeLessThan(rssMibMax);
  await checkAnchors();
}

/** The contract every answer keeps. */
function checkAnswer(request: FuzzRequest, answer: RawAnswer): void {
  const what = `${request.cls} ${request.method} ${request.path.slice(0, 120)} (seed ${seed})`;
  if (answer.kind === 'reset') {
    expect(request.mayReset, `${what}: stream reset (${answer.reason})`).toBe(true);
    return;
  }
  expect(documentedStatuses.has(answer.status), `${what}: status ${answer.status}`).toBe(true);
  if (request.method.toUpperCase() === 'HEAD') return;
  if (answer.status >= 400) {
    const body = JSON.parse(answer.body.toString('utf8')) as { error?: Record<string, unknown> };
    const code = body.error?.['code'];
    expect(isApiErrorCode(code), `${what}: body ${answer.body.toString().slice(0, 200)}`).toBe(
      true,
    );
    expect(typeof body.error?.['message'], what).toBe('string');
    expect(Object.keys(body), what).toEqual(['error']);
    if (isApiErrorCode(code)) expect(apiErrorCatalog[code].status, what).toBe(answer.status);
    return;
  }
  checkPerRecordErrors(what, answer);
}

/** The topic-level produce answers 200 with per-record error bodies, in the same shape. */
function checkPerRecordErrors(what: string, answer: RawAnswer & { kind: 'response' }): void {
  if (!answer.body.subarray(0, 12).toString().startsWith('{"offsets"')) return;
  const offsets = (JSON.parse(answer.body.toString()) as { offsets: Record<string, unknown>[] })
    .offsets;
  for (const entry of offsets) {
    if (!('error' in entry)) continue;
    const code = (entry['error'] as { code?: unknown }).code;
    expect(isApiErrorCode(code) && code !== 'UNKNOWN_SERVER_ERROR', `${what}: ${code}`).toBe(true);
  }
}

async function sendFuzz(request: FuzzRequest): Promise<RawAnswer> {
  switch (request.abuse.kind) {
    case 'none':
      return h2.request({
        method: request.method,
        path: request.path,
        headers: request.headers,
        ...(request.body !== null && { body: request.body }),
        timeoutMs: 15_000,
      });
    case 'reset-mid-body':
      return resetMidBody(request, request.abuse.fraction);
    case 'odd-settings':
      return withSession({ settings: request.abuse.settings }, (session) =>
        viaSession(session, request),
      );
    case 'reset-burst':
      return resetBurst(request.abuse.streams);
  }
}

async function withSession<T>(
  options: object,
  use: (session: ClientHttp2Session) => Promise<T>,
): Promise<T> {
  const session = connect(broker.url, options);
  session.on('error', () => {}); // The stream reports what matters.
  try {
    return await use(session);
  } finally {
    session.destroy();
  }
}

function viaSession(session: ClientHttp2Session, request: FuzzRequest): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const body = request.body === null || request.body.length === 0 ? null : request.body;
    const stream = session.request(
      { ':method': request.method, ':path': request.path, ...request.headers },
      { endStream: body === null },
    );
    const chunks: Buffer[] = [];
    let status = 0;
    const timer = setTimeout(() => {
      stream.close(constants.NGHTTP2_CANCEL);
      resolve({ kind: 'reset', reason: 'client timeout' });
    }, 10_000);
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('close', () => {
      clearTimeout(timer);
      if (status === 0) resolve({ kind: 'reset', reason: `rst ${stream.rstCode}` });
      else resolve({ kind: 'response', status, body: Buffer.concat(chunks) });
    });
    stream.on('error', () => {}); // 'close' follows.
    if (body !== null) stream.end(body);
  });
}

/** Announces the whole body, sends part of it, then cancels the stream. */
function resetMidBody(request: FuzzRequest, fraction: number): Promise<RawAnswer> {
  return withSession({}, async (session) => {
    const stream = session.request(
      { ':method': request.method, ':path': request.path, ...request.headers },
      { endStream: false },
    );
    stream.on('error', () => {});
    const body = request.body ?? Buffer.alloc(0);
    stream.write(body.subarray(0, Math.floor(fraction * body.length)));
    stream.close(constants.NGHTTP2_CANCEL);
    await new Promise((done) => stream.once('close', done));
    return { kind: 'reset', reason: 'cancelled by the client' };
  });
}

/** Parks long polls at the high watermark and resets each at once (a small rapid reset). */
async function resetBurst(streams: number): Promise<RawAnswer> {
  const offsets = parsed(
    await send({ method: 'GET', path: `/v1/topics/${anchorTopic}/partitions/0/offsets` }),
  );
  const path =
    `/v1/topics/${anchorTopic}/partitions/0/records` +
    `?offset=${offsets['highWatermark'] as number}&maxWaitMs=60000`;
  return withSession({}, async (session) => {
    const closed: Promise<unknown>[] = [];
    for (let i = 0; i < streams; i++) {
      const stream = session.request({ ':method': 'GET', ':path': path });
      stream.on('error', () => {});
      closed.push(new Promise((done) => stream.once('close', done)));
      stream.close(constants.NGHTTP2_CANCEL);
    }
    await Promise.all(closed);
    return { kind: 'reset', reason: 'cancelled by the client' };
  });
}

test(`hostile HTTP/2 input keeps the API contract (seed ${seed})`, async () => {
  console.log(
    `http-fuzz seed=${seed} runs=${numRuns} classes=${classes.join(',')} ` +
      `(RILL_FUZZ_SEED=${seed} to replay)`,
  );
  const bombs = classes.includes('bomb')
    ? await Promise.all(
        (['gzip', 'zstd', 'lz4', 'snappy'] as const).map((c) => bombBatch(c, bombMib)),
      )
    : [];
  const counts = new Map<string, number>();
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fuzzRequestArb({ classes, bombs }), async (pending) => {
      const request = await pending;
      const answer = await sendFuzz(request);
      const key = `${request.cls}:${answer.kind === 'response' ? answer.status : 'reset'}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      checkAnswer(request, answer);
      if (answer.kind === 'response' && answer.status < 300) {
        acceptedSinceCheck.push(describeRequest(request));
      }
      run += 1;
      if (run % checkEvery === 0) {
        await addAnchor(run % 2);
        await checkNode();
        acceptedSinceCheck = [];
      }
    }),
    { seed, numRuns, endOnFailure: true },
  );
  await checkNode();
  const summary = [...counts.entries()].sort().map(([k, n]) => `${k}=${n}`);
  console.log(`http-fuzz answers: ${summary.join(' ')}`);
  console.log(`http-fuzz anchors=${anchors.length} peak RSS ${rssMibPeak.toFixed(0)} MiB`);
}, 600_000);
