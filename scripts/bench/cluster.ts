// The three-node figures: idle CPU per node and Raft commit-index growth of a cluster with no
// topics (beside a JetStream R3 cluster sampled in the same windows), RF=3 acks=all and acks=1
// throughput and acks=all latency at the fixed rate, and failover — kill -9 of a partition
// leader (not the controller; then the controller's own node) → the first acks=all write the
// cluster acknowledges, with the brokers' default settings — and a fresh RF=3 topic's first
// acks=all write, beside its first acks=1 write. Each call is one round.
import { H2Transport, RillClient } from '../../src/api/client/index.ts';
import { benchLatency, benchProduce } from '../../src/cli/client-bench.ts';
import type { ClusterProcesses } from '../spawn-cluster.ts';
import type { JetStreamCluster } from './jetstream.ts';
import type { Report } from './report.ts';
import {
  controllerId,
  createTopic,
  partitionsOf,
  raftCommitIndex,
  writeOne,
  type PartitionView,
} from './rill-http.ts';
import { completedRate, round, sampleCpuPercent } from './stats.ts';

export const rf3Configs = { 'min.insync.replicas': '2', 'log.flush': 'always' };
/** See benchLatency: one request per partition in flight must carry what arrived meanwhile. */
export const latencyProducer = { lingerMs: 0, batchSizeBytes: 256 * 1024 };
export const throughputBatching = { batchSizeBytes: 256 * 1024, lingerMs: 5 };
const settleTimeoutMs = 60_000;

const mean = (values: readonly number[]): number =>
  values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);

/** One idle window: every node's CPU (Rill and JetStream together) and Rill's Raft growth. */
export async function idleRound(
  cluster: ClusterProcesses,
  jetStream: JetStreamCluster | null,
  windowMs: number,
  report: Report,
): Promise<void> {
  const http = new H2Transport();
  try {
    const ids = [...cluster.urls.keys()];
    const rillPids = ids.map((id) => cluster.pid(id) ?? -1);
    const jsPids = jetStream?.pids ?? [];
    const url = cluster.urls.get(ids[0] ?? 1) as string;
    const commitBefore = await raftCommitIndex(http, url);
    const startMs = performance.now();
    const cpu = await sampleCpuPercent([...rillPids, ...jsPids], windowMs);
    const commitAfter = await raftCommitIndex(http, url);
    const seconds = (performance.now() - startMs) / 1000;
    const rillCpu = cpu.slice(0, rillPids.length).map((v) => round(v, 2));
    const growth = commitAfter - commitBefore;
    report.add('idle.rill.cpuPercentPerNode', mean(rillCpu), { perNode: rillCpu, windowMs });
    report.add('idle.rill.raftCommitsPerSecond', growth / seconds, { commitBefore, commitAfter });
    if (jetStream !== null) {
      const jsCpu = cpu.slice(rillPids.length).map((v) => round(v, 2));
      report.add('idle.jetstream.cpuPercentPerNode', mean(jsCpu), { perNode: jsCpu, windowMs });
    }
  } finally {
    await http.close();
  }
}

export async function createRf3Topics(client: RillClient, recordBytes: number): Promise<void> {
  const admin = client.admin();
  for (const name of ['bench-rf3-warmup', 'bench-rf3-all', 'bench-rf3-one']) {
    await admin.createTopic({ name, partitions: 4, replicationFactor: 3, configs: rf3Configs });
  }
  const latency = { name: 'bench-rf3-latency', partitions: 1, replicationFactor: 3 };
  await admin.createTopic({ ...latency, configs: rf3Configs });
  const producer = { acks: 'all' as const, ...throughputBatching };
  await benchProduce(client, { topic: 'bench-rf3-warmup', records: 20_000, recordBytes, producer });
}

export async function rf3ThroughputOnce(
  client: RillClient,
  options: { records: number; recordBytes: number },
  acks: 'all' | 1,
  report: Report,
): Promise<void> {
  const topic = acks === 'all' ? 'bench-rf3-all' : 'bench-rf3-one';
  const producer = { acks, ...throughputBatching };
  const result = await benchProduce(client, { ...options, topic, producer });
  const series = acks === 'all' ? 'rf3.acksAll' : 'rf3.acks1';
  report.add(`${series}.recordsPerSecond`, result.recordsPerSecond, result);
}

export async function rf3LatencyOnce(
  client: RillClient,
  options: { ratePerSecond: number; seconds: number; recordBytes: number },
  report: Report,
): Promise<void> {
  const producer = { acks: 'all' as const, ...latencyProducer };
  const startMs = performance.now();
  const result = await benchLatency(client, { ...options, topic: 'bench-rf3-latency', producer });
  const completed = completedRate(result.records, startMs);
  report.add('rf3.latency.p50Ms', result.p50Ms, { ...result, ...completed });
  report.add('rf3.latency.p99Ms', result.p99Ms);
}

/**
 * A fresh RF=3 topic of three partitions, then one record to each partition at once with
 * `acks`: the time from the creation's answer to the last acknowledgement (issue 13 trial
 * finding 3). acks=1 on a fresh topic of its own is the baseline: metadata spreading and the
 * leaders opening, without the followers.
 */
