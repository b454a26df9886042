// The figures `npm run bench` prints, in the order of issue 7's table: each names its series,
// the same-run baseline series it is divided by, and the target. Series are filled by
// cluster.ts, single-node.ts and jetstream.ts; a figure whose series is empty is left out.
import type { FigureSpec } from './report.ts';

export const figureSpecs: readonly FigureSpec[] = [
  {
    name: 'idle 3-node cluster, no topics: CPU per node (Rill vs JetStream R3)',
    series: 'idle.rill.cpuPercentPerNode',
    unit: '% of a core',
    baselineSeries: 'idle.jetstream.cpuPercentPerNode',
    target: '< 1 % per node',
  },
  {
    name: 'idle 3-node cluster: Raft commit index growth',
    series: 'idle.rill.raftCommitsPerSecond',
    unit: 'entries/s',
    target: '0 (the Raft log does not grow while idle)',
  },
  {
    name: 'kill -9 of a partition leader (not the controller) → first acks=all write, defaults',
    series: 'failover.leader.ms',
    unit: 'ms',
    target: '< 1500 ms',
  },
  {
    name: "kill -9 of the controller's node (a partition leader) → first acks=all write",
    series: 'failover.controller.ms',
    unit: 'ms',
    target: '< 1500 ms',
  },
  {
    name: 'create an RF=3 topic → first acks=all write on each partition (vs first acks=1)',
    series: 'create.firstAck.all.ms',
    unit: 'ms',
    baselineSeries: 'create.firstAck.1.ms',
    target: '< 500 ms on an idle machine',
  },
  {
    name: 'RF=3 acks=all p50 ack latency at the fixed rate (vs JetStream R3)',
    series: 'rf3.latency.p50Ms',
    unit: 'ms',
    baselineSeries: 'jetstream.latency.p50Ms',
    target: 'p50 ≤ 3 ms',
  },
  {
    name: 'RF=3 acks=all p99 ack latency at the fixed rate (vs JetStream R3)',
    series: 'rf3.latency.p99Ms',
    unit: 'ms',
    baselineSeries: 'jetstream.latency.p99Ms',
    target: 'p99 ≤ 10 ms',
  },
  {
    name: 'single-node acks=all p50 ack latency at the fixed rate',
    series: 'single.latency.p50Ms',
    unit: 'ms',
  },
  {
    name: 'single-node acks=all p99 ack latency at the fixed rate',
    series: 'single.latency.p99Ms',
    unit: 'ms',
  },
  {
    name: 'RF=3 acks=all throughput, 1 KiB records (vs single node, flush=always)',
    series: 'rf3.acksAll.recordsPerSecond',
    unit: 'records/s',
    baselineSeries: 'single.produce.always.recordsPerSecond',
    target: 'ratio ≥ 0.6',
  },
  {
    name: 'RF=3 acks=all throughput, 1 KiB records (vs JetStream R3 async publish)',
    series: 'rf3.acksAll.recordsPerSecond',
    unit: 'records/s',
    baselineSeries: 'jetstream.produce.recordsPerSecond',
    target: 'ratio ≥ 2',
  },
  {
    name: 'RF=3 acks=1 throughput, 1 KiB records (vs single node, flush=always)',
    series: 'rf3.acks1.recordsPerSecond',
    unit: 'records/s',
    baselineSeries: 'single.produce.always.recordsPerSecond',
  },
  {
    name: 'JSON produce, 10 × 1 KiB records per POST, h2load 64 streams (vs bare h2c sink)',
    series: 'json.rill.recordsPerSecond',
    unit: 'records/s',
    baselineSeries: 'baseline.h2cSink.recordsPerSecond',
    target: 'ratio ≥ 0.4',
  },
  {
    name: 'catch-up consume, own client (vs bare node:http2 download)',
    series: 'single.consume.mibPerSecond',
    unit: 'MiB/s',
    baselineSeries: 'baseline.http2Download.mibPerSecond',
    target: 'ratio ≥ 0.8',
  },
  {
    name: 'single-node produce, flush=always (vs bare node:http2 upload)',
    series: 'single.produce.always.mibPerSecond',
    unit: 'MiB/s',
    baselineSeries: 'baseline.http2Upload.mibPerSecond',
    target: 'ratio ≥ 0.5',
  },
  {
    name: 'consumer group of 10 over 30 partitions: a member joins → balanced again',
    series: 'groups.rebalance.joinMs',
    unit: 'ms',
  },
  {
    name: 'consumer group of 10 over 30 partitions: a member killed → its partitions owned again',
    series: 'groups.rebalance.killMs',
    unit: 'ms',
    target: 'within the session timeout (10 s) + a heartbeat',
  },
  {
    name: 'catch-up consume by a group of three (vs a group of one), same process, RF=3',
    series: 'groups.members3.recordsPerSecond',
    unit: 'records/s',
    baselineSeries: 'groups.single.recordsPerSecond',
  },
  ...(['always', 'interval:1000', 'never'] as const).map((policy) => ({
    name: `single-node produce, flush=${policy} (vs sequential file appends, same policy)`,
    series: `single.produce.${policy}.mibPerSecond`,
    unit: 'MiB/s',
    baselineSeries: `baseline.fileAppend.${policy}.mibPerSecond`,
  })),
];
