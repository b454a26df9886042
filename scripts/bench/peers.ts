// The baselines Rill is measured against in the same run: a bare node:http2 server in its own
// process (the transport's ceiling for upload and download, and the h2c sink for the JSON
// path: it reads each body and answers 200), sequential file appends per flush policy (the
// disk's side of produce), and h2load (Debian's nghttp2-client) as the neutral load generator.
import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { connect, constants as h2constants } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { round } from './stats.ts';

export const windowBytes = { stream: 16 * 1024 * 1024, connection: 64 * 1024 * 1024 };

export interface H2Peer {
  readonly port: number;
  readonly url: string;
  stop(): void;
}

const h2PeerSource = `
const http2 = require('node:http2');
const payload = Buffer.alloc(64 * 1024, 7);
const server = http2.createServer({ settings: { initialWindowSize: ${windowBytes.stream} } });
server.on('session', (session) => session.setLocalWindowSize(${windowBytes.connection}));
server.on('stream', (stream, headers) => {
  // A load generator that stops mid-run resets its open streams: answer only live ones.
  stream.on('error', () => {});
  if (headers[':method'] === 'POST') {
    stream.on('data', () => {});
    stream.on('end', () => {
      if (stream.destroyed || stream.closed) return;
      stream.respond({ ':status': 200 });
      stream.end();
    });
  } else if (!stream.destroyed) {
    stream.respond({ ':status': 200 });
    stream.end(payload);
  }
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** Starts the bare h2c server in a child process; it prints its port once listening. */
export async function startH2Peer(): Promise<H2Peer> {
  const child: ChildProcessByStdio<null, Readable, null> = spawn(
    process.execPath,
    ['-e', h2PeerSource],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const port = await new Promise<number>((ok, fail) => {
    child.stdout.once('data', (d: Buffer) => ok(Number(d.toString().trim())));
    child.once('exit', (code) => fail(new Error(`h2 peer exited with ${code}`)));
  });
  return { port, url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

/** 16 streams of 64 KiB bodies over one h2c connection with large windows, for `seconds`. */
export async function http2Transfer(
  peer: H2Peer,
  direction: 'upload' | 'download',
  seconds = 2,
): Promise<{ mibPerSecond: number; requestBytes: number; streams: number }> {
  const session = connect(peer.url, { settings: { initialWindowSize: windowBytes.stream } });
  await new Promise<void>((ok, fail) => {
    session.once('connect', () => ok());
    session.once('error', fail);
  });
  session.setLocalWindowSize(windowBytes.connection);
  const body = Buffer.alloc(64 * 1024, 7);
  let bytes = 0;
  const startMs = performance.now();
  const endMs = startMs + seconds * 1000;
  const stream = async (): Promise<void> => {
    while (performance.now() < endMs) {
      await new Promise<void>((ok, fail) => {
        const request = session.request({
          [h2constants.HTTP2_HEADER_METHOD]: direction === 'upload' ? 'POST' : 'GET',
          [h2constants.HTTP2_HEADER_PATH]: '/',
        });
        request.on('data', (chunk: Buffer) => {
          if (direction === 'download') bytes += chunk.length;
        });
        request.on('end', () => {
          if (direction === 'upload') bytes += body.length;
          ok();
        });
        request.on('error', fail);
        request.end(direction === 'upload' ? body : undefined);
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, () => stream()));
  const elapsed = (performance.now() - startMs) / 1000;
  session.close();
  return {
    mibPerSecond: round(bytes / 1024 / 1024 / elapsed, 1),
    requestBytes: 65536,
    streams: 16,
  };
}

export const flushPolicies = ['always', 'interval:1000', 'never'] as const;
export type FlushPolicy = (typeof flushPolicies)[number];

/** Sequential 256 KiB appends to one file, synced per the policy. */
export async function fileAppend(policy: FlushPolicy, totalBytes: number) {
  const dir = await mkdtemp(join(tmpdir(), 'rill-append-'));
  const file = await open(join(dir, 'segment.log'), 'a');
  const chunk = Buffer.alloc(256 * 1024, 3);
  const startMs = performance.now();
  let lastSyncMs = startMs;
  let syncs = 0;
  try {
    for (let written = 0; written < totalBytes; written += chunk.length) {
      await file.write(chunk);
      const nowMs = performance.now();
      if (policy === 'always' || (policy === 'interval:1000' && nowMs - lastSyncMs >= 1000)) {
        await file.datasync();
        lastSyncMs = nowMs;
        syncs += 1;
      }
    }
  } finally {
    await file.close();
    await rm(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - startMs) / 1000;
  return { mibPerSecond: round(totalBytes / 1024 / 1024 / seconds, 1), writeBytes: 262144, syncs };
}

export interface H2loadResult {
  readonly requests: number;
  readonly succeeded: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
}

/** Whether `command` runs here (`--version` exits 0). */
export function hasCommand(command: string): Promise<boolean> {
  return new Promise((ok) => {
    execFile(command, ['--version'], (error) => ok(error === null));
  });
}

/**
 * h2load over one h2c connection with `streams` concurrent streams, POSTing `body` to `url` for
 * `seconds` after one second of warm-up. Only 2xx answers count as succeeded.
 */
export async function runH2load(options: {
  url: string;
  body: string;
  seconds: number;
  streams: number;
}): Promise<H2loadResult> {
  const dir = await mkdtemp(join(tmpdir(), 'rill-h2load-'));
  const bodyFile = join(dir, 'body.json');
  await writeFile(bodyFile, options.body);
  try {
    const args = ['-D', String(options.seconds), '--warm-up-time', '1', '-c', '1'];
    args.push('-m', String(options.streams));
    args.push('-t', '1', '-d', bodyFile, '-H', 'content-type: application/json', options.url);
    const output = await new Promise<string>((ok, fail) => {
      execFile('h2load', args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error !== null) fail(new Error(`h2load failed: ${error.message}\n${stderr}`));
        else ok(stdout);
      });
    });
    return parseH2load(output);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Reads "finished in 4.01s, 4762.0 req/s, …" and "requests: N total, … M succeeded, …". With
 * -D the rate is h2load's own: successful requests over the main duration, warm-up excluded.
 */
export function parseH2load(output: string): H2loadResult {
  const finished = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(output);
  const requests = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded/.exec(output);
  if (finished === null || requests === null) {
    throw new Error(`unexpected h2load output:\n${output}`);
  }
  return {
    requests: Number(requests[1]),
    succeeded: Number(requests[2]),
    seconds: Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1),
    requestsPerSecond: Number(finished[3]),
  };
}
