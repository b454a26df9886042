// Goal: sendSlices sends exactly the slices' bytes and ends the lease only when nothing reads
// the descriptor any more: every release here closes it and opens another file in its place
// (the kernel reuses the lowest free number), whose bytes must never reach a client — also when
// clients reset streams at random moments, and the process must survive that (respondWithFD
// does not on Node 20: scripts/respond-with-fd-repro.ts). Method: a real node:http2 server in
// this process on a temporary file; randomized resets (seed printed, SLICE_SENDER_SEED=…).
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import {
  connect,
  constants,
  createServer,
  type ClientHttp2Session,
  type Http2Server,
  type ServerHttp2Stream,
} from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { sendSlices } from '../../../src/api/server/slice-sender.ts';
import { pollUntil } from '../../support/poll.ts';

const fileBytes = 4 * 1024 * 1024;
let dir: string;
let content: Buffer;
let server: Http2Server;
let session: ClientHttp2Session;
/** What each request serves: set per test. */
let serve: (stream: ServerHttp2Stream, path: string) => void = () => undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rill-slice-sender-'));
  content = Buffer.alloc(fileBytes);
  for (let i = 0; i < fileBytes; i += 4) content.writeUInt32BE(i, i);
  writeFileSync(join(dir, 'segment.log'), content);
  writeFileSync(join(dir, 'other.log'), Buffer.alloc(fileBytes, 0xee));
  // As the broker's server (server.ts): resets leave DATA in flight that nghttp2 counts.
  const limits = { maxSessionInvalidFrames: 8192, maxSessionMemory: 256 };
  server = createServer({ settings: { initialWindowSize: 1024 * 1024 }, ...limits });
  server.on('stream', (stream, headers) => serve(stream, String(headers[':path'])));
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  session = connect(`http://127.0.0.1:${port}`, limits);
});

afterAll(async () => {
  session?.close();
  await new Promise((done) => server?.close(done));
  rmSync(dir, { recursive: true, force: true });
});

/** mulberry32: a small seeded generator for the cancellation schedule. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Serves /<position>/<length> from a fresh descriptor of the segment file; its release closes
 * the descriptor and opens the other file, which then most likely holds the same number.
 */
function serveFromFreshDescriptor(counts: { released: number }) {
  const decoys: number[] = [];
  serve = (stream, path) => {
    const [position, length] = path.split('/').slice(1).map(Number) as [number, number];
    const fd = openSync(join(dir, 'segment.log'), 'r');
    let released = 0;
    const release = (): void => {
      released += 1;
      expect(released).toBe(1);
      counts.released += 1;
      closeSync(fd);
      decoys.push(openSync(join(dir, 'other.log'), 'r'));
    };
    // Two adjacent slices: sendSlices merges them into one range.
    const half = Math.floor(length / 2);
    const slices = [
      { fd, position, length: half },
      { fd, position: position + half, length: length - half },
    ].filter((slice) => slice.length > 0);
    sendSlices(stream, { 'content-type': 'application/octet-stream' }, slices, release);
  };
  return () => decoys.splice(0).forEach((fd) => closeSync(fd));
}

type Outcome = { kind: 'complete'; body: Buffer } | { kind: 'cancelled' };

function fetchRange(
  position: number,
  length: number,
  cancelAfterBytes: number | null,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': `/${position}/${length}` });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let cancelled = false;
    const cancel = (): void => {
      cancelled = true;
      stream.close(constants.NGHTTP2_CANCEL);
    };
    if (cancelAfterBytes === 0) setImmediate(cancel);
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      if (cancelAfterBytes !== null && bytes >= cancelAfterBytes && !cancelled) cancel();
    });
    stream.on('close', () => {
      if (cancelled) resolve({ kind: 'cancelled' });
      else resolve({ kind: 'complete', body: Buffer.concat(chunks) });
    });
    stream.on('error', (error) => {
      if (!cancelled) reject(error);
    });
    stream.end();
  });
}

test('slices arrive whole and the lease ends once', async () => {
  const counts = { released: 0 };
  const closeDecoys = serveFromFreshDescriptor(counts);
  try {
    for (const [position, length] of [
      [0, 1],
      [12_345, 300_000],
      [fileBytes - 1_000_000, 1_000_000],
    ] as const) {
      const outcome = await fetchRange(position, length, null);
      expect(outcome.kind).toBe('complete');
      const body = outcome.kind === 'complete' ? outcome.body : Buffer.alloc(0);
      expect(body.equals(content.subarray(position, position + length))).toBe(true);
    }
    expect(counts.released).toBe(3);
  } finally {
    closeDecoys();
  }
});

test("random resets never leak another file's bytes nor crash the server", async () => {
  const seed = Number(process.env.SLICE_SENDER_SEED ?? Date.now() % 2 ** 31);
  console.log(`slice-sender seed: ${seed} (SLICE_SENDER_SEED=${seed} to replay)`);
  const next = random(seed);
  const counts = { released: 0 };
  const closeDecoys = serveFromFreshDescriptor(counts);
  const requests = 600;
  let complete = 0;
  try {
    for (let round = 0; round < requests / 12; round += 1) {
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const position = Math.floor(next() * (fileBytes / 2));
          const length = 1 + Math.floor(next() * (fileBytes / 2));
          const roll = next();
          const cancelAt = roll < 0.3 ? null : roll < 0.5 ? 0 : Math.floor(next() * length);
          const outcome = await fetchRange(position, length, cancelAt);
          if (outcome.kind === 'complete') {
            expect(outcome.body.equals(content.subarray(position, position + length))).toBe(true);
          }
          return outcome.kind;
        }),
      );
      complete += outcomes.filter((kind) => kind === 'complete').length;
      // Every response of the round, cancelled or not, releases its lease.
      await pollUntil(
        "the round's releases",
        5_000,
        () => (counts.released === (round + 1) * 12 ? true : undefined),
        5,
      );
      closeDecoys();
    }
    expect(counts.released).toBe(requests);
    expect(complete).toBeGreaterThan(requests * 0.2);
  } finally {
    closeDecoys();
  }
}, 60_000);
