// src/raft: the hand-written Raft of the metadata group. The pure core (./core) is driven by a
// shell (storage, transport, ticks) that implements the MetadataLog contract.
export type * from './types.ts';
export type { MetadataLog, MetadataStatus, StateMachine } from './metadata-log.ts';
export { RaftError, raftErrorCodes, notLeaderError, type RaftErrorCode } from './errors.ts';
export { RaftCore } from './core/raft-core.ts';
export {
  raftCoreDefaults,
  emptyRestoredState,
  type RaftCoreConfig,
  type RaftCoreDeps,
  type RaftResult,
  type RaftRoleKind,
  type RaftStatus,
  type ProgressStatus,
  type RestoredState,
} from './core/raft-config.ts';
export {
  encodeConfigChange,
  decodeConfigChange,
  applyConfigChange,
  configChangeProblem,
} from './core/membership.ts';

// The shell: storage on level, the h2c transport, the tick driver and the MetadataLog.
export type { RaftStorage, RaftStorageState, RaftStorageUpdate } from './raft-storage.ts';
export { LevelRaftStorage, type LevelRaftStorageConfig } from './level-raft-storage.ts';
export type { RaftGroupTiming, RaftTransport } from './raft-transport.ts';
export {
  HttpRaftTransport,
  httpRaftTransportConfig,
  httpRaftTransportDefaults,
  raftMessagesPath,
  raftStreamPath,
  type HttpRaftTransportConfig,
  type HttpRaftTransportDeps,
  type RaftTransportCounters,
  type RaftHttpResponse,
  type RaftRequestHeaders,
} from './http-raft-transport.ts';
export { encodeRaftMessages, decodeRaftMessages, RaftWireError } from './raft-message-codec.ts';
export {
  RaftDriver,
  type RaftDriverConfig,
  type RaftDriverDeps,
  type RaftDriverCounters,
  type DrivenRaftCore,
} from './raft-driver.ts';
export {
  RaftMetadataLog,
  raftMetadataLogDefaults,
  type RaftMetadataLogConfig,
  type RaftMetadataLogDeps,
  type RaftMetadataLogObserver,
} from './raft-metadata-log.ts';
