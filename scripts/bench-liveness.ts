// Liveness figures of a three-node cluster of real processes, for one or more checkouts side by
// side: idle CPU per node over a window (from /proc/<pid>/stat) with the Raft commit index
// before and after it, and kill -9 of a partition leader → first successful acks=all write.
// Rounds interleave the checkouts so machine load hits them alike; the load average is printed.
// Usage: tsx scripts/bench-liveness.ts [--rounds 3] [--idle-ms 30000] ROOT [ROOT...]
//   (ROOT: a checkout with bin/rill.js and node_modules, e.g. this one and a baseline copy)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { H2CClient } from 'undici';
import { freePort } from '../test/support/child-process.ts';

interface Node {
  readonly id: number;
  readonly url: string;
  readonly child: ChildProcess;
  readonly client: H2CClient;
}

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args.splice(at, 2)[1]);
  return value;
};
const rounds = option('--rounds', 3);
const idleMs = option('--idle-ms', 30_000);
const roots = args.map((root) => resolve(root));
const clockTicks = 100; // USER_HZ on Linux.

async function startCluster(root: string): Promise<{ nodes: Node[]; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'rill-liveness-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  const voters = ports.map((port, i) => `${i + 1}@127.0.0.1:${port}`).join(',');
  const nodes = await Promise.all(
    ports.map(async (port, i) => {
      const id = i + 1;
      const argv = [join(root, 'bin/rill.js'), 'broker', '--node-id', String(id), '--voters']
        .concat([voters, '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, `n${id}`)])
        .concat(['--log-file', join(dir, `n${id}.log`), '--cluster-secret', 'bench']);
      const child = spawn(process.execPath, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      await new Promise<void>((ok, fail) => {
        let out = '';
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.split('\n').includes('ready')) ok();
        });
        child.once('exit', () => fail(new Error(`node ${id} exited: ${out}`)));
      });
      const url = `http://127.0.0.1:${port}`;
      return { id, url, child, client: new H2CClient(url) };
    }),
  );
  return { nodes, dir };
}

async function call(node: Node, method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await node.client.request({
    origin: node.url,
    method,
    path,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text === '' ? null : JSON.parse(text) };
}

async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

async function cpuTicks(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

async function idleRound(root: string): Promise<string> {
  const { nodes, dir } = await startCluster(root);
  try {
    await poll('every node alive', 30_000, async () => {
      const { body } = await call(nodes[0] as Node, 'GET', '/v1/cluster');
      const brokers = body.brokers as { status: string }[];
      return brokers.length === 3 && brokers.every((b) => b.status === 'alive') ? true : undefined;
    });
    await new Promise((done) => setTimeout(done, 3_000)); // Let start-up work finish.
    const index = async () => (await call(nodes[0] as Node, 'GET', '/v1/raft')).body.commitIndex;
    const [before, ticks0] = [await index(), await Promise.all(nodes.map(pidTicks))];
    await new Promise((done) => setTimeout(done, idleMs)); // The measured window.
    const [after, ticks1] = [await index(), await Promise.all(nodes.map(pidTicks))];
    const cpu = ticks1.map(
      (t, i) => (100 * (t - (ticks0[i] as number))) / clockTicks / (idleMs / 1000),
    );
    const perNode = cpu.map((c) => `${c.toFixed(1)}%`).join(' ');
    return `idle CPU per node ${perNode} · commit index ${before} → ${after} in ${idleMs} ms`;
  } finally {
    await stop(nodes, dir);
  }
}

const pidTicks = (node: Node): Promise<number> => cpuTicks(node.child.pid as number);

async function failoverRound(root: string): Promise<string> {
  const { nodes, dir } = await startCluster(root);
  try {
    const first = nodes[0] as Node;
    const topic = { name: 'f', partitions: 3, replicationFactor: 3 };
    const configs = { 'min.insync.replicas': '2' };
    await poll('topic', 30_000, async () =>
      (await call(first, 'POST', '/v1/topics', { ...topic, configs })).status === 201
        ? 1
        : undefined,
    );
    const controller = (await call(first, 'GET', '/v1/raft')).body.leaderId as number;
    const led = await poll('leaders and full ISRs', 30_000, async () => {
      const { body } = await call(first, 'GET', '/v1/topics/f');
      const parts = body.partitions as { partition: number; leader: number; isr: number[] }[];
      if (!parts.every((p) => p.leader !== null && p.isr.length === 3)) return undefined;
      return parts.find((p) => p.leader !== controller);
    });
    const path = `/v1/topics/f/partitions/${led.partition}/records?acks=all&timeoutMs=5000`;
    const victim = nodes[led.leader - 1] as Node;
    await poll('a first write', 30_000, async () =>
      (await call(victim, 'POST', path, { records: [{ value: 'w' }] })).status === 200
        ? 1
        : undefined,
    );
    const killedAt = performance.now();
    victim.child.kill('SIGKILL');
    const survivor = nodes[controller - 1] as Node;
    const ms = await poll('a write after failover', 15_000, async () => {
      const { body } = await call(survivor, 'GET', '/v1/topics/f');
      const leader = body.partitions[led.partition].leader as number | null;
      if (leader === null || leader === victim.id) return undefined;
      const answer = await call(nodes[leader - 1] as Node, 'POST', path, {
        records: [{ value: 'x' }],
      });
      return answer.status === 200 ? performance.now() - killedAt : undefined;
    });
    return `kill -9 of a partition leader → first acks=all write ${Math.round(ms)} ms`;
  } finally {
    await stop(nodes, dir);
  }
}

async function stop(nodes: Node[], dir: string): Promise<void> {
  for (const node of nodes) {
    node.child.kill('SIGKILL');
    await node.client.destroy().catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
}

for (let round = 1; round <= rounds; round += 1) {
  for (const root of roots) {
    const load = loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
    console.log(`round ${round} ${root} (load ${load}): ${await idleRound(root)}`);
    console.log(`round ${round} ${root} (load ${load}): ${await failoverRound(root)}`);
  }
}
