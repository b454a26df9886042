// `npx tsx scripts/flood-check.ts [--resets N] [--parked K] [--connections C]`: issue 15's
// HTTP/2 flood defects against a real broker. (1) Rapid reset: N × (HEADERS for a JSON fetch
// of 1 MiB + RST_STREAM CANCEL) on one connection, while /healthz is probed on a second one;
// prints the probe latencies, the broker's peak RSS and whether the flooding connection was
// closed. (2) Cancelled long polls: K fetches parked at the HW over C connections, reset, then
// the waiting-fetch count and a fresh long poll. Exported parts are reused by the tests.
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

export interface RapidResetOutcome {
  /** Streams opened before the server refused or closed the connection. */
  readonly opened: number;
  /** True when the server ended the connection (GOAWAY or socket close). */
  readonly closedByServer: boolean;
  readonly goawayCode: number | null;
}

/** Opens a session and waits until it is connected. */
export async function openSession(url: string): Promise<ClientHttp2Session> {
  const session = connect(url);
  session.on('error', () => undefined); // A flood session may be torn down under us.
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  return session;
}

/**
 * On one connection, `count` × (a request for `path` + RST_STREAM CANCEL at once), written as
 * fast as the socket takes them. Stops early when the server closes the connection.
 */
export async function rapidReset(
  url: string,
  path: string,
  count: number,
): Promise<RapidResetOutcome> {
  const session = await openSession(url);
  let goawayCode: number | null = null;
  let closed = false;
  session.on('goaway', (code) => {
    goawayCode = code;
  });
  session.on('close', () => {
    closed = true;
  });
  let opened = 0;
  for (; opened < count && !closed && goawayCode === null; opened += 1) {
    try {
      const stream = session.request({ ':path': path }, { endStream: true });
      stream.on('error', () => undefined);
      stream.close(constants.NGHTTP2_CANCEL);
    } catch {
      break; // The session is going away: the server closed it.
    }
    // Yield every 100 streams so frames reach the socket and server frames are read.
    if (opened % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
  }
  // Give the server a moment to answer the last frames (a GOAWAY may be on its way).
  const deadline = performance.now() + 2_000;
  while (!closed && goawayCode === null && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const closedByServer = closed || goawayCode !== null;
  session.destroy();
  return { opened, closedByServer, goawayCode };
}

/** Milliseconds for one GET on `session`, and its status. */
export function timedGet(
  session: ClientHttp2Session,
  path: string,
): Promise<{ ms: number; status: number; body: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path }, { endStream: true });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () =>
      resolve({
        ms: performance.now() - started,
        status,
        body: Buffer.concat(chunks).toString('utf8'),
      }),
    );
    stream.on('error', reject);
  });
}

/** Parks `count` long polls at `path` over `connections` sessions, then resets them all. */
export async function parkAndReset(
  url: string,
  path: string,
  count: number,
  connections: number,
  isParked: () => Promise<boolean>,
): Promise<void> {
  const sessions = await Promise.all(
    Array.from({ length: connections }, () => openSession(url)),
  );
  const streams = [];
  for (let i = 0; i < count; i += 1) {
    const session = sessions[i % connections] as ClientHttp2Session;
    const stream = session.request({ ':path': path }, { endStream: true });
    stream.on('error', () => undefined);
    streams.push(stream);
  }
  const deadline = performance.now() + 30_000;
  while (!(await isParked()) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const stream of streams) stream.close(constants.NGHTTP2_CANCEL);
  // The resets must leave this process before the sessions go (a closed session sends GOAWAY).
  await new Promise((resolve) => setTimeout(resolve, 200));
  for (const session of sessions) session.close();
}

/** A gauge of the node's /metrics, e.g. rill_waiting_fetches. */
export async function metricValue(session: ClientHttp2Session, name: string): Promise<number> {
  const { body } = await timedGet(session, '/metrics');
  const line = body.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

/** Peak resident set of a process (Linux VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match === null ? Number.NaN : Number(match[1]) / 1024;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      resets: { type: 'string', default: '3000' },
      parked: { type: 'string', default: '10000' },
      connections: { type: 'string', default: '40' },
      url: { type: 'string' },
      pid: { type: 'string' },
    },
  });
  const { spawnBroker } = await import('./spawn-broker.ts');
  const broker = values.url === undefined ? await spawnBroker() : null;
  const url = values.url ?? (broker?.url as string);
  const pid = broker?.child.pid ?? Number(values.pid);
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  try {
    const probe = await openSession(url);
    await seedTopic(probe);
    const baseline = [];
    for (let i = 0; i < 5; i += 1) baseline.push((await timedGet(probe, '/healthz')).ms);
    console.log(`healthz before: median ${median(baseline).toFixed(1)} ms`);
    const fetchPath = '/v1/topics/flood/partitions/0/records?offset=0&maxBytes=1048576';
    const probes: number[] = [];
    let flooding = true;
    const prober = (async () => {
      while (flooding) probes.push((await timedGet(probe, '/healthz')).ms);
    })();
    const started = performance.now();
    const outcome = await rapidReset(url, fetchPath, Number(values.resets));
    const floodMs = performance.now() - started;
    // Keep probing until the node has worked off what the flood left.
    const settle = performance.now() + 30_000;
    while (performance.now() < settle && (await timedGet(probe, '/healthz')).ms > 50) {
      /* probing */
    }
    flooding = false;
    await prober;
    console.log(
      `rapid reset: opened ${outcome.opened}, closed by server ${outcome.closedByServer} ` +
        `(goaway ${outcome.goawayCode}), flood ${floodMs.toFixed(0)} ms; healthz during: ` +
        `n=${probes.length} median ${median(probes).toFixed(1)} ms max ` +
        `${Math.max(...probes).toFixed(1)} ms; peak RSS ${peakRssMiB(pid).toFixed(0)} MiB`,
    );
    const longPoll = '/v1/topics/flood/partitions/1/records?offset=0&maxWaitMs=120000';
    const parked = Number(values.parked);
    await parkAndReset(url, longPoll, parked, Number(values.connections), async () => {
      return (await metricValue(probe, 'rill_waiting_fetches')) >= parked;
    });
    const afterReset = await metricValue(probe, 'rill_waiting_fetches');
    const fresh = await timedGet(probe, longPoll.replace('120000', '200'));
    console.log(
      `cancelled long polls: waiting fetches after reset ${afterReset}; a new long poll ` +
        `answers ${fresh.status} ${fresh.body.slice(0, 120)}`,
    );
    console.log(`peak RSS ${peakRssMiB(pid).toFixed(0)} MiB`);
    probe.close();
  } finally {
    await broker?.stop();
    console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  }
}

/** A topic `flood` with 2 partitions; partition 0 holds about 4 MiB of 1 KiB records. */
async function seedTopic(session: ClientHttp2Session): Promise<void> {
  await post(session, '/v1/topics', { name: 'flood', partitions: 2, replicationFactor: 1 });
  const value = 'x'.repeat(1024);
  for (let i = 0; i < 4; i += 1) {
    const records = Array.from({ length: 1024 }, () => ({ value }));
    await post(session, '/v1/topics/flood/partitions/0/records', { records });
  }
}

export function post(
  session: ClientHttp2Session,
  path: string,
  json: unknown,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/json',
    });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }));
    stream.on('error', reject);
    stream.end(JSON.stringify(json));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
