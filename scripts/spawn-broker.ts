// Starts one real broker process (`node bin/rill.js broker …`) on a free loopback port with a
// fresh data directory, and waits for its `ready` line. Used by the client integration tests
// and the benchmark; stop() ends it with SIGINT (so a --cpu-prof profile gets written) and
// removes the directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { awaitReadyLine, freePort } from '../test/support/child-process.ts';

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

export async function spawnBroker(
  options: {
    nodeArgs?: readonly string[];
    readyTimeoutMs?: number;
    keepDataDir?: boolean;
    /** More `rill broker` arguments, e.g. `--limit logCleanerBackoffMs=200`. */
    brokerArgs?: readonly string[];
  } = {},
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
    ...(options.brokerArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<void>((ok) =>
    child.once('exit', (code, signal) => {
      output.push(`[broker exited: code ${code}, signal ${signal}]`);
      ok();
    }),
  );
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
    await awaitReadyLine(child, 'broker', (line) => line === 'ready', {
      timeoutMs: options.readyTimeoutMs ?? 30_000,
      output,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    child,
    output: () => output.join('\n'),
    stop,
  };
}
