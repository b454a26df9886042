// Runs a real `rill broker` process for API tests: a free loopback port, a temporary data
// directory, `ready` awaited on stdout with a deadline. Tests must call stop() or kill() in
// afterAll/afterEach; the data directory survives a kill so a restart can recover it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { awaitReadyLine, freePort } from '../child-process.ts';

const rillBin = resolve(import.meta.dirname, '../../../bin/rill.js');

export interface BrokerProcessOptions {
  readonly dataDir?: string;
  readonly port?: number;
  readonly clusterSecret?: string;
  readonly readyTimeoutMs?: number;
  /** More `rill broker` arguments, e.g. ['--limit', 'fetchWaitersMax=50']. */
  readonly args?: readonly string[];
}

export class BrokerProcess {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly output: string[] = [];
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;

  private constructor(child: ChildProcess, port: number, dataDir: string) {
    this.#child = child;
    this.port = port;
    this.dataDir = dataDir;
    this.url = `http://127.0.0.1:${port}`;
    this.#exited = new Promise((done) => child.once('exit', (code) => done(code)));
  }

  static async start(options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
    const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'rill-api-')));
    const port = options.port ?? (await freePort());
    const args = [rillBin, 'broker', '--node-id', '1', '--listen', `127.0.0.1:${port}`];
    args.push('--data-dir', dataDir, '--log-file', join(dataDir, 'node.log'));
    if (options.clusterSecret !== undefined) args.push('--cluster-secret', options.clusterSecret);
    args.push(...(options.args ?? []));
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const broker = new BrokerProcess(child, port, dataDir);
    await awaitReadyLine(child, 'broker', (line) => line === 'ready', {
      timeoutMs: options.readyTimeoutMs ?? 30_000,
      output: broker.output,
    });
    return broker;
  }

  get pid(): number {
    return this.#child.pid!;
  }

  get isRunning(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** SIGKILL: no shutdown code runs. */
  async kill(): Promise<void> {
    if (this.isRunning) this.#child.kill('SIGKILL');
    await this.#exited;
  }

  /** SIGTERM and wait; returns the exit code. */
  async stop(): Promise<number | null> {
    if (this.isRunning) this.#child.kill('SIGTERM');
    return this.#exited;
  }

  async removeData(): Promise<void> {
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
