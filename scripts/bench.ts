// `npm run bench [-- --profile --records N --repeat R]`: the single-node benchmark of issue 2.
// It starts its own broker (temporary directory, free port) and measures, in one run: produce
// throughput of 1 KiB records with the project's client for each log.flush policy,
// acknowledgement latency at a fixed rate, catch-up consume throughput, and the baselines — a
// bare node:http2 pair (the transport's ceiling, upload and download) and sequential file
// appends with each flush policy. Each figure is the median of --repeat rounds (3), Rill and
// its baselines measured close together; the log's own benchmark (scripts/bench-log.ts) runs
// last. Then (unless --skip-cluster) three nodes with RF=3, min.insync.replicas=2: produce
// MiB/s with acks=all and acks=1, latency at the fixed rate, and failover time (kill -9 of a
// leader → first acks=all acknowledgement), with their ratios to the single node.
// Prints a line per step, then one JSON line with every figure and ratio. --profile runs
// the broker under `node --cpu-prof` and prints its top-10 self-time functions.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { connect, constants as h2constants } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { H2Transport, RillClient } from '../src/api/client/index.ts';
import { benchConsume, benchLatency, benchProduce, round } from '../src/cli/client-bench.ts';
import { benchLog } from './bench-log.ts';
import { spawnBroker } from './spawn-broker.ts';
import { spawnCluster, type ClusterProcesses } from './spawn-cluster.ts';

const { values: args } = parseArgs({
  options: {
    profile: { type: 'boolean', default: false },
    records: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '5000' },
    'skip-cluster': { type: 'boolean', default: false },
    repeat: { type: 'string', default: '3' },
  },
});
const recordBytes = 1024;
const records = Number(args.records);
const ratePerSecond = Number(args.rate);
const repeat = Number(args.repeat);
const windowBytes = { stream: 16 * 1024 * 1024, connection: 64 * 1024 * 1024 };
const policies = ['always', 'interval:1000', 'never'] as const;
type Policy = (typeof policies)[number];

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

interface Measured {
  readonly mibPerSecond: number;
}

/** The median run and the spread: this machine is shared and noisy. */
function summarize<T extends Measured>(runs: readonly T[]) {
  const sorted = [...runs].sort((a, b) => a.mibPerSecond - b.mibPerSecond);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] as T;
  return {
    ...median,
    minMibPerSecond: sorted[0]?.mibPerSecond ?? 0,
    maxMibPerSecond: sorted.at(-1)?.mibPerSecond ?? 0,
    runs: runs.length,
  };
}

