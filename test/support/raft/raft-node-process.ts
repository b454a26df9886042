// Real `scripts/raft-node.ts` processes on loopback, for the three-process test and
// `npm run bench:raft`: free ports, spawn/kill -9/restart, and JSON over h2c with undici.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { H2CClient } from 'undici';
import { awaitReadyLine } from '../child-process.ts';
import { pollUntil } from '../poll.ts';

const root = resolve(import.meta.dirname, '../../..');

export interface RaftNodeStatus {
  readonly nodeId: number;
  readonly role: string;
  readonly term: number;
  readonly leaderId: number | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export interface RaftNodeState extends RaftNodeStatus {
  readonly restoreCount: number;
  readonly values: Record<string, string>;
}

export interface RaftNodeOptions {
  readonly nodeId: number;
  readonly port: number;
  /** `1@127.0.0.1:P1,2@…` */
  readonly voters: string;
  readonly dataDir: string;
  readonly extraArgs?: readonly string[];
}

/** One raft-node process; restartable on the same port and data directory. */
export class RaftNodeProcess {
  readonly options: RaftNodeOptions;
  readonly url: string;
  #child: ChildProcess | null = null;
  #client: H2CClient | null = null;
  /** The child's output (last lines), for failure messages. */
  readonly output: string[] = [];

  constructor(options: RaftNodeOptions) {
    this.options = options;
    this.url = `http://127.0.0.1:${options.port}`;
  }

  get isRunning(): boolean {
    return this.#child !== null;
  }

  /** The running process's id (for CPU accounting), or null. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Spawns the process and resolves once it prints that it listens. */
  async start(): Promise<void> {
    const { nodeId, port, voters, dataDir, extraArgs = [] } = this.options;
    const args = ['--import', 'tsx', 'scripts/raft-node.ts', '--node-id', String(nodeId)];
    args.push(
      '--listen',
      `127.0.0.1:${port}`,
      '--voters',
      voters,
      '--data-dir',
      dataDir,
      ...extraArgs,
    );
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    await awaitReadyLine(child, `node ${nodeId}`, (line) => line.includes('"listening"'), {
      output: this.output,
    });
    child.once('exit', () => {
      if (this.#child === child) this.#child = null;
    });
  }

  /** kill -9, and waits for the process to be gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    await this.#client?.destroy();
    this.#client = null;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGKILL');
    await exited;
  }

  async get<T>(path: string): Promise<T> {
    return this.#request<T>('GET', path, undefined);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.#request<T>('POST', path, body);
  }

  async #request<T>(method: 'GET' | 'POST', path: string, body: unknown): Promise<T> {
    this.#client ??= new H2CClient(this.url, { headersTimeout: 120_000, bodyTimeout: 120_000 });
    const response = await this.#client.request({
      path,
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200)
      throw new Error(`${method} ${path}: ${response.statusCode} ${text}`);
    return JSON.parse(text) as T;
  }
}

/** The leader every running node agrees on (same leader id and term), once there is one. */
export async function waitForLeader(
  nodes: readonly RaftNodeProcess[],
  deadlineMs: number,
): Promise<RaftNodeProcess> {
  return pollUntil('an agreed leader', deadlineMs, async () => {
    const running = nodes.filter((node) => node.isRunning);
    const statuses = await Promise.all(running.map((node) => node.get<RaftNodeStatus>('/v1/raft')));
    const first = statuses[0];
    if (first === undefined || first.leaderId === null) return undefined;
    const agreed = statuses.every((s) => s.leaderId === first.leaderId && s.term === first.term);
    const leader = running.find((node) => node.options.nodeId === first.leaderId);
    return agreed ? leader : undefined;
  });
}
