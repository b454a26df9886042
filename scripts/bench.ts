// `npm run bench [-- --records N --repeat R --only a,b --skip-cluster --skip-jetstream
// --profile --group-records N]`: every figure of issue 7's table in one run, each beside its baseline from the
// same run. It starts a single broker, a three-node cluster with default settings and, where
// nats-server is installed, a three-node JetStream (R3, file storage); figures are measured in
// interleaved rounds (min/median/max) and printed with their ratios, the load average at start
// and end, then one JSON line with everything. The modules in scripts/bench/ hold the parts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RillClient } from '../src/api/client/index.ts';
import { benchLog } from './bench-log.ts';
import {
  createRf3Topics,
  failoverRound,
  firstAckOnce,
  idleRound,
  jetStreamLatencyOnce,
  jetStreamThroughputOnce,
  rf3LatencyOnce,
  rf3ThroughputOnce,
} from './bench/cluster.ts';
import { figureSpecs } from './bench/figures.ts';
import {
  createGroupThroughputTopic,
  groupRebalanceRound,
  groupThroughputOnce,
} from './bench/groups.ts';
import { startJetStream, type JetStreamCluster } from './bench/jetstream.ts';
import { hasCommand, startH2Peer, type H2Peer } from './bench/peers.ts';
import { summarizeProfile } from './bench/profile.ts';
import { Report } from './bench/report.ts';
import {
  consumeOnce,
  createSingleNodeTopics,
  fileAppendOnce,
  jsonOnce,
  produceOnce,
  singleLatencyOnce,
  transferOnce,
} from './bench/single-node.ts';
import { formatSpread, loadAverage } from './bench/stats.ts';
import { benchCompaction } from './bench/compaction.ts';
import { benchValidate } from './bench/validate.ts';
import { benchValidateProduce, formatValidateProduce } from './bench/validate-produce.ts';
import { benchKafka } from './bench-kafka.ts';
import { spawnBroker, type BrokerProcess } from './spawn-broker.ts';
import { spawnCluster, type ClusterProcesses } from './spawn-cluster.ts';

const figureNames = [
  'idle',
  'failover',
  'create',
  'latency',
  'throughput',
  'json',
  'consume',
  'produce',
  'compaction',
  'groups',
  'kafka',
];
type FigureName = (typeof figureNames)[number];

const { values: args } = parseArgs({
  options: {
    profile: { type: 'boolean', default: false },
    records: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '5000' },
    repeat: { type: 'string', default: '3' },
    'skip-cluster': { type: 'boolean', default: false },
    'skip-jetstream': { type: 'boolean', default: false },
    only: { type: 'string' },
    'idle-seconds': { type: 'string', default: '10' },
    'latency-seconds': { type: 'string', default: '5' },
    'json-seconds': { type: 'string', default: '3' },
    'group-records': { type: 'string', default: '50000' },
  },
});
const recordBytes = 1024;
/** Generous: on a loaded shared machine a node has been seen to need more than 30 s to start. */
const readyTimeoutMs = 120_000;
const records = Number(args.records);
const repeat = Math.max(1, Number(args.repeat));
const latencyLoad = {
  ratePerSecond: Number(args.rate),
  seconds: Number(args['latency-seconds']),
  recordBytes,
};
const only = args.only === undefined ? null : new Set(args.only.split(','));
for (const name of only ?? []) {
  if (!figureNames.includes(name)) throw new Error(`--only ${name}: not one of ${figureNames}`);
}
const wants = (name: FigureName): boolean => only === null || only.has(name);
const clusterFigures = ['idle', 'failover', 'create', 'latency', 'throughput', 'groups'].filter(
  wants,
);
const singleFigures = ['produce', 'consume', 'json', 'latency', 'throughput'].filter(wants);

interface Systems {
  broker: BrokerProcess | null;
  client: RillClient | null;
  peer: H2Peer | null;
  cluster: ClusterProcesses | null;
  clusterClient: RillClient | null;
  jetStream: JetStreamCluster | null;
  profileDir: string | null;
}

