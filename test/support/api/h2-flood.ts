// Raw node:http2 clients for the flood tests and scripts/flood-check.ts (issue 15): rapid reset
// (HEADERS then RST_STREAM CANCEL at once, in a loop), long polls parked then reset, timed
// GETs and produces on a session of their own, a /metrics gauge, and the peak RSS of a process.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { readFileSync } from 'node:fs';

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
 * On one connection, up to `count` × (a request for `path` + RST_STREAM CANCEL at once), as
 * fast as the socket takes them, until `deadlineMs` (performance.now()) at the latest. Stops
 * early when the server closes the connection; then waits up to `closeWaitMs` for a GOAWAY.
 * `code` is the RST_STREAM error code (CANCEL unless given).
 */
export async function rapidReset(
  url: string,
  path: string,
  options: { count: number; deadlineMs?: number; closeWaitMs?: number; code?: number },
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
  const deadlineMs = options.deadlineMs ?? Number.POSITIVE_INFINITY;
  const isOpen = (): boolean => !closed && goawayCode === null;
  let opened = 0;
  while (opened < options.count && isOpen() && performance.now() < deadlineMs) {
    try {
      const stream = session.request({ ':path': path }, { endStream: true });
      stream.on('error', () => undefined);
      stream.close(options.code ?? constants.NGHTTP2_CANCEL);
    } catch {
      break; // The session is going away: the server closed it.
    }
    opened += 1;
    // Yield every 50 streams so frames reach the socket and the server's frames are read.
    if (opened % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const waitUntil = performance.now() + (options.closeWaitMs ?? 2_000);
  while (isOpen() && performance.now() < waitUntil) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const closedByServer = !isOpen();
  session.destroy();
  return { opened, closedByServer, goawayCode };
}

export interface FloodOutcome {
  readonly resets: number;
  readonly connections: number;
  /** Connections the server closed (GOAWAY or socket close). */
  readonly closedByServer: number;
}

/** Rapid resets on one connection at a time for `durationMs`, reconnecting when closed. */
export async function resetFlood(
  url: string,
  path: string,
  durationMs: number,
): Promise<FloodOutcome> {
  const deadlineMs = performance.now() + durationMs;
  let resets = 0;
  let connections = 0;
  let closedByServer = 0;
  while (performance.now() < deadlineMs) {
    const count = Number.POSITIVE_INFINITY;
    const outcome = await rapidReset(url, path, { count, deadlineMs, closeWaitMs: 0 });
    resets += outcome.opened;
    connections += 1;
    if (outcome.closedByServer) closedByServer += 1;
  }
  return { resets, connections, closedByServer };
}

/** Starts a GET of `path` on `session` every `everyMs` until `until` settles; their times. */
export async function probeWhile(
  session: ClientHttp2Session,
  path: string,
  everyMs: number,
  until: Promise<unknown>,
): Promise<number[]> {
  const probes: Promise<number>[] = [];
  const start = (): void => {
    probes.push(timedGet(session, path).then((answer) => answer.ms));
  };
  start();
  const timer = setInterval(start, everyMs);
  try {
    await until;
  } finally {
    clearInterval(timer);
  }
  return Promise.all(probes);
}

/**
 * Starts a one-record JSON produce to `path` on `session` every `everyMs` until `until` settles
 * (at most one in flight); the time and status of each.
 */
export async function produceWhile(
  session: ClientHttp2Session,
  path: string,
  everyMs: number,
  until: Promise<unknown>,
): Promise<{ ms: number; status: number; body: string }[]> {
  const answers: { ms: number; status: number; body: string }[] = [];
  let done = false;
  void until.finally(() => {
    done = true;
  });
  let n = 0;
  while (!done) {
    const started = performance.now();
    const answer = await post(session, path, { records: [{ value: `during-${n}` }] }).catch(
      (error: unknown) => ({ status: 0, body: String(error) }),
    );
    const ms = performance.now() - started;
    answers.push({ ms, ...answer });
    n += 1;
    if (ms < everyMs) await new Promise((resolve) => setTimeout(resolve, everyMs - ms));
  }
  return answers;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
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

export interface ParkedPolls {
  /** Resets every parked stream, then closes the sessions once the resets have left. */
  reset(): Promise<void>;
}

/** Opens `count` long polls at `path` over `connections` sessions (they park at the HW). */
export async function parkLongPolls(
  url: string,
  path: string,
  count: number,
  connections: number,
): Promise<ParkedPolls> {
  const sessions = await Promise.all(Array.from({ length: connections }, () => openSession(url)));
  const streams: ClientHttp2Stream[] = [];
  for (let i = 0; i < count; i += 1) {
    const session = sessions[i % connections] as ClientHttp2Session;
    const stream = session.request({ ':path': path }, { endStream: true });
    stream.on('error', () => undefined);
    streams.push(stream);
  }
  return {
    async reset() {
      for (const stream of streams) stream.close(constants.NGHTTP2_CANCEL);
      // RST_STREAM frames must leave before the sessions close (a closing session's GOAWAY
      // would end the streams on its own): wait until each session has written its frames.
      await new Promise((resolve) => setTimeout(resolve, 200));
      for (const session of sessions) session.close();
    },
  };
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
