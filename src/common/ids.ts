// Branded identifiers, so a node id is never mixed up with an offset or a Raft index.
import { assert } from './assert.ts';

export type NodeId = number & { readonly __brand: 'NodeId' };

export function toNodeId(value: number): NodeId {
  assert(Number.isSafeInteger(value), `node id ${value} is not an integer`);
  assert(value >= 0, `node id ${value} is negative`);
  return value as NodeId;
}