async function main(): Promise<void> {
  if (only?.has('kafka') === true) {
    // The Kafka protocol figures run on their own broker (scripts/bench-kafka.ts).
    console.log(JSON.stringify({ kafka: await benchKafka(records, repeat, 1) }));
    console.log(JSON.stringify({ kafkaRf3: await benchKafka(records, repeat, 3) }));
    if (only.size === 1) return;
  }
  const report = new Report();
  const loadAtStart = loadAverage();
  report.log(`load average at start: ${JSON.stringify(loadAtStart)}`);
  const tools = await checkTools(report);
  const systems: Systems = {
    broker: null,
    client: null,
    peer: null,
    cluster: null,
    clusterClient: null,
    jetStream: null,
    profileDir: null,
  };
  try {
    await startSystems(systems, tools, report);
    await runRounds(systems, tools, report);
  } catch (error) {
    // What was measured before the failure is still printed, and the exit code says it failed.
    process.exitCode = 1;
    report.note(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : error}`);
    const output = systems.broker?.output().slice(-4_000);
    if (output !== undefined) report.log(`the single broker's last output:\n${output}`);
  } finally {
    await stopSystems(systems);
  }
  const extra: Record<string, unknown> = {};
  if (only === null) {
    // The log alone (no network), each policy beside raw appends of the same bytes.
    extra['log'] = (await benchLog({ runMs: 1_000 })).figures;
    report.log(`log: ${JSON.stringify(extra['log'])}`);
  }
  if (wants('produce')) {
    // Produce-time validation on the same bodies: without it (framing + CRC) beside with it.
    const validate = await benchValidate();
    extra['produceValidation'] = validate;
    for (const f of validate.figures) {
      report.log(
        `produce validation ${f.shape}: without ${f.withoutMiBps.median} MiB/s, with ` +
          `${f.withMiBps.median} MiB/s (medians of 3; ratio ${f.ratioMedian})`,
      );
    }
    // End to end: the same produce against a broker that validates and one that does not.
    const endToEnd = await benchValidateProduce({ rounds: repeat });
    extra['produceValidationEndToEnd'] = endToEnd;
    for (const figure of endToEnd.figures) report.log(formatValidateProduce(figure));
  }
  if (wants('compaction')) {
    // The log cleaner in process: its MiB/s, and append latency while it runs vs not.
    const compaction = await benchCompaction();
    extra['compaction'] = compaction;
    report.log(
      `compaction: ${formatSpread(compaction.cleanMibPerSecond, ' MiB/s')}; append p99 ` +
        `${formatSpread(compaction.appendP99CleaningMs, ' ms')} while cleaning vs ` +
        `${formatSpread(compaction.appendP99IdleMs, ' ms')} idle ` +
        `(ratio ${formatSpread(compaction.appendP99Ratio)})`,
    );
  }
  if (systems.profileDir !== null) {
    extra['profileTop10'] = await summarizeProfile(systems.profileDir);
    await rm(systems.profileDir, { recursive: true, force: true });
  }
  for (const spec of figureSpecs) report.figure(spec);
  report.printFigures();
  const loadAtEnd = loadAverage();
  report.log(`load average at end: ${JSON.stringify(loadAtEnd)}`);
  const config = { recordBytes, records, repeat, latencyLoad, only: args.only ?? null };
  console.log(report.toJson({ config, loadAtStart, loadAtEnd, tools, ...extra }));
}

interface Tools {
  readonly jetStream: boolean;
  readonly h2load: boolean;
}

async function checkTools(report: Report): Promise<Tools> {
  let jetStream = false;
  if (args['skip-jetstream']) report.note('JetStream skipped (--skip-jetstream)');
  else if (await hasCommand('nats-server')) jetStream = true;
  else {
    report.note(
      'nats-server is not installed: the JetStream side is skipped. Install it with ' +
        '`apt-get install -y nats-server` (Debian) or from https://nats.io/download/',
    );
  }
  const h2load = await hasCommand('h2load');
  if (!h2load && wants('json')) {
    report.note(
      'h2load is not installed: the JSON produce figure is skipped. Install it with ' +
        '`apt-get install -y nghttp2-client` (Debian)',
    );
  }
  return { jetStream, h2load };
}

async function startSystems(systems: Systems, tools: Tools, report: Report): Promise<void> {
  if (singleFigures.length > 0) {
    systems.profileDir = args.profile ? await mkdtemp(join(tmpdir(), 'rill-profile-')) : null;
    const nodeArgs =
      systems.profileDir === null ? [] : ['--cpu-prof', '--cpu-prof-dir', systems.profileDir];
    systems.broker = await spawnBroker({ nodeArgs, readyTimeoutMs });
    systems.client = new RillClient({ bootstrapUrls: [systems.broker.url] });
    systems.peer = await startH2Peer();
    report.log(`single broker ${systems.broker.url}; bare h2c peer ${systems.peer.url}`);
  }
  if (!args['skip-cluster'] && clusterFigures.length > 0) {
    systems.cluster = await spawnCluster({ size: 3, readyTimeoutMs });
    const urls = [...systems.cluster.urls.values()];
    systems.clusterClient = new RillClient({ bootstrapUrls: urls });
    report.log(`cluster ${urls.join(' ')} (default settings; data ${systems.cluster.dataDir})`);
  } else if (args['skip-cluster']) {
    report.note('the three-node figures are skipped (--skip-cluster)');
  }
  const jetStreamFigures = ['idle', 'latency', 'throughput'].filter(wants);
  if (tools.jetStream && jetStreamFigures.length > 0) {
    systems.jetStream = await startJetStream();
    report.log(`JetStream R3 ${systems.jetStream.urls.join(' ')}`);
  }
}

