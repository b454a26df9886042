// Starts one real broker process (`node bin/rill.js broker …`) on a free loopback port with a
// fresh data directory, and waits for its `ready` line. Used by the client integration tests
// and the benchmark; stop() ends it with SIGINT (so a --cpu-prof profile gets written) and
// removes the directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface BrokerProcess {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Everything the broker wrote, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

const root = resolve(import.meta.dirname, '..');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  await new Promise<void>((ok) => server.close(() => ok()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function spawnBroker(
  options: { nodeArgs?: readonly string[]; readyTimeoutMs?: number; keepDataDir?: boolean } = {},
): Promise<BrokerProcess> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'rill-broker-'));
  const args = [
    ...(options.nodeArgs ?? []),
    join(root, 'bin/rill.js'),
    'broker',
    '--node-id',
    '1',
    '--listen',
    `127.0.0.1:${port}`,
    '--voters',
    `1@127.0.0.1:${port}`,
    '--data-dir',
    dataDir,
    '--log-level',
    'warn',
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((ok) =>
    child.once('exit', (code, signal) => {
      output += `\n[broker exited: code ${code}, signal ${signal}]\n`;
      ok();
    }),
  );
  const ready = new Promise<void>((ok, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`broker not ready in time:\n${output}`)),
      options.readyTimeoutMs ?? 30_000,
    );
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/^ready$/m.test(output)) {
        clearTimeout(timer);
        ok();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`broker exited with ${code} before ready:\n${output}`));
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const forced = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(forced);
    }
    if (options.keepDataDir !== true) await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await ready;
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}`, port, dataDir, child, output: () => output, stop };
}