async function main(): Promise<void> {
  const profileDir = args.profile ? await mkdtemp(join(tmpdir(), 'rill-profile-')) : null;
  const nodeArgs = profileDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const broker = await spawnBroker({ nodeArgs });
  log(`broker ${broker.url} (data ${broker.dataDir})${profileDir === null ? '' : ', profiling'}`);
  const client = new RillClient({ bootstrapUrls: [broker.url] });
  const results: Record<string, unknown> = { recordBytes, records, repeat };
  const runs: Record<string, Measured[]> = {};
  const record = (name: string, run: Measured): void => {
    (runs[name] ??= []).push(run);
    log(`${name}: ${JSON.stringify(run)}`);
  };
  try {
    await createTopics(client);
    for (let r = 0; r < repeat; r += 1) {
      // Each round measures Rill and its baselines close together in time.
      for (const policy of policies) {
        record(
          `produce ${policy}`,
          await benchProduce(client, { ...produceRun, topic: topicFor(policy) }),
        );
      }
      record('consume', await benchConsume(client, { topic: 'bench-consume', records }));
      record('http2 upload', await http2Ceiling('upload'));
      record('http2 download', await http2Ceiling('download'));
      for (const policy of policies) {
        record(`file append ${policy}`, await fileAppendBaseline(policy, records * recordBytes));
      }
    }
    results['latency'] = await measureLatency(client);
  } catch (error) {
    log(`bench failed; the broker's last output:\n${broker.output().slice(-4_000)}`);
    throw error;
  } finally {
    await client.close();
    await broker.stop();
  }
  // The log alone (no network), each policy beside raw appends of the same bytes.
  results['log'] = (await benchLog({ runMs: 1_000 })).figures;
  log(`log: ${JSON.stringify(results['log'])}`);
  const pick = (name: string) => summarize(runs[name] ?? []);
  results['produce'] = Object.fromEntries(policies.map((p) => [p, pick(`produce ${p}`)]));
  results['produceConfig'] = { ...produceRun.producer, partitions: 4, compression: 'none' };
  results['consume'] = pick('consume');
  results['http2Upload'] = pick('http2 upload');
  results['http2Download'] = pick('http2 download');
  results['fileAppend'] = Object.fromEntries(policies.map((p) => [p, pick(`file append ${p}`)]));
  if (!args['skip-cluster']) results['cluster'] = await runClusterBenches();
  results['ratios'] = ratios(results);
  if (profileDir !== null) {
    results['profileTop10'] = await summarizeProfile(profileDir);
    await rm(profileDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(results));
}

const produceRun = {
  records,
  recordBytes,
  producer: { acks: 'all' as const, batchSizeBytes: 256 * 1024, lingerMs: 5 },
};

async function createTopics(client: RillClient): Promise<void> {
  const admin = client.admin();
  for (const policy of policies) {
    const configs = { 'log.flush': policy };
    await admin.createTopic({
      name: topicFor(policy),
      partitions: 4,
      replicationFactor: 1,
      configs,
    });
  }
  await admin.createTopic({ name: 'bench-warmup', partitions: 4, replicationFactor: 1 });
  await admin.createTopic({ name: 'bench-latency', partitions: 1, replicationFactor: 1 });
  // Consume reads a topic of exactly `records` records: each round reads all of it.
  await admin.createTopic({ name: 'bench-consume', partitions: 4, replicationFactor: 1 });
  await benchProduce(client, { ...produceRun, topic: 'bench-consume' });
  // Warm up the JIT on both sides and the disk: the first second of a run is not its speed.
  await benchProduce(client, { ...produceRun, topic: 'bench-warmup', records: 20_000 });
  await benchConsume(client, { topic: 'bench-warmup', records: 20_000 });
}

async function measureLatency(client: RillClient) {
  const producer = { acks: 'all' as const, lingerMs: 0 };
  const latency = await benchLatency(client, {
    topic: 'bench-latency',
    ratePerSecond,
    seconds: 5,
    recordBytes,
    producer,
  });
  const result = { ...latency, flush: 'always', ...producer };
  log(`latency: ${JSON.stringify(result)}`);
  return result;
}

/**
 * Three nodes, RF=3, min.insync.replicas=2, log.flush=always (as the single-node 'always' run):
 * throughput and acknowledgement latency with acks=all and acks=1, then failover time.
 */
async function runClusterBenches(): Promise<Record<string, unknown>> {
  const cluster = await spawnCluster({ size: 3, extraArgs: ['--session-timeout-ms', '1500'] });
  log(`cluster ${[...cluster.urls.values()].join(' ')} (data ${cluster.dataDir})`);
  const client = new RillClient({ bootstrapUrls: [...cluster.urls.values()] });
  const out: Record<string, unknown> = { nodes: 3, replicationFactor: 3, minInsyncReplicas: 2 };
  try {
    const admin = client.admin();
    const configs = { 'min.insync.replicas': '2', 'log.flush': 'always' };
    for (const name of ['bench-rf3-warmup', 'bench-rf3-all', 'bench-rf3-one']) {
      await admin.createTopic({ name, partitions: 4, replicationFactor: 3, configs });
    }
    for (const name of ['bench-rf3-latency-all', 'bench-rf3-latency-one']) {
      await admin.createTopic({ name, partitions: 1, replicationFactor: 3, configs });
    }
    const batching = { batchSizeBytes: 256 * 1024, lingerMs: 5 };
    await benchProduce(client, {
      topic: 'bench-rf3-warmup',
      records: 20_000,
      recordBytes,
      producer: { acks: 'all', ...batching },
    });
    for (const [key, topic, acks] of [
      ['produceAcksAll', 'bench-rf3-all', 'all'],
      ['produceAcks1', 'bench-rf3-one', 1],
    ] as const) {
      out[key] = await benchProduce(client, {
        topic,
        records,
        recordBytes,
        producer: { acks, ...batching },
        progress: log,
      });
      log(`RF=3 produce acks=${acks}: ${JSON.stringify(out[key])}`);
    }
    for (const [key, topic, acks] of [
      ['latencyAcksAll', 'bench-rf3-latency-all', 'all'],
      ['latencyAcks1', 'bench-rf3-latency-one', 1],
    ] as const) {
      out[key] = await benchLatency(client, {
        topic,
        ratePerSecond,
        seconds: 5,
        recordBytes,
        producer: { acks, ...latencyBatching },
      });
      log(`RF=3 latency acks=${acks}: ${JSON.stringify(out[key])}`);
    }
    out['latencyProducer'] = latencyBatching;
    out['failoverMs'] = await measureFailover(cluster, client);
    log(`RF=3 failover (kill -9 leader → first acks=all write): ${String(out['failoverMs'])} ms`);
  } finally {
    await client.close();
    await cluster.stop();
  }
  return out;
}

/**
 * One request per partition is in flight (the producer keeps order), so a replicated request
 * that takes a few ms must carry what arrived meanwhile: the default 16 KiB batch would cap a
 * partition near 16 records per round trip, below the fixed rate.
 */
const latencyBatching = { lingerMs: 0, batchSizeBytes: 256 * 1024 };

/** kill -9 of a partition leader → the first acks=all write the cluster acknowledges. */
async function measureFailover(cluster: ClusterProcesses, client: RillClient): Promise<number> {
  const topic = 'bench-failover';
  const admin = client.admin();
  const configs = { 'min.insync.replicas': '2' };
  await admin.createTopic({ name: topic, partitions: 1, replicationFactor: 3, configs });
  const http = new H2Transport();
  const write = async (url: string): Promise<boolean> => {
    const response = await http.request(url, {
      method: 'POST',
      path: `/v1/topics/${topic}/partitions/0/records?acks=all&timeoutMs=1000`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records: [{ value: 'failover' }] }),
      responseBytesMax: 1024 * 1024,
      timeoutMs: 2_000,
    });
    return response.status === 200;
  };
  const leaderOf = async (asker: string): Promise<number | null> => {
    const response = await http.request(asker, {
      method: 'GET',
      path: `/v1/topics/${topic}`,
      responseBytesMax: 1024 * 1024,
      timeoutMs: 2_000,
    });
    if (response.status !== 200) return null;
    const body = JSON.parse(response.body.toString()) as {
      partitions: { leader: number | null }[];
    };
    return body.partitions[0]?.leader ?? null;
  };
  try {
    const anyUrl = [...cluster.urls.values()][0] as string;
    let leader: number | null = null;
    for (const deadline = performance.now() + 20_000; performance.now() < deadline;) {
      leader = await leaderOf(anyUrl);
      if (leader !== null && (await write(cluster.urls.get(leader) as string).catch(() => false)))
        break;
      leader = null;
    }
    if (leader === null) throw new Error('no writable leader before the failover');
    const killedAt = performance.now();
    await cluster.kill(leader);
    const survivors = [...cluster.urls].filter(([id]) => cluster.isRunning(id));
    while (performance.now() - killedAt < 30_000) {
      for (const [, asker] of survivors) {
        const now = await leaderOf(asker).catch(() => null);
        const url = now === null || now === leader ? null : (cluster.urls.get(now) ?? null);
        if (url !== null && (await write(url).catch(() => false))) {
          return Math.round(performance.now() - killedAt);
        }
      }
      await new Promise((done) => setTimeout(done, 20));
    }
    throw new Error('no acks=all write within 30 s of the leader kill');
  } finally {
    await http.close();
  }
}

