// The bridge between the metadata image's partition record (plain numbers, as stored in the
// Raft log) and the replication core's PartitionState (branded node ids). The image keeps the
// same invariants the core asserts; `isWellFormedRecord` lets apply refuse, not crash, when a
// log written by a buggy or newer version breaks them.
import { toNodeId } from '../common/index.ts';
import type { PartitionState } from './replication/index.ts';

/**
 * The fields of a stored partition record these functions read: metadata-image.ts's
 * PartitionImage has them, and declaring them here keeps the image and this file acyclic.
 */
export interface PartitionRecordFields {
  readonly replicas: readonly number[];
  readonly leader: number | null;
  readonly leaderEpoch: number;
  readonly isr: readonly number[];
  readonly partitionEpoch: number;
}

export function toPartitionState(record: PartitionRecordFields): PartitionState {
  return {
    leader: record.leader === null ? null : toNodeId(record.leader),
    leaderEpoch: record.leaderEpoch,
    replicas: record.replicas.map(toNodeId),
    isr: record.isr.map(toNodeId),
    partitionEpoch: record.partitionEpoch,
  };
}

/** The core's invariants: a non-empty ISR within the replicas, a leader within the ISR. */
export function isWellFormedRecord(record: PartitionRecordFields): boolean {
  return (
    record.isr.length > 0 &&
    record.isr.every((id) => record.replicas.includes(id)) &&
    (record.leader === null || record.isr.includes(record.leader))
  );
}
