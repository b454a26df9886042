// `npx tsx scripts/bench-idempotent.ts [--records N --repeat R --rate 5000 --latency-seconds S]`
// (issue 9): the producer with idempotence on (the default: stamped batches, five in flight per
// partition) beside off (one request per partition in flight) in the same run, interleaved
// (each throughput round runs A B B A, the order alternating between rounds), on a single
// broker and a three-node cluster (RF=3, acks=all, min.insync.replicas=2, log.flush=always):
// produce throughput, with the client's and the brokers' CPU time per record and the produce
// requests per 1,000 records (CPU is what a loaded machine distorts least), and acks=all
// latency at a fixed rate (issue 7's 5k records/s). Prints min/median/max per figure, the
// per-round ratio on/off, the load average at start and end, then one JSON line.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { RillClient, type ProducerConfig } from '../src/api/client/index.ts';
import { benchLatency, benchProduce } from '../src/cli/client-bench.ts';
import { latencyProducer, rf3Configs, throughputBatching } from './bench/cluster.ts';
import { cpuSecondsOf, loadAverage, ratiosOf, spreadOf, formatSpread } from './bench/stats.ts';
import { spawnBroker } from './spawn-broker.ts';
import { spawnCluster } from './spawn-cluster.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '50000' },
    repeat: { type: 'string', default: '3' },
    rate: { type: 'string', default: '5000' },
    'latency-seconds': { type: 'string', default: '5' },
    // Each throughput run in its own client process (after a warm-up of its mode there), as
    // an application runs one mode: in one process, alternating modes made the JIT's
    // shared client paths polymorphic and charged it to whichever mode ran.
    'process-per-run': { type: 'boolean', default: false },
    // Internal: the child of --process-per-run (JSON: {mode, topic, series, nodes}).
    child: { type: 'string' },
  },
});
const records = Number(args.records);
const repeat = Math.max(1, Number(args.repeat));
const recordBytes = 1024;
const latencyLoad = {
  ratePerSecond: Number(args.rate),
  seconds: Number(args['latency-seconds']),
  recordBytes,
};
const execFileAsync = promisify(execFile);
const modes = { on: { idempotent: true }, off: { idempotent: false } } as const;
type Mode = keyof typeof modes;

const figures = new Map<string, number[]>();
function add(name: string, value: number): void {
  const values = figures.get(name) ?? [];
  values.push(value);
  figures.set(name, values);
}

/** The brokers a series runs on: their pids (CPU time) and URLs (request counts). */
interface Nodes {
  readonly pids: readonly number[];
  readonly urls: readonly string[];
}

async function cpuSecondsOfAll(pids: readonly number[]): Promise<number> {
  const each = await Promise.all(pids.map((pid) => cpuSecondsOf(pid)));
  return each.reduce((sum, seconds) => sum + seconds, 0);
}

/** Produce requests the nodes answered so far (their rill_produce_duration_seconds count). */
async function produceRequestsOf(urls: readonly string[]): Promise<number> {
  let total = 0;
  for (const url of urls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line.startsWith('rill_produce_duration_seconds_count')) {
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
  }
  return total;
}

interface ThroughputRun {
  recordsPerSecond: number;
  clientCpuUsPerRecord: number;
  brokerCpuUsPerRecord: number;
  requestsPer1000Records: number;
}

async function throughputRun(
  client: RillClient,
  nodes: Nodes,
  topic: string,
  series: string,
  mode: Mode,
): Promise<ThroughputRun> {
  const producer: Partial<ProducerConfig> = { acks: 'all', ...throughputBatching, ...modes[mode] };
  const brokerCpuBefore = await cpuSecondsOfAll(nodes.pids);
  const requestsBefore = await produceRequestsOf(nodes.urls);
  const clientCpu = process.cpuUsage();
  const result = await benchProduce(client, { topic, records, recordBytes, producer });
  const clientCpuUs = process.cpuUsage(clientCpu);
  const brokerCpuSeconds = (await cpuSecondsOfAll(nodes.pids)) - brokerCpuBefore;
  const requests = (await produceRequestsOf(nodes.urls)) - requestsBefore;
  const run = {
    recordsPerSecond: result.recordsPerSecond,
    clientCpuUsPerRecord: (clientCpuUs.user + clientCpuUs.system) / records,
    brokerCpuUsPerRecord: (brokerCpuSeconds * 1e6) / records,
    requestsPer1000Records: (requests * 1000) / records,
  };
  console.log(
    `  ${series} ${mode}: ${Math.round(run.recordsPerSecond)} records/s, client ` +
      `${run.clientCpuUsPerRecord.toFixed(2)} µs/record, brokers ` +
      `${run.brokerCpuUsPerRecord.toFixed(2)} µs/record, ${requests} requests`,
  );
  return run;
}