async function runRounds(systems: Systems, tools: Tools, report: Report): Promise<void> {
  const { client, cluster, clusterClient, jetStream } = systems;
  if (cluster !== null && wants('idle')) {
    // A cluster with no topics yet: both systems settle, then share each sampling window.
    await new Promise((done) => setTimeout(done, 3_000));
    const windowMs = Number(args['idle-seconds']) * 1000;
    for (let r = 0; r < repeat; r += 1) {
      report.log(`idle round ${r + 1}/${repeat} (${windowMs} ms)`);
      await idleRound(cluster, jetStream, windowMs, report);
    }
  }
  if (client !== null) await createSingleNodeTopics(client, { records, recordBytes });
  if (clusterClient !== null) await createRf3Topics(clusterClient, recordBytes);
  const groups = roundGroups(systems, tools, report);
  for (let r = 0; r < (groups.length > 0 ? repeat : 0); r += 1) {
    report.log(`round ${r + 1}/${repeat}${r % 2 === 1 ? ' (baselines first)' : ''}`);
    // Each group is a figure and its baselines back to back; every other round reverses the
    // order within groups, so a drift in the machine's load does not favour one side.
    for (const group of groups) {
      for (const step of r % 2 === 0 ? group : [...group].reverse()) await step();
    }
  }
  if (cluster !== null && clusterClient !== null && wants('groups')) {
    await groupRounds([...cluster.urls.values()], clusterClient, report);
  }
  if (clusterClient !== null && wants('create')) {
    for (let r = 0; r < repeat; r += 1) {
      report.log(`create → first ack round ${r + 1}/${repeat}`);
      // Alternating order, so that a drift in the machine's load favours neither side.
      for (const acks of r % 2 === 0 ? (['all', 1] as const) : ([1, 'all'] as const)) {
        await firstAckOnce(clusterClient, acks, r, report);
      }
    }
  }
  if (cluster !== null && wants('failover')) {
    for (const victim of ['leader', 'controller'] as const) {
      for (let r = 0; r < repeat; r += 1) {
        report.log(`failover (${victim}) round ${r + 1}/${repeat}`);
        await failoverRound(cluster, victim, r, report);
      }
    }
  }
}

type Step = () => Promise<void>;

/**
 * Consumer groups (issue 8): rebalance times of 10 members over 30 partitions (a join; a kill,
 * noticed at the coordinator's session timeout), then a group of three beside one member
 * reading the same records, in interleaved rounds.
 */
async function groupRounds(urls: string[], client: RillClient, report: Report): Promise<void> {
  for (let r = 0; r < repeat; r += 1) {
    report.log(`groups rebalance round ${r + 1}/${repeat}`);
    await groupRebalanceRound(client, urls, r, report);
  }
  const groupRecords = Number(args['group-records']);
  const topic = await createGroupThroughputTopic(client, { records: groupRecords, recordBytes });
  for (let r = 0; r < repeat; r += 1) {
    report.log(`groups throughput round ${r + 1}/${repeat}`);
    const sizes = r % 2 === 0 ? [3, 1] : [1, 3];
    for (const size of sizes) {
      await groupThroughputOnce(urls, topic, { records: groupRecords, size, round: r }, report);
    }
  }
}

/** The measurements of one round, grouped with the baselines their ratios divide by. */
function roundGroups(systems: Systems, tools: Tools, report: Report): Step[][] {
  const { broker, client, peer, clusterClient, jetStream } = systems;
  const single = { records, recordBytes };
  const groups: Step[][] = [];
  const add = (...steps: (Step | null)[]): void => {
    const present = steps.filter((step): step is Step => step !== null);
    if (present.length > 0) groups.push(present);
  };
  if (client !== null && peer !== null && wants('produce')) {
    add(
      () => produceOnce(client, single, 'always', report),
      () => transferOnce(peer, 'upload', report),
      () => fileAppendOnce(single, 'always', report),
    );
    for (const policy of ['interval:1000', 'never'] as const) {
      add(
        () => produceOnce(client, single, policy, report),
        () => fileAppendOnce(single, policy, report),
      );
    }
  }
  if (client !== null && peer !== null && wants('consume')) {
    add(
      () => consumeOnce(client, single, report),
      () => transferOnce(peer, 'download', report),
    );
  }
  if (wants('throughput')) {
    const rf3 = clusterClient;
    add(
      rf3 === null ? null : () => rf3ThroughputOnce(rf3, single, 'all', report),
      jetStream === null ? null : () => jetStreamThroughputOnce(jetStream, single, report),
      client === null || wants('produce')
        ? null
        : () => produceOnce(client, single, 'always', report),
      rf3 === null ? null : () => rf3ThroughputOnce(rf3, single, 1, report),
    );
  }
  if (wants('latency')) {
    add(
      clusterClient === null ? null : () => rf3LatencyOnce(clusterClient, latencyLoad, report),
      jetStream === null ? null : () => jetStreamLatencyOnce(jetStream, latencyLoad, report),
      client === null ? null : () => singleLatencyOnce(client, latencyLoad, report),
    );
  }
  if (broker !== null && peer !== null && tools.h2load && wants('json')) {
    const json = { seconds: Number(args['json-seconds']), recordBytes };
    add(
      () => jsonOnce('rill', broker.url, json, report),
      () => jsonOnce('sink', peer.url, json, report),
    );
  }
  return groups;
}

async function stopSystems(systems: Systems): Promise<void> {
  await systems.client?.close();
  await systems.clusterClient?.close();
  systems.peer?.stop();
  await systems.jetStream?.stop();
  await systems.cluster?.stop();
  await systems.broker?.stop();
}

await main();
