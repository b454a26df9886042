// Prometheus metrics of one server instance, in its own registry (never prom-client's global
// one, so several nodes can live in one test process). Names follow Prometheus conventions:
// base units, `_total` for counters. Per-partition series cover the partitions this node leads,
// at most partitionMetricsMax of them (src/broker/partition-metrics.ts); docs/operations.md.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Sampling period of rill_nodejs_eventloop_lag_*; see collectDefaultMetrics below. */
const eventLoopMonitoringPrecisionMs = 1_000;
import type { Broker, PartitionStats } from '../../broker/index.ts';

/** The routes that append records, whose latency is also kept per `acks`. */
const produceRoutes = new Set([
  '/v1/topics/:topic/records',
  '/v1/topics/:topic/partitions/:partition/records',
]);
const acksLabels: Readonly<Record<string, string>> = {
  all: 'all',
  '-1': 'all',
  '1': '1',
  '0': '0',
};
/** Topics with their own rill_topic_bytes_*_total series; the rest count under `_other`. */
export const topicMetricsMax = 1_000;
/** The topic label of bytes of topics beyond topicMetricsMax. */
const otherTopicsLabel = '_other';
/** fsync latency buckets: one fdatasync costs ~0.2-0.35 ms on these machines (DESIGN.md §8). */
const syncBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2];
/** How long one scrape reuses a partition snapshot (the gauges of one scrape agree). */
const partitionSnapshotMs = 100;

type LeaderRow = PartitionStats['leaders'][number];

/** The per-partition gauges (labels topic, partition) of the partitions led here. */
const partitionSeries: readonly (readonly [string, string, (p: LeaderRow) => number])[] = [
  [
    'rill_partition_high_watermark',
    'High watermark of a partition led here.',
    (p) => p.highWatermark,
  ],
  ['rill_partition_log_end_offset', "Leader's log end offset.", (p) => p.logEndOffset],
  ['rill_partition_log_start_offset', 'First retained offset.', (p) => p.logStartOffset],
  ['rill_partition_isr_size', 'In-sync replicas of a partition led here.', (p) => p.isrSize],
  ['rill_partition_replicas', 'Assigned replicas of a partition led here.', (p) => p.replicas],
  [
    'rill_partition_replica_lag_max',
    "Offsets the slowest follower's log end trails the leader's.",
    (p) => p.replicaLagMax,
  ],
  [
    'rill_partition_replica_lag_seconds_max',
    'Longest time a follower has been behind the leader (0: all caught up).',
    (p) => p.replicaLagMsMax / 1000,
  ],
];

export class ServerMetrics {
  readonly registry = new Registry();
  readonly produceBytes: Counter;
  readonly produceRecords: Counter;
  readonly fetchBytes: Counter;
  readonly fetchRecords: Counter;
  readonly consumerFetchRecords: Counter;
  readonly errors: Counter<'code'>;
  readonly requestSeconds: Histogram<'route' | 'method' | 'status'>;
  readonly produceSeconds: Histogram<'route' | 'acks'>;
  readonly logSyncSeconds: Histogram;
  readonly #topicBytes: Counter<'topic' | 'direction'>;
  /** Topics that have their own label, at most topicMetricsMax. */
  readonly #labelledTopics = new Set<string>();

