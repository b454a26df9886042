// The group coordinator's pure parts (KIP-848 consumer protocol, and the classic one beside it):
// the cores, assignors, records and the safe regex; src/broker/group-coordinator.ts is the
// shell that runs them.
export * from './assignor.ts';
export * from './classic-consumer-protocol.ts';
export * from './classic-group-core.ts';
export * from './classic-group-state.ts';
export * from './group-coordinator-core.ts';
export * from './group-errors.ts';
export * from './group-records.ts';
export * from './group-state.ts';
export * from './regex-subscription.ts';
export * from './topic-partitions.ts';
