// src/broker: the node — metadata image (the controller's state machine), local replicas,
// produce and fetch. The API enters only through this file.
export { Broker, type BrokerConfig, type BrokerDeps } from './broker.ts';
export type * from './broker-types.ts';
export type { ProducerIdentity } from './producer-ids.ts';
export { producerIdLimits } from './producer-id-image.ts';
export {
  partitionMetricsMax,
  type LeaderPartitionStats,
  type PartitionStats,
} from './partition-metrics.ts';
export type { BrokerLogger } from './broker-logger.ts';
export {
  ReplicaService,
  defaultFetchSessionLimits,
  type SessionFetchResult,
  type SessionPartitionResult,
} from './replica-service.ts';
export {
  ReplicaFetcher,
  defaultReplicaFetcherConfig,
  type EpochEndOffsetAnswer,
  type EpochEndOffsetCall,
  isRefusal,
  type ReplicaFetchAnswer,
  type ReplicaTransport,
  type SessionFetchAnswer,
  type SessionFetchCall,
} from './replica-fetcher.ts';
export { BrokerError, brokerErrorCodes, isBrokerError, type BrokerErrorCode } from './errors.ts';
export {
  Controller,
  type ControllerConfig,
  type ControllerDeps,
  type ControllerMembership,
  type NodeProbe,
} from './controller.ts';
export {
  ControllerCore,
  type ControllerCoreConfig,
  type ControllerImageView,
  type ControllerPass,
  type HeartbeatAnswer,
  type HeartbeatRequest,
  type PartitionRef as ControllerPartitionRef,
  type ProbeOutcome,
  type ProbeRequest,
} from './controller-core.ts';
export {
  ControllerClient,
  answerHeartbeat,
  answerUnreachable,
  heartbeatPath,
  unreachablePath,
  type ControllerClientDeps,
  type ControllerEndpoint,
  type ControllerRequests,
  type LivenessChannel,
} from './controller-requests.ts';
export { NodeSession, type NodeSessionConfig, type NodeSessionDeps } from './node-session.ts';
export {
  HttpControllerChannel,
  metadataProposePath,
  type ControllerChannel,
  type ForwardedAnswer,
  type HttpControllerChannelConfig,
} from './controller-channel.ts';
export { controlledShutdown, movablePartitionCount } from './controlled-shutdown.ts';
export {
  ForwardingMetadataLog,
  answerForwardedProposal,
  type AppliedIndexSource,
  type ForwardingMetadataLogConfig,
  type ForwardingMetadataLogDeps,
} from './forwarding-metadata-log.ts';
export {
  decodeMetadataCommand,
  encodeMetadataCommand,
  type MetadataCommand,
  type MetadataResult,
} from './metadata-command.ts';
export {
  MetadataImage,
  metadataLimits,
  type NodeImage,
  type PartitionImage,
  type TopicImage,
} from './metadata-image.ts';
export {
  FilePartitionStore,
  type FilePartitionStoreConfig,
  type FilePartitionStoreDeps,
  type PartitionRef,
  type PartitionStore,
} from './partition-store.ts';
export { assignReplicas } from './replica-placement.ts';
export {
  LogCleanerService,
  cleanedPartitionsTrackedMax,
  defaultLogCleanerSettings,
  pickCandidate,
  type LogCleanerSettings,
  type LogCleanerStats,
} from './log-cleaner-service.ts';
export { defaultReplicationSettings, type ReplicationSettings } from './partition.ts';
export { toPartitionState } from './partition-record.ts';
export {
  cleanupPolicyName,
  defaultTopicConfig,
  describeTopicConfig,
  partitionLogConfig,
  resolveTopicConfig,
  topicConfigNames,
  type CleanupPolicy,
  type TopicConfig,
} from './topic-config.ts';
export { topicNameCharsMax, topicNameProblem } from './topic-name.ts';
export * from './group/index.ts';
export {
  GroupCoordinator,
  defaultGroupCoordinatorConfig,
  offsetsTopic,
  type CoordinatorLocation,
  type GroupCoordinatorConfig,
  type GroupCoordinatorDeps,
} from './group-coordinator.ts';
