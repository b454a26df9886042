// src/raft: the hand-written Raft for cluster metadata. The pure core lives in ./core; the
// shell around it (storage on level, HTTP/2 transport, tick driver, MetadataLog) sits here.
export type * from './types.ts';
export type { MetadataLog, MetadataStatus, StateMachine } from './metadata-log.ts';
