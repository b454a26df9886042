// `npx tsx scripts/bench-replication.ts [--rounds 3] [--idle-partitions 1000]`: the replication
// figures of issue 7 on three real broker processes (RF=3, min.insync.replicas=2,
// log.flush=always). Per round, interleaved: acks=all latency at a fixed 5,000 records/s on an
// RF=3 topic and on an RF=1 topic of the same cluster (the single-node baseline), then acks=all
// throughput on RF=3 and RF=1 topics; min/median/max over the rounds and the RF=3/RF=1 ratios.
// Last, CPU per node (from /proc) over 10 s of the idle cluster, then again with
// `--idle-partitions` RF=3 partitions idle; how long after their creation every ISR was full,
// and how many were short after the idle window.
import { readdir, readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { RillClient } from '../src/api/client/index.ts';
import { benchLatency, benchProduce } from '../src/cli/client-bench.ts';
import { spawnCluster } from './spawn-cluster.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '5000' },
    records: { type: 'string', default: '60000' },
    'idle-partitions': { type: 'string', default: '1000' },
    'idle-seconds': { type: 'string', default: '10' },
  },
});
const rounds = Number(args.rounds);
const recordBytes = 1024;
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function spread(values: readonly number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
  return { min: sorted[0] ?? 0, median, max: sorted.at(-1) ?? 0 };
}

async function main(): Promise<void> {
  const cluster = await spawnCluster({ size: 3 });
  const client = new RillClient({ bootstrapUrls: [...cluster.urls.values()] });
  const out: Record<string, unknown> = { loadavgStart: loadavg() };
  try {
    const admin = client.admin();
    for (const rf of [1, 3]) {
      const configs = { 'min.insync.replicas': String(Math.min(rf, 2)), 'log.flush': 'always' };
      await admin.createTopic({
        name: `lat-rf${rf}`,
        partitions: 1,
        replicationFactor: rf,
        configs,
      });
      await admin.createTopic({
        name: `tput-rf${rf}`,
        partitions: 4,
        replicationFactor: rf,
        configs,
      });
    }
    const batching = { batchSizeBytes: 256 * 1024, lingerMs: 5 };
    const latencyProducer = { acks: 'all' as const, lingerMs: 0, batchSizeBytes: 256 * 1024 };
    const records = Number(args.records);
    await benchProduce(client, {
      topic: 'tput-rf3',
      records: 10_000,
      recordBytes,
      producer: { acks: 'all', ...batching },
    });
    const figures: Record<string, number[]> = {};
    const add = (name: string, value: number): void => {
      (figures[name] ??= []).push(value);
    };
    for (let r = 0; r < rounds; r += 1) {
      for (const rf of [3, 1]) {
        const latency = await benchLatency(client, {
          topic: `lat-rf${rf}`,
          ratePerSecond: Number(args.rate),
          seconds: 5,
          recordBytes,
          producer: latencyProducer,
        });
        log(`round ${r} RF=${rf} latency: ${JSON.stringify(latency)} load ${loadavg()[0]}`);
        add(`rf${rf}P50Ms`, latency.p50Ms);
        add(`rf${rf}P99Ms`, latency.p99Ms);
      }
      for (const rf of [3, 1]) {
        const produced = await benchProduce(client, {
          topic: `tput-rf${rf}`,
          records,
          recordBytes,
          producer: { acks: 'all', ...batching },
        });
        log(`round ${r} RF=${rf} produce: ${JSON.stringify(produced)} load ${loadavg()[0]}`);
        add(`rf${rf}RecordsPerSecond`, produced.recordsPerSecond);
      }
      const ratio =
        (figures['rf3RecordsPerSecond']?.at(-1) ?? 0) /
        (figures['rf1RecordsPerSecond']?.at(-1) ?? 1);
      add('rf3OverRf1Throughput', Math.round(ratio * 1000) / 1000);
    }
    for (const [name, values] of Object.entries(figures)) out[name] = spread(values);
    out['idle'] = await measureIdle(client, cluster.dataDir);
    out['loadavgEnd'] = loadavg();
  } finally {
    await client.close();
    await cluster.stop();
  }
  console.log(JSON.stringify(out));
}

