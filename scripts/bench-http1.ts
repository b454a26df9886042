// Does the first-bytes protocol sniff (src/api/server/http1.ts) cost h2c throughput? Runs a
// broker of this checkout and one of a baseline checkout (--base DIR, e.g. the commit before
// the sniff, with node_modules linked), and measures on each, in interleaved rounds, binary
// produce (1 MiB batches, the socket's read side) and binary fetch (the write side) over one
// h2c session. Prints MB/s per round, min/median/max, the ratio to the baseline and the load.
// Usage: npx tsx scripts/bench-http1.ts --base /tmp/rill-base [--rounds 3] [--mib 128]
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type ClientHttp2Session } from 'node:http2';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeBatch } from '../src/log/index.ts';
import { awaitReadyLine, freePort } from '../test/support/child-process.ts';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    mib: { type: 'string', default: '128' },
  },
});
if (values.base === undefined) throw new Error('--base DIR (a baseline checkout) is required');
const rounds = Number(values.rounds);
const mib = Number(values.mib);

interface Node {
  readonly name: string;
  readonly child: ChildProcess;
  readonly session: ClientHttp2Session;
  readonly dataDir: string;
  produced: number;
}

async function startNode(name: string, checkout: string): Promise<Node> {
  const dataDir = await mkdtemp(join(tmpdir(), `bench-http1-${name}-`));
  const port = await freePort();
  const args = [join(checkout, 'bin/rill.js'), 'broker', '--node-id', '1'];
  args.push('--listen', `127.0.0.1:${port}`, '--data-dir', dataDir);
  args.push('--log-file', join(dataDir, 'node.log'));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await awaitReadyLine(child, name, (line) => line === 'ready', { timeoutMs: 30_000, output: [] });
  const session = connect(`http://127.0.0.1:${port}`);
  await once(session, 'connect');
  session.setLocalWindowSize(64 * 1024 * 1024);
  const node: Node = { name, child, session, dataDir, produced: 0 };
  const topic = { name: 'bench', partitions: 1, replicationFactor: 1 };
  const created = await exchange(node, 'POST', '/v1/topics', 'application/json', topic);
  if (created.status !== 201) throw new Error(`${name}: create topic ${created.status}`);
  return node;
}

async function exchange(
  node: Node,
  method: string,
  path: string,
  contentType: string,
  body: unknown,
  accept = 'application/json',
): Promise<{ status: number; bytes: number; next: number }> {
  const headers = { ':method': method, ':path': path, accept, 'content-type': contentType };
  const stream = node.session.request(headers);
  stream.end(Buffer.isBuffer(body) ? body : body === null ? undefined : JSON.stringify(body));
  const [response] = (await once(stream, 'response')) as [Record<string, string>];
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  const next = Number(response['rill-next-offset'] ?? -1);
  return { status: Number(response[':status']), bytes, next };
}

async function produceMiB(node: Node, batch: Buffer): Promise<number> {
  const path = '/v1/topics/bench/partitions/0/records';
  const startedAt = performance.now();
  for (let i = 0; i < mib; i += 1) {
    const answer = await exchange(node, 'POST', path, 'application/vnd.rill.batch', batch);
    if (answer.status !== 200) throw new Error(`${node.name}: produce ${answer.status}`);
  }
  node.produced += mib;
  return (mib * batch.length) / (1024 * 1024) / ((performance.now() - startedAt) / 1000);
}

async function fetchMiB(node: Node, batchBytes: number): Promise<number> {
  const startedAt = performance.now();
  let bytes = 0;
  let offset = 0;
  while (bytes < mib * batchBytes) {
    const path = `/v1/topics/bench/partitions/0/records?offset=${offset}&maxBytes=8388608`;
    const answer = await exchange(node, 'GET', path, 'application/json', null, batchType);
    if (answer.status !== 200 || answer.bytes === 0) throw new Error(`${node.name}: fetch`);
    bytes += answer.bytes;
    offset = answer.next;
  }
  return bytes / (1024 * 1024) / ((performance.now() - startedAt) / 1000);
}

const batchType = 'application/vnd.rill.batch';

function summary(samples: readonly number[]): { min: number; median: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, max: sorted.at(-1)! };
}

const batch = await encodeBatch({
  baseOffset: 0,
  partitionLeaderEpoch: -1,
  compression: 'none',
  records: Array.from({ length: 1024 }, () => ({
    key: null,
    value: Buffer.alloc(1000, 120),
    headers: [],
    timestampMs: Date.now(),
  })),
});
const nodes: Node[] = [];
// A failed run still stops its brokers.
process.once('exit', () => {
  for (const node of nodes) node.child.kill('SIGKILL');
});
nodes.push(await startNode('sniff', resolve(import.meta.dirname, '..')));
nodes.push(await startNode('base', resolve(values.base)));
const results = new Map<string, { produce: number[]; fetch: number[] }>();
for (const node of nodes) results.set(node.name, { produce: [], fetch: [] });
console.log(
  `load average before: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (let round = 0; round < rounds; round += 1) {
  // Interleaved, alternating which side goes first.
  for (const node of round % 2 === 0 ? nodes : [...nodes].reverse()) {
    const produce = await produceMiB(node, batch);
    const fetch = await fetchMiB(node, batch.length);
    results.get(node.name)!.produce.push(produce);
    results.get(node.name)!.fetch.push(fetch);
    console.log(
      `round ${round} ${node.name}: produce ${produce.toFixed(0)} MiB/s, fetch ${fetch.toFixed(0)} MiB/s`,
    );
  }
}
for (const kind of ['produce', 'fetch'] as const) {
  const sniff = summary(results.get('sniff')![kind]);
  const base = summary(results.get('base')![kind]);
  const show = (s: typeof sniff) =>
    `${s.min.toFixed(0)}/${s.median.toFixed(0)}/${s.max.toFixed(0)}`;
  console.log(
    `${kind} MiB/s min/median/max: sniff ${show(sniff)}, base ${show(base)}, ` +
      `median ratio sniff/base ${(sniff.median / base.median).toFixed(3)}`,
  );
}
console.log(
  `load average after: ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
for (const node of nodes) {
  node.session.close();
  node.child.kill('SIGTERM');
  await once(node.child, 'exit');
  await rm(node.dataDir, { recursive: true, force: true });
}