  constructor(broker: Broker) {
    const registers = [this.registry];
    this.produceBytes = new Counter({
      name: 'rill_produce_bytes_total',
      help: 'Record batch bytes appended by produce requests (as received).',
      registers,
    });
    this.produceRecords = new Counter({
      name: 'rill_produce_records_total',
      help: 'Records appended by produce requests.',
      registers,
    });
    this.fetchBytes = new Counter({
      name: 'rill_fetch_bytes_total',
      help: 'Record batch bytes returned by fetch requests.',
      registers,
    });
    this.fetchRecords = new Counter({
      name: 'rill_fetch_records_total',
      help: 'Records returned by JSON fetch requests (binary fetches are not decoded).',
      registers,
    });
    this.consumerFetchRecords = new Counter({
      name: 'rill_consumer_fetch_records_total',
      help:
        'Offsets served to consumers by fetch (HTTP JSON and binary, Kafka Fetch; not replica ' +
        'fetches): the records read, plus any gaps a compaction left among them.',
      registers,
    });
    this.errors = new Counter({
      name: 'rill_request_errors_total',
      help: 'Error responses by Kafka error code.',
      labelNames: ['code'],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'rill_request_duration_seconds',
      help: 'Request latency from arrival to the last byte handed to HTTP/2.',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
      registers,
    });
    this.produceSeconds = new Histogram({
      name: 'rill_produce_duration_seconds',
      help: 'Produce request latency by route and acks (0, 1 or all), any status.',
      labelNames: ['route', 'acks'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
      registers,
    });
    this.logSyncSeconds = new Histogram({
      name: 'rill_log_flush_duration_seconds',
      help: "fsync (fdatasync) of a partition's active segment, one per group commit.",
      buckets: syncBuckets,
      registers,
    });
    this.#topicBytes = new Counter({
      name: 'rill_topic_bytes_total',
      help: `Record batch bytes per topic: direction "in" (produce) or "out" (fetch, replica fetch); topics beyond ${topicMetricsMax} count as "${otherTopicsLabel}".`,
      labelNames: ['topic', 'direction'],
      registers,
    });
    this.#brokerGauges(broker);
    this.#partitionGauges(broker);
    // The event-loop-delay monitor wakes the loop at its precision: 10 ms (prom-client's
    // default) is 100 wake-ups a second on an idle node, 100 ms was half of an idle node's
    // wake-ups (issue 7). At 1 s a stall still shows as the lateness of the next sample.
    collectDefaultMetrics({
      register: this.registry,
      prefix: 'rill_',
      eventLoopMonitoringPrecision: eventLoopMonitoringPrecisionMs,
    });
  }

  /** Counts produced bytes, node-wide and per topic. */
  countProduced(topic: string, bytes: number): void {
    this.produceBytes.inc(bytes);
    this.#topicBytes.inc({ topic: this.#topicLabel(topic), direction: 'in' }, bytes);
  }

  /** Counts fetched bytes (consumers and followers), node-wide and per topic. */
  countFetched(topic: string, bytes: number): void {
    this.fetchBytes.inc(bytes);
    this.#topicBytes.inc({ topic: this.#topicLabel(topic), direction: 'out' }, bytes);
  }

  /** Counts the offsets one consumer fetch moved past (nextOffset − the offset asked). */
  countConsumed(offsets: number): void {
    if (offsets > 0) this.consumerFetchRecords.inc(offsets);
  }

  #topicLabel(topic: string): string {
    if (this.#labelledTopics.has(topic)) return topic;
    if (this.#labelledTopics.size >= topicMetricsMax) return otherTopicsLabel;
    this.#labelledTopics.add(topic);
    return topic;
  }

  /** Observes a produce route's latency under its acks; other routes are ignored. */
  observeProduce(route: string, query: unknown, seconds: number): void {
    if (!produceRoutes.has(route)) return;
    const raw = (query as Record<string, unknown> | undefined)?.['acks'] ?? 'all';
    const acks = typeof raw === 'string' ? acksLabels[raw] : undefined;
    if (acks !== undefined) this.produceSeconds.observe({ route, acks }, seconds);
  }

  #partitionGauges(broker: Broker): void {
    let cached: { atMs: number; stats: PartitionStats } | null = null;
    const stats = (): PartitionStats => {
      const now = performance.now();
      if (cached === null || now - cached.atMs > partitionSnapshotMs) {
        cached = { atMs: now, stats: broker.partitionStats() };
      }
      return cached.stats;
    };
    const perPartition = (name: string, help: string, read: (p: LeaderRow) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['topic', 'partition'],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const p of stats().leaders) {
            this.set({ topic: p.topic, partition: String(p.partition) }, read(p));
          }
        },
      });
    };
    for (const [name, help, read] of partitionSeries) perPartition(name, help, read);
    const gauge = (name: string, help: string, read: () => number): void =>
      readGauge(this.registry, name, help, read);
    gauge(
      'rill_under_replicated_partitions',
      'Partitions led here with ISR < replicas.',
      () => stats().underReplicated,
    );
    gauge(
      'rill_offline_partitions',
      'Partitions without a leader (cluster-wide).',
      () => stats().offline,
    );
    gauge(
      'rill_replica_max_lag',
      'Largest follower lag in offsets over every partition led here.',
      () => stats().replicaLagMax,
    );
    gauge(
      'rill_replica_max_lag_seconds',
      'Longest time a follower has been behind, over every partition led here.',
      () => stats().replicaLagMsMax / 1000,
    );
    gauge(
      'rill_partition_metrics_dropped',
      'Partitions led here left out of rill_partition_* by the per-node limit.',
      () => stats().dropped,
    );
    this.#partitionCounters(broker);
    this.#cleanerMetrics(broker);
  }

  /** The log cleaner's work (src/broker/log-cleaner-service.ts), read at each scrape. */
  #cleanerMetrics(broker: Broker): void {
    const stats = (): ReturnType<Broker['cleanerStats']> => broker.cleanerStats();
    readCounter(this.registry, 'rill_log_cleaner_runs_total', 'Log cleans run.', () => {
      return stats().runs;
    });
    readCounter(
      this.registry,
      'rill_log_cleaner_bytes_read_total',
      'Segment bytes read by log cleans.',
      () => stats().bytesRead,
    );
    readCounter(
      this.registry,
      'rill_log_cleaner_bytes_written_total',
      'Cleaned segment bytes written by log cleans.',
      () => stats().bytesWritten,
    );
    readGauge(
      this.registry,
      'rill_log_cleaner_last_mib_per_second',
      'Segment MiB read per second by the last log clean.',
      () => stats().lastMibPerSecond,
    );
    new Gauge({
      name: 'rill_log_cleaner_last_clean_timestamp_seconds',
      help: 'Wall time of the last clean of a partition on this node.',
      labelNames: ['topic', 'partition'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { topic, partition, atMs } of stats().lastCleanMs.values()) {
          this.set({ topic, partition: String(partition) }, atMs / 1000);
        }
      },
    });
  }

  /** Leader changes and ISR shrinks/expands, read from the broker at each scrape. */
  #partitionCounters(broker: Broker): void {
    const counter = (name: string, help: string, read: () => number): void =>
      readCounter(this.registry, name, help, read);
    const changes = (): ReturnType<Broker['partitionChanges']> => broker.partitionChanges();
    counter(
      'rill_leader_elections_total',
      'Partition leader changes applied (cluster-wide).',
      () => changes().leaderElections,
    );
    counter(
      'rill_isr_shrinks_total',
      'ISR shrinks applied (cluster-wide).',
      () => changes().isrShrinks,
    );
    counter(
      'rill_isr_expands_total',
      'ISR expands applied (cluster-wide).',
      () => changes().isrExpands,
    );
  }

  #brokerGauges(broker: Broker): void {
    const gauge = (name: string, help: string, read: () => number): void =>
      readGauge(this.registry, name, help, read);
    gauge(
      'rill_local_partitions',
      'Partition replicas on this node.',
      () => broker.gauges().localPartitions,
    );
    gauge(
      'rill_leader_partitions',
      'Partitions this node leads.',
      () => broker.gauges().leaderPartitions,
    );
    gauge(
      'rill_waiting_fetches',
      'Fetches parked in the purgatory.',
      () => broker.gauges().waitingFetches,
    );
    gauge(
      'rill_waiting_produces',
      'acks=all produces waiting for the HW.',
      () => broker.gauges().waitingProduces,
    );
    gauge(
      'rill_metadata_applied_index',
      'Last metadata log index applied.',
      () => broker.raftStatus().appliedIndex,
    );
    gauge('rill_raft_term', 'Current metadata Raft term.', () => broker.raftStatus().term);
    gauge(
      'rill_raft_commit_index',
      'Last metadata log index known committed.',
      () => broker.raftStatus().commitIndex,
    );
    gauge('rill_raft_apply_lag', 'Committed metadata entries not yet applied here.', () => {
      const { commitIndex, appliedIndex } = broker.raftStatus();
      return Math.max(0, commitIndex - appliedIndex);
    });
    gauge(
      'rill_raft_leader',
      '1 while this node leads the metadata Raft group (is the controller), else 0.',
      () => (broker.raftStatus().role === 'leader' ? 1 : 0),
    );
  }
}

/** A gauge set from `read()` at each scrape. */
function readGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/** A counter whose total is `read()` at each scrape (kept elsewhere, e.g. from the image). */
function readCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}
