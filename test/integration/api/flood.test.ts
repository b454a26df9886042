// Goal (issue 15, defects 3 and 4, items 3 and 5): HTTP/2 floods and slow clients cannot stall
// a node. Rapid reset closes the connection and leaves no parked fetch behind; cancelled long
// polls free their purgatory slots; /healthz on a second connection stays fast during a reset
// flood; a trickled body is cut with 408 REQUEST_BODY_TIMEOUT; an idle connection is closed.
// Method: one real `rill broker` child with small limits (--limit), raw node:http2 clients
// (test/support/api/h2-flood.ts); waits poll the node's /metrics with a deadline.
import { constants, type ClientHttp2Session } from 'node:http2';
import { cpus, loadavg } from 'node:os';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BrokerProcess } from '../../support/api/broker-process.ts';
import {
  median,
  metricValue,
  openSession,
  parkLongPolls,
  post,
  probeWhile,
  rapidReset,
  resetFlood,
  timedGet,
} from '../../support/api/h2-flood.ts';
import { pollUntil } from '../../support/poll.ts';

const fetchWaitersMax = 40;
const requestBodyTimeoutMs = 1_000;
const connectionIdleTimeoutMs = 3_000;
let broker: BrokerProcess;
let probe: ClientHttp2Session;

/** Partition 1 stays empty: a fetch at offset 0 parks there (HW 0). */
const longPoll = '/v1/topics/flood/partitions/1/records?offset=0&maxWaitMs=60000';
/** Partition 0 holds 1 MiB: each fetch reads and decodes all of it as JSON. */
const heavyFetch = '/v1/topics/flood/partitions/0/records?offset=0&maxBytes=1048576';

beforeAll(async () => {
  const limits = {
    fetchWaitersMax,
    requestBodyTimeoutMs,
    connectionIdleTimeoutMs,
  };
  const args = Object.entries(limits).flatMap(([name, value]) => ['--limit', `${name}=${value}`]);
  broker = await BrokerProcess.start({ args });
  const admin = await openSession(broker.url);
  const topic = { name: 'flood', partitions: 2, replicationFactor: 1 };
  expect((await post(admin, '/v1/topics', topic)).status).toBe(201);
  const records = Array.from({ length: 1024 }, () => ({ value: 'x'.repeat(1024) }));
  const produced = await post(admin, '/v1/topics/flood/partitions/0/records', { records });
  expect(produced.status).toBe(200);
  admin.close();
});

afterAll(async () => {
  probe?.close();
  const exitCode = await broker?.stop();
  await broker?.removeData();
  expect(exitCode).toBe(0);
});

/** A fresh probe session (an idle one is closed by the node between tests). */
async function probeSession(): Promise<ClientHttp2Session> {
  probe?.close();
  probe = await openSession(broker.url);
  return probe;
}

/** Polls a gauge on the probe session, opening a new one if the node closed it. */
async function untilGauge(name: string, value: number) {
  await pollUntil(`${name} = ${value}`, 15_000, async () => {
    const session = probe.closed || probe.destroyed ? await probeSession() : probe;
    return (await metricValue(session, name)) === value ? true : undefined;
  });
}

test('issue 15: rapid reset closes the connection and leaves nothing parked', async () => {
  await probeSession();
  const outcome = await rapidReset(broker.url, longPoll, { count: 3_000 });
  console.log(`rapid reset: ${JSON.stringify(outcome)}`);
  expect(outcome.closedByServer).toBe(true);
  expect(outcome.goawayCode).toBe(constants.NGHTTP2_ENHANCE_YOUR_CALM);
  expect(outcome.opened).toBeLessThan(3_000);
  // Other reset codes surface as stream errors inside the node: it must survive them too.
  const internalError = { count: 3_000, code: constants.NGHTTP2_INTERNAL_ERROR };
  expect((await rapidReset(broker.url, longPoll, internalError)).closedByServer).toBe(true);
  await untilGauge('rill_waiting_fetches', 0);
  await untilGauge('rill_requests_in_flight{class="client"}', 0);
  // A fresh session: on a loaded machine the floods can outlast the 3 s idle limit of the first.
  expect((await timedGet(await probeSession(), '/healthz')).status).toBe(200);
  expect(broker.isRunning).toBe(true);
});

