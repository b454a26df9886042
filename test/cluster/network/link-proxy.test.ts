// Goal: the per-link proxy (link-proxy.ts) does what the nemesis relies on, and dial-map.mjs
// routes a process's connects through it. Method: an echo server behind one LinkProxy in this
// process; seeded random chunk sizes; assert bytes arrive complete and in order under delay and
// jitter, not before the delay, held while stalled and all delivered on release; a reset is
// seen as ECONNRESET; a cut link refuses and a healed one accepts again. Then a child node
// process with the preload dials the echo server's address and lands on the proxy.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import { LinkProxy } from '../../support/cluster/link-proxy.ts';
import { pollUntil } from '../../support/poll.ts';

const seed = Number(process.env['RILL_PROPERTY_SEED'] ?? Date.now() % 2 ** 31);
const random = new SeededRandom(seed);
let echo: Server;
let echoPort = 0;
let proxy: LinkProxy;

beforeAll(async () => {
  console.log(`link-proxy seed=${seed}`);
  echo = createServer((socket) => {
    socket.on('error', () => {}); // The proxy's resets reach the echo side too.
    socket.pipe(socket);
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  echoPort = (echo.address() as { port: number }).port;
  proxy = await LinkProxy.open(1, 2, '127.0.0.1', { host: '127.0.0.1', port: echoPort }, random);
});

afterAll(async () => {
  await proxy?.close();
  echo?.close();
});

async function dial(): Promise<{ socket: Socket; received: () => Buffer }> {
  const socket = connect({ host: '127.0.0.1', port: proxy.port });
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { socket, received: () => Buffer.concat(chunks) };
}

function payload(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) bytes[i] = random.int(256);
  return bytes;
}

test('delay and jitter: every byte back, in order, not before twice the delay', async () => {
  proxy.setShape({ delayMs: 40, jitterMs: 30, bytesPerSecond: null });
  const { socket, received } = await dial();
  const sent: Buffer[] = [];
  const started = performance.now();
  for (let i = 0; i < 50; i += 1) {
    const chunk = payload(1 + random.int(20_000));
    sent.push(chunk);
    socket.write(chunk);
  }
  const all = Buffer.concat(sent);
  await pollUntil('the echo complete', 10_000, async () =>
    received().length >= all.length ? true : undefined,
  );
  // Through the proxy and back: the delay applies on the way out and on the way back.
  expect(performance.now() - started).toBeGreaterThanOrEqual(80);
  expect(received().equals(all)).toBe(true);
  socket.destroy();
  proxy.setShape({ delayMs: 0, jitterMs: 0, bytesPerSecond: null });
});

test('a throttled link takes at least size / rate', async () => {
  proxy.setShape({ delayMs: 0, jitterMs: 0, bytesPerSecond: 200_000 });
  const { socket, received } = await dial();
  const data = payload(60_000);
  const started = performance.now();
  socket.write(data);
  await pollUntil('the echo complete', 10_000, async () =>
    received().length >= data.length ? true : undefined,
  );
  // 60 kB at 200 kB/s each way: 300 ms out and 300 ms back at least.
  expect(performance.now() - started).toBeGreaterThanOrEqual(550);
  expect(received().equals(data)).toBe(true);
  socket.destroy();
  proxy.setShape({ delayMs: 0, jitterMs: 0, bytesPerSecond: null });
});

test('a stalled link holds every byte and delivers all of it on release', async () => {
  const { socket, received } = await dial();
  proxy.setStalled(true);
  const data = payload(300_000);
  socket.write(data);
  await new Promise((done) => setTimeout(done, 300));
  expect(received().length).toBe(0);
  proxy.setStalled(false);
  await pollUntil('the echo complete', 10_000, async () =>
    received().length >= data.length ? true : undefined,
  );
  expect(received().equals(data)).toBe(true);
  socket.destroy();
});

test('reset: the dialer sees ECONNRESET; cut: refused until healed', async () => {
  const { socket } = await dial();
  const failed = once(socket, 'error');
  proxy.reset();
  const [error] = (await failed) as [NodeJS.ErrnoException];
  expect(error.code).toBe('ECONNRESET');
  await proxy.setCut(true);
  const refused = connect({ host: '127.0.0.1', port: proxy.port });
  const [refusal] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
  expect(refusal.code).toBe('ECONNREFUSED');
  await proxy.heal();
  const { socket: again, received } = await dial();
  again.write('hello');
  await pollUntil('an echo after the heal', 5_000, async () =>
    received().toString() === 'hello' ? true : undefined,
  );
  again.destroy();
});

test('dial-map.mjs sends a child process connect for the echo server to the proxy', async () => {
  const before = proxy.stats.accepted;
  const preload = resolve(import.meta.dirname, '../../support/cluster/dial-map.mjs');
  const script =
    `import { connect } from 'node:net';` +
    `const s = connect({ host: '127.0.0.1', port: ${echoPort} });` +
    `s.on('data', (d) => { process.stdout.write(d); s.destroy(); });` +
    `s.on('connect', () => s.write('through'));`;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', preload, '--input-type=module', '-e', script],
    { env: { ...process.env, RILL_TEST_DIAL_MAP: `127.0.0.1:${echoPort}=127.0.0.1:${proxy.port}` } },
  );
  expect(stdout).toBe('through');
  expect(proxy.stats.accepted).toBe(before + 1);
});
