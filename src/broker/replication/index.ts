export * from './errors.ts';
export * from './partition-state.ts';
export * from './replica-log.ts';
export * from './isr.ts';
export * from './leader-replica.ts';
export * from './follower-replica.ts';
export * from './controller-decisions.ts';