function topicFor(policy: Policy): string {
  return `bench-flush-${policy.replace(':', '-')}`;
}

function ratios(results: Record<string, unknown>): Record<string, number> {
  const mib = (path: string[]): number => {
    let value: unknown = results;
    for (const key of path) value = (value as Record<string, unknown>)[key];
    return (value as { mibPerSecond: number }).mibPerSecond;
  };
  const upload = mib(['http2Upload']);
  const out: Record<string, number> = {
    produceOverHttp2: round(mib(['produce', 'always']) / upload, 3),
    consumeOverHttp2: round(mib(['consume']) / upload, 3),
    consumeOverHttp2Download: round(mib(['consume']) / mib(['http2Download']), 3),
  };
  const cluster = results['cluster'] as Record<string, { mibPerSecond: number }> | undefined;
  if (cluster !== undefined) {
    const single = mib(['produce', 'always']);
    out['rf3AcksAllOverSingleNode'] = round(
      (cluster['produceAcksAll']?.mibPerSecond ?? 0) / single,
      3,
    );
    out['rf3Acks1OverSingleNode'] = round((cluster['produceAcks1']?.mibPerSecond ?? 0) / single, 3);
  }
  for (const policy of policies) {
    out[`produce_${policy}_overFileAppend`] = round(
      mib(['produce', policy]) / mib(['fileAppend', policy]),
      3,
    );
  }
  return out;
}

/** The bare transport: 16 streams of 64 KiB bodies over one h2c connection, large windows. */
async function http2Ceiling(direction: 'upload' | 'download', seconds = 2) {
  const server = spawn(process.execPath, ['-e', h2ServerSource], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    return await http2Transfer(server, direction, seconds);
  } finally {
    server.kill('SIGTERM');
  }
}

