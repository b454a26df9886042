// Prometheus metrics of one server instance, in its own registry (never prom-client's global
// one, so several nodes can live in one test process). Names follow Prometheus conventions:
// base units, `_total` for counters.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Sampling period of rill_nodejs_eventloop_lag_*; see collectDefaultMetrics below. */
const eventLoopMonitoringPrecisionMs = 100;
import type { Broker } from '../../broker/index.ts';

export class ServerMetrics {
  readonly registry = new Registry();
  readonly produceBytes: Counter;
  readonly produceRecords: Counter;
  readonly fetchBytes: Counter;
  readonly fetchRecords: Counter;
  readonly errors: Counter<'code'>;
  readonly requestSeconds: Histogram<'route' | 'method' | 'status'>;

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
    this.#brokerGauges(broker);
    // The event-loop-delay monitor wakes the loop at its precision: 10 ms (prom-client's
    // default) is 100 wake-ups a second on an idle node; 100 ms keeps lag visible for 1/10 the cost.
    collectDefaultMetrics({
      register: this.registry,
      prefix: 'rill_',
      eventLoopMonitoringPrecision: eventLoopMonitoringPrecisionMs,
    });
  }

  #brokerGauges(broker: Broker): void {
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    };
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
  }
}
