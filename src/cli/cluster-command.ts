// `rill cluster up`: runs N `rill broker` children on consecutive ports of 127.0.0.1, each
// with its own data directory (DIR/node-ID) and log file (DIR/node-ID.log), sharing a cluster
// secret generated once per data directory (DIR/cluster-secret, mode 0600), and writes the
// nodes' URLs to DIR/bootstrap for the other commands (cluster-client.ts). Prints these paths,
// then each node's
// URL and `ready` once every node is registered with the elected controller (each child prints
// `ready` only then); Ctrl-C (or SIGTERM) stops every child cleanly, each moving its partition
// leadership away first (controlled shutdown). The first min(N, 3) nodes vote; the rest observe.
// A node that dies after `ready` leaves the others serving; the restart command is printed.
// `rill cluster status` (./cluster-status.ts) reports on a running cluster.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { bootstrapFileName } from './cluster-client.ts';
import { clusterStatusCommand } from './cluster-status.ts';

const rillBin = fileURLToPath(new URL('../../bin/rill.js', import.meta.url));
const nodesMax = 64;
/** Voters of the metadata group; nodes beyond them follow it as observers (docs/design.md). */
const votersMax = 3;

interface ClusterOptions {
  nodes: number;
  basePort: number;
  dataDir: string;
  host: string;
  logLevel: string;
  consoleWrite?: boolean;
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
  const cluster = new Command('cluster').description(
    'run a local Rill cluster (up) or report on one (status)',
  );
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
    .option('--console-write', 'let the web console at / change the cluster (every node)')
    .addHelpText(
      'after',
      '\nLogs: DIR/node-ID.log (JSON). Cluster secret: DIR/cluster-secret, generated once.\n' +
        `Node URLs: DIR/${bootstrapFileName}; rill commands run from the directory holding ` +
        './data use it as their default --bootstrap.\n' +
        'Example: rill cluster up --nodes 3 --base-port 9091 --data-dir ./data',
    )
    .action(async (options: ClusterOptions) => {
      await clusterUp(options);
    });
  cluster.addCommand(clusterStatusCommand());
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
  const urls = ids.map((id) => `http://${address(id)}`);
  await writeFile(join(dataDir, bootstrapFileName), `${urls.join(',')}\n`);
  printPaths(dataDir, ids);
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
    ...(options.consoleWrite === true ? ['--console-write'] : []),
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

/** Where everything goes, before the nodes start: a user should not have to guess. */
function printPaths(dataDir: string, ids: readonly number[]): void {
  const last = ids[ids.length - 1] ?? 1;
  const logs = ids.length === 1 ? 'node-1.log' : `node-1.log … node-${last}.log`;
  const list = join(dataDir, bootstrapFileName);
  const nodeList =
    basename(dataDir) === 'data'
      ? `${list} (the default --bootstrap of rill commands run in ${dirname(dataDir)})`
      : `${list} (elsewhere: export RILL_BOOTSTRAP=$(cat ${list}))`;
  process.stdout.write(
    `data directory: ${dataDir}\n` +
      `logs: ${join(dataDir, logs)} (JSON lines)\n` +
      `cluster secret: ${join(dataDir, 'cluster-secret')}\n` +
      `node list: ${nodeList}\n`,
  );
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => child.once('exit', () => resolveExit()));
}