test('issue 15: cancelled long polls free their slots at once', async () => {
  const session = await probeSession();
  const polls = await parkLongPolls(broker.url, longPoll, fetchWaitersMax, 4);
  await untilGauge('rill_waiting_fetches', fetchWaitersMax);
  const refused = await timedGet(session, longPoll);
  expect(refused.status).toBe(503);
  expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'BROKER_BUSY' } });
  await polls.reset();
  await untilGauge('rill_waiting_fetches', 0);
  // A new long poll parks and expires normally instead of answering BROKER_BUSY.
  const fresh = await timedGet(session, longPoll.replace('60000', '100'));
  expect(fresh.status).toBe(200);
  expect(JSON.parse(fresh.body)).toMatchObject({ records: [], highWatermark: 0 });
});

test('issue 15: /healthz on another connection stays fast during a reset flood', async () => {
  const session = await probeSession();
  const before = [];
  for (let i = 0; i < 5; i += 1) before.push((await timedGet(session, '/healthz')).ms);
  const flood = resetFlood(broker.url, heavyFetch, 2_000);
  const during = await probeWhile(session, '/healthz', 100, flood);
  const outcome = await flood;
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  console.log(
    `healthz before ${median(before).toFixed(1)} ms; during a flood of ${outcome.resets} ` +
      `resets over ${outcome.connections} connections (${outcome.closedByServer} closed by ` +
      `the node): n=${during.length} median ${median(during).toFixed(1)} ms max ` +
      `${Math.max(...during).toFixed(1)} ms; load ${load}`,
  );
  expect(during.length).toBeGreaterThanOrEqual(10);
  // Generous for a loaded 2-core machine: 300 ms, times the run queue per core when the
  // machine is oversubscribed (the node then gets a fraction of a core). Before issue 15 the
  // median was 53 s at load 14 on 2 cores, where this allows 2.1 s.
  const perCore = Math.max(1, loadavg()[0]! / cpus().length);
  expect(median(during)).toBeLessThan(300 * perCore);
  expect(outcome.closedByServer).toBeGreaterThan(0);
  await untilGauge('rill_requests_in_flight{class="client"}', 0);
});

test('issue 15: a trickled body is cut at the deadline with 408', async () => {
  const session = await openSession(broker.url);
  const stream = session.request({
    ':method': 'POST',
    ':path': '/v1/topics/flood/partitions/1/records',
    'content-type': 'application/json',
  });
  stream.on('error', () => undefined);
  const started = performance.now();
  stream.write('{"records":[');
  const trickle = setInterval(() => {
    if (!stream.closed) stream.write('{"value":"x"},');
  }, 100);
  try {
    const [status, body] = await new Promise<[number, string]>((resolve) => {
      let code = 0;
      const chunks: Buffer[] = [];
      stream.on('response', (headers) => {
        code = Number(headers[':status']);
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => resolve([code, Buffer.concat(chunks).toString('utf8')]));
    });
    const elapsedMs = performance.now() - started;
    expect(status).toBe(408);
    expect(JSON.parse(body)).toMatchObject({
      error: { code: 'REQUEST_BODY_TIMEOUT', message: expect.any(String) },
    });
    expect(elapsedMs).toBeGreaterThanOrEqual(requestBodyTimeoutMs - 50);
    // The node stops the upload too (RST_STREAM NO_ERROR after the answer).
    const isClosed = (): true | undefined => (stream.closed ? true : undefined);
    await pollUntil('the trickled stream to close', 5_000, isClosed);
  } finally {
    clearInterval(trickle);
    session.destroy();
  }
});

test('issue 15: a connection with no open stream is closed once idle', async () => {
  const session = await openSession(broker.url);
  expect((await timedGet(session, '/healthz')).status).toBe(200);
  const started = performance.now();
  const goaway = await new Promise<number>((resolve) => session.once('goaway', resolve));
  const idleMs = performance.now() - started;
  expect(goaway).toBe(constants.NGHTTP2_NO_ERROR);
  expect(idleMs).toBeGreaterThanOrEqual(connectionIdleTimeoutMs - 100);
  session.destroy();
});