/** throughputRun in a child process of this script (--process-per-run). */
async function childRun(nodes: Nodes, topic: string, series: string, mode: Mode) {
  const script = fileURLToPath(import.meta.url);
  const child = JSON.stringify({ mode, topic, series, nodes });
  const argv = ['--import', 'tsx', script, '--records', String(records), '--child', child];
  const { stdout } = await execFileAsync(process.execPath, argv, { maxBuffer: 1 << 20 });
  const lines = stdout.trim().split('\n');
  console.log(lines.slice(0, -1).join('\n'));
  return JSON.parse(lines.at(-1) ?? '{}') as ThroughputRun;
}

/** The child of --process-per-run: one warm-up and one measured run of its mode. */
async function runChild(spec: string): Promise<void> {
  const { mode, topic, series, nodes } = JSON.parse(spec) as {
    mode: Mode;
    topic: string;
    series: string;
    nodes: Nodes;
  };
  const client = new RillClient({ bootstrapUrls: [...nodes.urls] });
  try {
    const producer = { ...throughputBatching, ...modes[mode] };
    await benchProduce(client, {
      topic,
      records: Math.min(records, 20_000),
      recordBytes,
      producer,
    });
    await produceRequestsOf(nodes.urls);
    const run = await throughputRun(client, nodes, topic, series, mode);
    console.log(JSON.stringify(run));
  } finally {
    await client.close();
  }
}

/**
 * One round: each mode runs twice in the order `order` (A B B A), and the round's figure per
 * mode is the mean of its two runs. The second of two back-to-back runs was faster whatever its
 * mode (5 of 5 rounds of an A B design at load 0.3), so A B rounds measured the order as much
 * as the mode; A B B A gives each mode both places.
 */
async function throughputRound(
  client: RillClient,
  nodes: Nodes,
  topic: string,
  series: string,
  order: readonly Mode[],
): Promise<void> {
  const runs = new Map<Mode, ThroughputRun[]>();
  for (const mode of [...order, ...[...order].reverse()]) {
    const run = args['process-per-run']
      ? await childRun(nodes, topic, series, mode)
      : await throughputRun(client, nodes, topic, series, mode);
    runs.set(mode, [...(runs.get(mode) ?? []), run]);
  }
  for (const [mode, done] of runs) {
    for (const key of Object.keys(done[0] ?? {}) as (keyof ThroughputRun)[]) {
      add(`${series}.${mode}.${key}`, done.reduce((sum, run) => sum + run[key], 0) / done.length);
    }
  }
}

async function latencyRound(client: RillClient, topic: string, mode: Mode) {
  const producer: Partial<ProducerConfig> = { acks: 'all', ...latencyProducer, ...modes[mode] };
  const result = await benchLatency(client, { ...latencyLoad, topic, recordBytes, producer });
  add(`rf3.latency.${mode}.p50Ms`, result.p50Ms);
  add(`rf3.latency.${mode}.p99Ms`, result.p99Ms);
}