export async function firstAckOnce(
  client: RillClient,
  acks: 'all' | 1,
  roundIndex: number,
  report: Report,
): Promise<void> {
  const topic = `bench-first-ack-${acks}-${roundIndex}`;
  const createStartMs = performance.now();
  await client.admin().createTopic({
    name: topic,
    partitions: 3,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '2' },
  });
  const createdMs = performance.now();
  const producer = client.producer({ acks, lingerMs: 0 });
  try {
    const perPartition = await Promise.all(
      [0, 1, 2].map(async (partition) => {
        await producer.send({ topic, partition, value: Buffer.from('first') });
        return Math.round(performance.now() - createdMs);
      }),
    );
    const createMs = Math.round(createdMs - createStartMs);
    report.add(`create.firstAck.${acks}.ms`, Math.max(...perPartition), { perPartition, createMs });
  } finally {
    await producer.close();
  }
}

export type FailoverVictim = 'leader' | 'controller';

/**
 * A fresh RF=3 topic of three partitions; the victim is a partition's leader that is not the
 * controller, or the controller's node when it leads a partition. kill -9 → the first
 * acks=all write to that partition acknowledged by its new leader. The node is then restarted
 * and the round waits until the topic's ISRs are whole again.
 */
export async function failoverRound(
  cluster: ClusterProcesses,
  victim: FailoverVictim,
  roundIndex: number,
  report: Report,
): Promise<void> {
  const http = new H2Transport();
  const topic = `bench-failover-${victim}-${roundIndex}`;
  try {
    const anyUrl = cluster.urls.get(1) as string;
    await createTopic(http, anyUrl, {
      name: topic,
      partitions: 3,
      replicationFactor: 3,
      configs: { 'min.insync.replicas': '2' },
    });
    const partitions = await awaitWhole(http, cluster, topic);
    const controller = await controllerId(http, anyUrl);
    const target = partitions.find((p) =>
      victim === 'leader' ? p.leader !== controller : p.leader === controller,
    );
    if (target === undefined || target.leader === null || controller === null) {
      report.note(`failover ${victim} round ${roundIndex}: no partition fits; skipped`);
      return;
    }
    const killed = target.leader;
    const ms = await timeFailover(http, cluster, topic, target.partition, killed);
    report.add(`failover.${victim}.ms`, ms, { killed, controller, partition: target.partition });
    await cluster.restart(killed);
    await awaitWhole(http, cluster, topic);
  } finally {
    await http.close();
  }
}

async function timeFailover(
  http: H2Transport,
  cluster: ClusterProcesses,
  topic: string,
  partition: number,
  killed: number,
): Promise<number> {
  const killedUrl = cluster.urls.get(killed) as string;
  // The first acks=all write waits for the followers' fetchers: retry, as a client would.
  const readyBy = performance.now() + settleTimeoutMs;
  while (!(await writeOne(http, killedUrl, topic, partition).catch(() => false))) {
    if (performance.now() > readyBy) throw new Error(`${topic}: no acks=all write before kill`);
    await new Promise((done) => setTimeout(done, 50));
  }
  const killedAt = performance.now();
  await cluster.kill(killed);
  const survivors = [...cluster.urls].filter(([id]) => cluster.isRunning(id));
  while (performance.now() - killedAt < 60_000) {
    for (const [, asker] of survivors) {
      const views = await partitionsOf(http, asker, topic).catch(() => []);
      const leader = views.find((p) => p.partition === partition)?.leader ?? null;
      const url = leader === null || leader === killed ? null : cluster.urls.get(leader);
      if (url !== undefined && url !== null) {
        if (await writeOne(http, url, topic, partition).catch(() => false)) {
          return Math.round(performance.now() - killedAt);
        }
      }
    }
    await new Promise((done) => setTimeout(done, 10));
  }
  throw new Error(`no acks=all write within 60 s of killing node ${killed}`);
}

/** Polls until every partition of `topic` has a leader and a full ISR; returns them. */
async function awaitWhole(
  http: H2Transport,
  cluster: ClusterProcesses,
  topic: string,
): Promise<readonly PartitionView[]> {
  const deadline = performance.now() + settleTimeoutMs;
  const url = cluster.urls.get(1) as string;
  while (performance.now() < deadline) {
    const views = await partitionsOf(http, url, topic).catch(() => []);
    const whole = views.length > 0 && views.every((p) => p.leader !== null && p.isr.length === 3);
    if (whole) return views;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`topic ${topic} not whole within ${settleTimeoutMs} ms`);
}

export async function jetStreamThroughputOnce(
  jetStream: JetStreamCluster,
  options: { records: number; recordBytes: number },
  report: Report,
): Promise<void> {
  await jetStream.resetStream('bench-produce');
  const result = await jetStream.throughput({ ...options, stream: 'bench-produce' });
  report.add('jetstream.produce.recordsPerSecond', result.recordsPerSecond, result);
}

export async function jetStreamLatencyOnce(
  jetStream: JetStreamCluster,
  options: { ratePerSecond: number; seconds: number; recordBytes: number },
  report: Report,
): Promise<void> {
  await jetStream.resetStream('bench-latency');
  const startMs = performance.now();
  const result = await jetStream.latency({ ...options, stream: 'bench-latency' });
  const completed = completedRate(result.records, startMs);
  report.add('jetstream.latency.p50Ms', result.p50Ms, { ...result, ...completed });
  report.add('jetstream.latency.p99Ms', result.p99Ms);
}
