// src/raft: the hand-written Raft for cluster metadata. The pure core lives in ./core; the
// shell around it (storage on level, HTTP/2 transport, tick driver, MetadataLog) sits here.
export type * from './types.ts';
export type { MetadataLog, MetadataStatus, StateMachine } from './metadata-log.ts';
export type { RaftStorage, RaftStorageState, RaftStorageUpdate } from './raft-storage.ts';
export { LevelRaftStorage, type LevelRaftStorageConfig } from './level-raft-storage.ts';