async function http2Transfer(
  server: ChildProcessByStdio<null, Readable, null>,
  direction: 'upload' | 'download',
  seconds: number,
) {
  const port = await new Promise<number>((ok) =>
    server.stdout.once('data', (d: Buffer) => ok(Number(d.toString().trim()))),
  );
  const session = connect(`http://127.0.0.1:${port}`, {
    settings: { initialWindowSize: windowBytes.stream },
  });
  await new Promise<void>((ok, fail) => {
    session.once('connect', () => ok());
    session.once('error', fail);
  });
  session.setLocalWindowSize(windowBytes.connection);
  const body = Buffer.alloc(64 * 1024, 7);
  let bytes = 0;
  const endMs = performance.now() + seconds * 1000;
  const startMs = performance.now();
  const stream = async (): Promise<void> => {
    while (performance.now() < endMs) {
      await new Promise<void>((ok, fail) => {
        const request = session.request({
          [h2constants.HTTP2_HEADER_METHOD]: direction === 'upload' ? 'POST' : 'GET',
          [h2constants.HTTP2_HEADER_PATH]: '/',
        });
        request.on('data', (chunk: Buffer) => {
          if (direction === 'download') bytes += chunk.length;
        });
        request.on('end', () => {
          if (direction === 'upload') bytes += body.length;
          ok();
        });
        request.on('error', fail);
        request.end(direction === 'upload' ? body : undefined);
      });
    }
  };
  await Promise.all(Array.from({ length: 16 }, () => stream()));
  const elapsed = (performance.now() - startMs) / 1000;
  session.close();
  return {
    mibPerSecond: round(bytes / 1024 / 1024 / elapsed, 1),
    requestBytes: body.length,
    streams: 16,
  };
}

const h2ServerSource = `
const http2 = require('node:http2');
const payload = Buffer.alloc(64 * 1024, 7);
const server = http2.createServer({ settings: { initialWindowSize: ${windowBytes.stream} } });
server.on('session', (session) => session.setLocalWindowSize(${windowBytes.connection}));
server.on('stream', (stream, headers) => {
  if (headers[':method'] === 'POST') {
    stream.on('data', () => {});
    stream.on('end', () => { stream.respond({ ':status': 200 }); stream.end(); });
  } else {
    stream.respond({ ':status': 200 });
    stream.end(payload);
  }
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

/** Sequential 256 KiB appends to one file, synced per the policy: the disk's side of produce. */
async function fileAppendBaseline(policy: Policy, totalBytes: number) {
  const dir = await mkdtemp(join(tmpdir(), 'rill-append-'));
  const file = await open(join(dir, 'segment.log'), 'a');
  const chunk = Buffer.alloc(256 * 1024, 3);
  const startMs = performance.now();
  let lastSyncMs = startMs;
  let syncs = 0;
  try {
    for (let written = 0; written < totalBytes; written += chunk.length) {
      await file.write(chunk);
      const nowMs = performance.now();
      if (policy === 'always' || (policy === 'interval:1000' && nowMs - lastSyncMs >= 1000)) {
        await file.datasync();
        lastSyncMs = nowMs;
        syncs += 1;
      }
    }
  } finally {
    await file.close();
    await rm(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - startMs) / 1000;
  return {
    mibPerSecond: round(totalBytes / 1024 / 1024 / seconds, 1),
    writeBytes: chunk.length,
    syncs,
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Top-10 self time of the broker's .cpuprofile: samples × their time deltas, per function. */
async function summarizeProfile(dir: string) {
  const name = (await readdir(dir)).find((file) => file.endsWith('.cpuprofile'));
  if (name === undefined) return [];
  const profile = JSON.parse(await readFile(join(dir, name), 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const delta = profile.timeDeltas[i] ?? 0;
    if (frame === undefined) return;
    if (frame.functionName === '(idle)') {
      idleUs += delta;
      return;
    }
    const file = frame.url.replace(/^.*\/(src|node_modules)\//, '$1/');
    const where = file === '' ? '' : ` ${file}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
    busyUs += delta;
  });
  const top = [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, 10);
  const percent = (us: number): number => round((100 * us) / busyUs, 1);
  log(
    `broker CPU profile: ${round(busyUs / 1e6, 1)} s busy, ${round(idleUs / 1e6, 1)} s idle; ` +
      'top 10 self time (% of busy):',
  );
  for (const [fn, us] of top) {
    log(
      `  ${String(percent(us)).padStart(5)}%  ${String(round(us / 1000, 0)).padStart(6)} ms  ${fn}`,
    );
  }
  return {
    busyMs: round(busyUs / 1000, 0),
    idleMs: round(idleUs / 1000, 0),
    top: top.map(([fn, us]) => ({
      function: fn,
      selfMs: round(us / 1000, 0),
      percent: percent(us),
    })),
  };
}

await main();
