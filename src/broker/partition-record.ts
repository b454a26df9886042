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

/** What a node's own record says of it: metadata-image.ts's NodeImage has these fields. */
export interface OwnNodeFields {
  readonly status: 'alive' | 'fenced';
  readonly shuttingDown: boolean;
}

/**
 * The record as node `self` may act on it (issue 7). A fenced node does not lead: a restarted
 * incarnation registers fenced, and the record may still name it leader in an epoch its old
 * incarnation held, whose unflushed tail it may have lost; the controller moves that leadership
 * away before it unfences the node, so the node leads only epochs elected after its
 * registration. A node in controlled shutdown is fenced but keeps serving what it leads.
 */
export function actionableRecord<R extends PartitionRecordFields>(
  record: R,
  self: number,
  own: OwnNodeFields | undefined,
): R {
  if (record.leader !== self) return record;
  const mayLead = own !== undefined && (own.status === 'alive' || own.shuttingDown);
  return mayLead ? record : { ...record, leader: null };
}
