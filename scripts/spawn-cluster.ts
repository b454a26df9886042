// Starts a cluster of real broker processes (`node bin/rill.js broker …`, every node a voter)
// on free loopback ports in one fresh data directory, and waits for each `ready` line. Nodes
// can be killed with SIGKILL and restarted on the same port and data; stop() ends the rest with
// SIGINT and removes the directory. No timing flag is passed: the brokers run their defaults.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../test/support/child-process.ts';

export interface ClusterProcesses {
  readonly urls: ReadonlyMap<number, string>;
  readonly dataDir: string;
  kill(id: number): Promise<void>;
  /** Starts a killed node again with its port and data directory; resolves once it is ready. */
  restart(id: number): Promise<void>;
  isRunning(id: number): boolean;
  /** The operating-system process id of a running node. */
  pid(id: number): number | undefined;
  stop(): Promise<void>;
}

const root = resolve(import.meta.dirname, '..');

export async function spawnCluster(options: {
  size: number;
  extraArgs?: readonly string[];
  /** Flags for node itself (e.g. --cpu-prof), before the script. */
  nodeArgs?: readonly string[];
  readyTimeoutMs?: number;
}): Promise<ClusterProcesses> {
  const dataDir = await mkdtemp(join(tmpdir(), 'rill-cluster-'));
  const ports = new Map<number, number>();
  for (let id = 1; id <= options.size; id += 1) ports.set(id, await freePort());
  const voters = [...ports].map(([id, port]) => `${id}@127.0.0.1:${port}`).join(',');
  const children = new Map<number, { child: ChildProcess; exited: Promise<void> }>();
  const startOne = (id: number, port: number): Promise<void> => {
    const args = [...(options.nodeArgs ?? []), join(root, 'bin/rill.js'), 'broker'];
    args.push('--node-id', String(id));
    args.push('--listen', `127.0.0.1:${port}`, '--voters', voters);
    args.push('--data-dir', join(dataDir, `node-${id}`), '--log-level', 'warn');
    args.push('--log-file', join(dataDir, `node-${id}.log`), '--cluster-secret', 'bench');
    args.push(...(options.extraArgs ?? []));
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    children.set(id, { child, exited });
    let output = '';
    return new Promise<void>((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`node ${id} not ready in time:\n${output}`)),
        options.readyTimeoutMs ?? 60_000,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (/^ready$/m.test(output)) {
          clearTimeout(timer);
          ok();
        }
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        fail(new Error(`node ${id} exited with ${code} before ready:\n${output}`));
      });
    });
  };
  const stopOne = async (id: number, signal: NodeJS.Signals): Promise<void> => {
    const entry = children.get(id);
    if (entry === undefined) return;
    children.delete(id);
    const { child, exited } = entry;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const forced = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(forced);
  };
  try {
    await Promise.all([...ports].map(([id, port]) => startOne(id, port)));
  } catch (error) {
    await Promise.all([...children.keys()].map((id) => stopOne(id, 'SIGKILL')));
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    urls: new Map([...ports].map(([id, port]) => [id, `http://127.0.0.1:${port}`])),
    dataDir,
    kill: (id) => stopOne(id, 'SIGKILL'),
    async restart(id) {
      const port = ports.get(id);
      if (port === undefined || children.has(id)) throw new Error(`node ${id} cannot restart`);
      await startOne(id, port);
    },
    isRunning: (id) => children.has(id),
    pid: (id) => children.get(id)?.child.pid,
    async stop() {
      await Promise.all([...children.keys()].map((id) => stopOne(id, 'SIGINT')));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
