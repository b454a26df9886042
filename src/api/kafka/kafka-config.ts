// The Kafka listener's settings, with Kafka's broker config names in the comments. Every bound
// is named …Max; defaults follow Kafka's own (socket.request.max.bytes 100 MiB,
// connections.max.idle.ms 10 minutes, auto.create.topics.enable true, num.partitions 1).
import { assert } from '../../common/index.ts';

export interface KafkaConfig {
  /** socket.request.max.bytes: a larger frame closes its connection. */
  readonly requestBytesMax: number;
  /** Open Kafka connections per node; more are closed at once. */
  readonly connectionsMax: number;
  /** Requests read but not yet answered per connection; reading pauses at this many. */
  readonly inFlightPerConnectionMax: number;
  /** connections.max.idle.ms: a connection with nothing in flight is closed after this long. */
  readonly connectionIdleMs: number;
  /** auto.create.topics.enable: Metadata and Produce create unknown topics. */
  readonly autoCreateTopics: boolean;
  /** num.partitions: partitions of an auto-created topic. */
  readonly autoCreatePartitions: number;
  /** default.replication.factor, lowered to the alive nodes when fewer. */
  readonly autoCreateReplicationFactor: number;
  /** Longest max.wait.ms a Fetch may park for (capped, as the HTTP route caps maxWaitMs). */
  readonly fetchWaitMsMax: number;
  /** Largest Fetch max_bytes honoured (the HTTP route's fetchBytesMax). */
  readonly fetchBytesMax: number;
}

export const defaultKafkaConfig: KafkaConfig = {
  requestBytesMax: 100 * 1024 * 1024,
  connectionsMax: 10_000,
  inFlightPerConnectionMax: 100,
  connectionIdleMs: 600_000,
  autoCreateTopics: true,
  autoCreatePartitions: 1,
  autoCreateReplicationFactor: 1,
  fetchWaitMsMax: 30_000,
  fetchBytesMax: 64 * 1024 * 1024,
};

export function checkKafkaConfig(config: KafkaConfig): void {
  for (const name of [
    'requestBytesMax',
    'connectionsMax',
    'inFlightPerConnectionMax',
    'connectionIdleMs',
    'autoCreatePartitions',
    'autoCreateReplicationFactor',
    'fetchWaitMsMax',
    'fetchBytesMax',
  ] as const) {
    assert(Number.isInteger(config[name]) && config[name] > 0, `kafka ${name} must be positive`);
  }
}
