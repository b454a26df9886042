// Goal: `rill broker` on a port already in use fails with its one-line reason and exit code 1.
// Before, pino's exit-time flush threw "sonic boom is not ready yet" (the log file was not open
// yet) and buried the reason under a stack trace. Method: a plain TCP server holds a port; a
// real `rill broker` child process is started on it.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';

const rillBin = resolve(import.meta.dirname, '../../../bin/rill.js');

test('a port in use: one line on stderr, exit code 1', async () => {
  const holder = createServer();
  await new Promise<void>((done) => holder.listen(0, '127.0.0.1', done));
  const port = (holder.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'rill-port-in-use-'));
  try {
    const args = [rillBin, 'broker', '--node-id', '1', '--listen', `127.0.0.1:${port}`];
    args.push('--voters', `1@127.0.0.1:${port}`, '--data-dir', join(dir, 'data'));
    args.push('--log-file', join(dir, 'logs', 'node-1.log'), '--cluster-secret', 's');
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    expect(code).toBe(1);
    expect(stderr).toContain('EADDRINUSE');
    expect(stderr).not.toContain('sonic boom');
    expect(stderr.trim().split('\n')).toHaveLength(1);
  } finally {
    holder.close();
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);
