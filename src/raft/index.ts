// src/raft: the hand-written Raft for cluster metadata. The pure core lives in ./core; the
// shell around it (storage on level, HTTP/2 transport, tick driver, MetadataLog) sits here.
export type * from './types.ts';
export type { MetadataLog, MetadataStatus, StateMachine } from './metadata-log.ts';
export type { RaftStorage, RaftStorageState, RaftStorageUpdate } from './raft-storage.ts';
export { LevelRaftStorage, type LevelRaftStorageConfig } from './level-raft-storage.ts';
export type { RaftTransport } from './raft-transport.ts';
export {
  HttpRaftTransport,
  raftMessagesPath,
  clusterSecretHeader,
  type HttpRaftTransportConfig,
  type HttpRaftTransportDeps,
  type RaftTransportCounters,
  type RaftHttpResponse,
  type RaftRequestHeaders,
} from './http-raft-transport.ts';
export { encodeRaftMessages, decodeRaftMessages, RaftWireError } from './raft-message-codec.ts';
