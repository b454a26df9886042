// The client library's surface: RillClient makes producers, consumers and admins. This module
// is also the installable package's entry (`import { RillClient } from 'rill/client'`).
export { RillClient, type RillClientConfig, type RillClientDeps } from './rill-client.ts';
export {
  Producer,
  defaultProducerConfig,
  type Acks,
  type ProducerConfig,
  type ProducerEvent,
  type ProducerMessage,
  type RecordHeader,
  type RecordMetadata,
} from './producer.ts';
export {
  Consumer,
  defaultConsumerConfig,
  type ConsumerConfig,
  type ConsumerRecord,
  type OffsetReset,
  type TopicPartition,
} from './consumer.ts';
export {
  GroupConsumer,
  defaultGroupConsumerConfig,
  type CommitOffset,
  type EachBatchPayload,
  type GroupConsumerConfig,
  type RebalanceListeners,
  type RunHandlers,
} from './group-consumer.ts';
export { type Assignor } from './group-membership.ts';
export {
  Admin,
  type CommittedOffset,
  type GroupDescription,
  type GroupListing,
  type GroupMemberDescription,
  type GroupPartitionDescription,
  type GroupState,
  type OffsetResetTarget,
  type ClusterDescription,
  type NewTopic,
  type PartitionDescription,
  type PartitionOffsets,
  type RaftStatus,
  type TopicConfigChanges,
  type TopicDescription,
  type TopicListing,
} from './admin.ts';
export { ClientError, type ClientErrorCode } from './client-error.ts';
export { decodeJson, decodeText } from './decode-text.ts';
export { MetadataCache, type MetadataConfig } from './metadata-cache.ts';
export {
  H2Transport,
  type Transport,
  type TransportRequest,
  type TransportResponse,
} from './transport.ts';
export { murmur2, partitionForKey, toPositive } from '../wire.ts';
export { StickyPartitioner } from './sticky-partitioner.ts';
export { backoffDelayMs, type BackoffConfig } from './backoff.ts';
export { BufferMemory } from './buffer-memory.ts';
export { RecordAccumulator, recordSizeBytes } from './record-accumulator.ts';
export { systemClock, systemRandom, systemWallClock } from './system-ports.ts';
