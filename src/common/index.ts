// src/common: the leaf module. Assertions, ports for time and randomness, bounded queues, ids,
// the cluster secret's header and check.
export { assert, assertNever, AssertionError } from './assert.ts';
export { TypedError } from './typed-error.ts';
export type { Clock, WallClock } from './clock.ts';
export { SeededRandom, randomId, type Random } from './random.ts';
export { BoundedQueue } from './bounded-queue.ts';
export { toNodeId, type NodeId } from './ids.ts';
export { clusterSecretCheck, clusterSecretHeader } from './cluster-secret.ts';
export { FrameTooLargeError, LengthFrameSplitter, lengthFrame } from './length-frames.ts';
