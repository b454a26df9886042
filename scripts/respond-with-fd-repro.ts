// `npx tsx scripts/respond-with-fd-repro.ts [--rounds N]`: does this Node survive clients that
// reset streams answered with respondWithFD? A child process serves random ranges of a 4 MiB
// file from ONE descriptor that is never closed; this process resets every stream at random
// moments. On Node 20.20.2 the child dies with SIGSEGV within a few hundred resets, so the
// broker sends segment ranges with its own reads (src/api/server/slice-sender.ts). Rerun this
// on a newer Node before switching to respondWithFD; it prints one JSON line.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, constants } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '100' } } });
const fileBytes = 4 * 1024 * 1024;

const serverSource = `
const http2 = require('node:http2');
const fd = require('node:fs').openSync(process.argv[1], 'r');
const server = http2.createServer({ maxSessionInvalidFrames: 8192, maxSessionMemory: 256 });
server.on('stream', (stream, headers) => {
  const [offset, length] = String(headers[':path']).split('/').slice(1).map(Number);
  stream.on('error', () => {});
  stream.respondWithFD(fd, { ':status': 200 }, { offset, length });
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'rill-fd-repro-'));
  const file = join(dir, 'segment.log');
  await writeFile(file, randomBytes(fileBytes));
  const child = spawn(process.execPath, ['-e', serverSource, file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  const session = connect(`http://127.0.0.1:${line.toString().trim()}`);
  session.on('error', () => undefined);
  let resets = 0;
  try {
    for (let round = 0; round < Number(args.rounds) && child.exitCode === null; round += 1) {
      await Promise.all(Array.from({ length: 12 }, () => resetOne(session).then(() => resets++)));
    }
  } catch {
    // The session broke: the server died (reported below).
  }
  // A broken session means the child is dying: give its exit a moment to be reported.
  await Promise.race([exited, new Promise((done) => setTimeout(done, 1_000))]);
  const survived = child.exitCode === null && child.signalCode === null;
  if (survived) child.kill('SIGTERM');
  const [code, signal] = await exited;
  session.destroy();
  await rm(dir, { recursive: true, force: true });
  const result = { node: process.version, resets, survived, code: survived ? null : code, signal };
  console.log(JSON.stringify(survived ? { ...result, signal: null } : result));
}

/** Asks for a random range and resets the stream at once or after a random part of it. */
function resetOne(session: ReturnType<typeof connect>): Promise<void> {
  return new Promise((resolve) => {
    const length = 1 + Math.floor(Math.random() * (fileBytes / 2));
    const offset = Math.floor(Math.random() * (fileBytes / 2));
    const stream = session.request({ ':path': `/${offset}/${length}` });
    const cancelAt = Math.random() < 0.5 ? 0 : Math.random() * length;
    const cancel = (): void => stream.close(constants.NGHTTP2_CANCEL);
    if (cancelAt === 0) setImmediate(cancel);
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes >= cancelAt) cancel();
    });
    stream.on('error', () => undefined);
    stream.on('close', () => resolve());
    stream.end();
  });
}

await main();