async function main(): Promise<void> {
  const loadAtStart = loadAverage();
  console.log(`load average at start: ${JSON.stringify(loadAtStart)}`);
  const broker = await spawnBroker({ readyTimeoutMs: 120_000 });
  const cluster = await spawnCluster({ size: 3, readyTimeoutMs: 120_000 });
  const single = new RillClient({ bootstrapUrls: [broker.url] });
  const rf3 = new RillClient({ bootstrapUrls: [...cluster.urls.values()] });
  try {
    await single.admin().createTopic({ name: 'idem-single', partitions: 4, replicationFactor: 1 });
    const admin = rf3.admin();
    await admin.createTopic({
      name: 'idem-rf3',
      partitions: 4,
      replicationFactor: 3,
      configs: rf3Configs,
    });
    await admin.createTopic({
      name: 'idem-rf3-latency',
      partitions: 1,
      replicationFactor: 3,
      configs: rf3Configs,
    });
    // Warm-up, not measured: JIT (a first round of either mode ran slower), connections,
    // segments.
    for (const mode of ['on', 'off', 'on', 'off'] as const) {
      const producer = { ...throughputBatching, ...modes[mode] };
      const warmUp = Math.max(10_000, Math.min(records, 50_000));
      await benchProduce(single, { topic: 'idem-single', records: warmUp, recordBytes, producer });
      await benchProduce(rf3, { topic: 'idem-rf3', records: warmUp, recordBytes, producer });
    }
    const singleNodes = { pids: [broker.child.pid ?? -1], urls: [broker.url] };
    const ids = [...cluster.urls.keys()];
    const rf3Nodes = {
      pids: ids.map((id) => cluster.pid(id) ?? -1),
      urls: [...cluster.urls.values()],
    };
    // The first fetch loads Node's bundled HTTP client: not in a measured round's CPU time.
    await produceRequestsOf([...singleNodes.urls, ...rf3Nodes.urls]);
    for (let r = 0; r < repeat; r += 1) {
      const order: Mode[] = r % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
      console.log(`round ${r + 1}/${repeat} (${[...order, ...[...order].reverse()].join(' ')})`);
      await throughputRound(single, singleNodes, 'idem-single', 'single', order);
      await throughputRound(rf3, rf3Nodes, 'idem-rf3', 'rf3.acksAll', order);
      for (const mode of order) await latencyRound(rf3, 'idem-rf3-latency', mode);
    }
  } finally {
    await single.close();
    await rf3.close();
    await broker.stop();
    await cluster.stop();
  }
  const summary: Record<string, unknown> = {};
  for (const [name, values] of figures) {
    summary[name] = spreadOf(values);
    console.log(`${name}: ${formatSpread(spreadOf(values))}`);
  }
  for (const series of ['single', 'rf3.acksAll']) {
    const on = figures.get(`${series}.on.recordsPerSecond`) ?? [];
    const off = figures.get(`${series}.off.recordsPerSecond`) ?? [];
    const ratio = spreadOf(ratiosOf(on, off), 3);
    summary[`${series}.throughputRatioOnOff`] = ratio;
    console.log(`${series} throughput on/off per round: ${formatSpread(ratio)} (target ≥ 0.9)`);
    for (const side of ['client', 'broker']) {
      const name = `${side}CpuUsPerRecord`;
      const cpuOn = figures.get(`${series}.on.${name}`) ?? [];
      const cpuOff = figures.get(`${series}.off.${name}`) ?? [];
      const cpuRatio = spreadOf(ratiosOf(cpuOn, cpuOff), 3);
      summary[`${series}.${side}CpuRatioOnOff`] = cpuRatio;
      console.log(`${series} ${side} CPU per record on/off per round: ${formatSpread(cpuRatio)}`);
    }
  }
  for (const q of ['p50Ms', 'p99Ms']) {
    const on = figures.get(`rf3.latency.on.${q}`) ?? [];
    const off = figures.get(`rf3.latency.off.${q}`) ?? [];
    const ratio = spreadOf(ratiosOf(on, off), 3);
    summary[`rf3.latency.${q}RatioOnOff`] = ratio;
    console.log(
      `rf3 acks=all ${q} at ${latencyLoad.ratePerSecond}/s on/off: ${formatSpread(ratio)}`,
    );
  }
  const loadAtEnd = loadAverage();
  console.log(`load average at end: ${JSON.stringify(loadAtEnd)}`);
  const config = {
    records,
    repeat,
    recordBytes,
    latencyLoad,
    processPerRun: args['process-per-run'],
  };
  console.log(JSON.stringify({ config, loadAtStart, loadAtEnd, figures: summary }));
}

if (args.child === undefined) await main();
else await runChild(args.child);
