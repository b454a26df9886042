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