/** Creates the idle partitions, lets them settle, then CPU % per broker over a window. */
async function measureIdle(client: RillClient, dataDir: string) {
  const partitions = Number(args['idle-partitions']);
  if (partitions === 0) return null;
  const pids = await brokerPids(dataDir);
  const seconds = Number(args['idle-seconds']);
  // The same cluster without the idle partitions: what they add is the difference.
  const before = await cpuPercent(pids, seconds);
  const admin = client.admin();
  const perTopic = 25;
  for (let made = 0; made < partitions; made += perTopic) {
    const configs = { 'min.insync.replicas': '2' };
    const count = Math.min(perTopic, partitions - made);
    const name = `idle-${made}`;
    // A loaded machine may take longer than the client's timeout: retry until it exists.
    for (let attempt = 0; ; attempt += 1) {
      try {
        await admin.createTopic({ name, partitions: count, replicationFactor: 3, configs });
        break;
      } catch (error) {
        if ((error as { code?: unknown }).code === 'TOPIC_ALREADY_EXISTS') break;
        if (attempt >= 20) throw error;
        log(`create ${name} failed (${String(error)}); retrying`);
        // An overloaded machine may lose the Raft leader for a while: give it time to elect.
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }
  const names = Array.from({ length: Math.ceil(partitions / perTopic) }, (_, i) => {
    return `idle-${i * perTopic}`;
  });
  // Every follower must join and stay in the ISR with no further metadata (issue 7).
  const createdMs = performance.now();
  let short = await shortIsrs(client, names);
  while (short > 0 && performance.now() - createdMs < 60_000) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    short = await shortIsrs(client, names);
  }
  const isrFullAfterMs = short === 0 ? Math.round(performance.now() - createdMs) : null;
  log(
    `ISR full ${isrFullAfterMs === null ? `not within 60 s (${short} short)` : `after ${isrFullAfterMs} ms`}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 15_000));
  const after = await cpuPercent(pids, seconds);
  const shortAfterIdle = await shortIsrs(client, names);
  log(`idle CPU % per node: without them ${before.percent.join(' ')} (load ${before.load}),`);
  log(`  with ${partitions} RF=3 partitions ${after.percent.join(' ')} (load ${after.load})`);
  log(`  partitions with a short ISR after the idle window: ${shortAfterIdle}`);
  return {
    partitions,
    isrFullAfterMs,
    shortIsrAfterIdle: shortAfterIdle,
    seconds,
    withoutCpuPercentPerNode: before.percent,
    withoutLoadavg: before.load,
    cpuPercentPerNode: after.percent,
    loadavg: after.load,
  };
}

/** Partitions of `topics` whose ISR lacks one of their replicas. */
async function shortIsrs(client: RillClient, topics: readonly string[]): Promise<number> {
  let short = 0;
  for (const name of topics) {
    const topic = await client.admin().describeTopic(name);
    for (const p of topic.partitions) if (p.isr.length < p.replicas.length) short += 1;
  }
  return short;
}

/** CPU time of each process over `seconds`, as % of one core, and the load average then. */
async function cpuPercent(pids: readonly number[], seconds: number) {
  const start = await Promise.all(pids.map(cpuTicks));
  const load = loadavg()[0] ?? 0;
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const end = await Promise.all(pids.map(cpuTicks));
  const ticksPerSecond = 100;
  const percent = end.map((ticks, i) => {
    const used = (ticks - (start[i] ?? 0)) / ticksPerSecond;
    return Math.round((used / seconds) * 1000) / 10;
  });
  return { percent, load };
}

async function brokerPids(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('broker') && cmdline.includes(dataDir)) pids.push(Number(entry));
  }
  return pids;
}

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

await main();
