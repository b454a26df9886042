// `rill cluster up`: runs N `rill broker` children on consecutive ports of 127.0.0.1, each
// with its own data directory (DIR/node-ID) and log file (DIR/node-ID.log), sharing a cluster
// secret generated once per data directory (DIR/cluster-secret, mode 0600). Prints each node's
// URL and `ready` once every node is registered with the elected controller (each child prints
// `ready` only then); Ctrl-C (or SIGTERM) stops every child cleanly, each moving its partition
// leadership away first (controlled shutdown). The first min(N, 3) nodes vote; the rest observe.
// A node that dies after `ready` leaves the others serving; the restart command is printed.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';

const rillBin = fileURLToPath(new URL('../../bin/rill.js', import.meta.url));
const nodesMax = 64;
/** Voters of the metadata group; nodes beyond them follow it as observers (DESIGN.md §2). */
const votersMax = 3;

interface ClusterOptions {
  nodes: number;
  basePort: number;
  dataDir: string;
  host: string;
  logLevel: string;
}

function positiveInt(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > max) {
      throw new InvalidArgumentError(`expected an integer in [1, ${max}]`);
    }
    return n;
  };
}

export function clusterCommand(): Command {
  const cluster = new Command('cluster').description('Run a local Rill cluster.');
  cluster
    .command('up')
    .description('Start N nodes on HOST:BASE_PORT.. as child processes; Ctrl-C stops them all.')
    .option(
      '--nodes <n>',
      `number of nodes (at most ${nodesMax}); the first ${votersMax} vote`,
      positiveInt(nodesMax),
      3,
    )
    .option(
      '--base-port <port>',
      'port of node 1; node i listens on BASE_PORT+i-1',
      positiveInt(65535),
      9091,
    )
    .option('--data-dir <dir>', 'data directory (node i uses DIR/node-i)', './data')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--log-level <level>', 'log level of the nodes', 'info')
    .addHelpText(
      'after',
      '\nLogs: DIR/node-ID.log (JSON). Cluster secret: DIR/cluster-secret, generated once.\n' +
        'Example: rill cluster up --nodes 3 --base-port 9091 --data-dir ./data',
    )
    .action(async (options: ClusterOptions) => {
      await clusterUp(options);
    });
  return cluster;
}

async function clusterSecret(dataDir: string): Promise<string> {
  const path = join(dataDir, 'cluster-secret');
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secret = randomBytes(32).toString('hex');
  await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

async function clusterUp(options: ClusterOptions): Promise<void> {
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const secret = await clusterSecret(dataDir);
  const ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
  const address = (id: number): string => `${options.host}:${options.basePort + id - 1}`;
  const voters = ids
    .slice(0, votersMax)
    .map((id) => `${id}@${address(id)}`)
    .join(',');
  const children = new Map<number, ChildProcess>();
  let stopping = false;
  const stopAll = (code: number): void => {
    if (stopping) return;
    stopping = true;
    for (const child of children.values()) child.kill('SIGTERM');
    void Promise.all([...children.values()].map(exited)).then(() => process.exit(code));
  };
  const pending = new Set(ids);
  const brokerArgs = (id: number): string[] => [
    'broker',
    '--node-id',
    String(id),
    '--listen',
    address(id),
    '--voters',
    voters,
    '--data-dir',
    join(dataDir, `node-${id}`),
    '--log-file',
    join(dataDir, `node-${id}.log`),
    '--log-level',
    options.logLevel,
  ];
  for (const id of ids) {
    const child = spawn(process.execPath, [rillBin, ...brokerArgs(id)], {
      env: { ...process.env, RILL_CLUSTER_SECRET: secret },
      stdio: ['ignore', 'pipe', 'inherit'],
      // Own process group: Ctrl-C reaches only this process, which stops the nodes in order.
      detached: true,
    });
    children.set(id, child);
    child.on('exit', (code, signal) => {
      children.delete(id);
      if (stopping) return;
      const how = signal ?? code;
      if (pending.size > 0 || children.size === 0) {
        process.stderr.write(`node ${id} exited (${how}); stopping the cluster\n`);
        return stopAll(1);
      }
      // A running cluster survives one node's death: that is what it is for.
      process.stderr.write(
        `node ${id} exited (${how}); the others keep serving. Restart it with:\n` +
          `  RILL_CLUSTER_SECRET=$(cat ${join(dataDir, 'cluster-secret')}) ` +
          `npx rill ${brokerArgs(id).join(' ')}\n`,
      );
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (line !== 'ready') return void process.stdout.write(`[node ${id}] ${line}\n`);
      pending.delete(id);
      if (pending.size > 0) return;
      for (const n of ids) process.stdout.write(`node ${n}: http://${address(n)}\n`);
      process.stdout.write('ready\n');
    });
  }
  process.on('SIGINT', () => stopAll(0));
  process.on('SIGTERM', () => stopAll(0));
  // If this process dies some other way, do not leave the nodes running.
  process.on('exit', () => {
    for (const child of children.values()) child.kill('SIGTERM');
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => child.once('exit', () => resolveExit()));
}
