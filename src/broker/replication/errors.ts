// The replication core's expected failures, named as Kafka names them so the API layer can map
// them one to one. Each entry says whether the caller may retry and what it should do first.
import { TypedError } from '../../common/index.ts';

export const replicationErrorCodes = [
  'NOT_ENOUGH_REPLICAS', // Retriable: |ISR| < min.insync.replicas; nothing was appended.
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND', // Retriable: appended, then the ISR shrank. Indeterminate.
  'REQUEST_TIMED_OUT', // Retriable: appended, not under the HW by the deadline. Indeterminate.
  'FENCED_LEADER_EPOCH', // Retriable: the requester's leader epoch is older; refresh metadata.
  'UNKNOWN_LEADER_EPOCH', // Retriable: the requester's leader epoch is newer; retry after backoff.
  'OFFSET_NOT_AVAILABLE', // Retriable: a new leader's HW has not yet reached its epoch start.
  'NOT_LEADER_OR_FOLLOWER', // Retriable: refresh metadata, then retry on the new leader.
  'OFFSET_OUT_OF_RANGE', // Not retriable as is: the reader must reset its position.
  'BROKER_BUSY', // Retriable after backoff: a configured `…Max` bound was reached.
] as const;
export type ReplicationErrorCode = (typeof replicationErrorCodes)[number];

const retriableByCode: Readonly<Record<ReplicationErrorCode, boolean>> = {
  NOT_ENOUGH_REPLICAS: true,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: true,
  REQUEST_TIMED_OUT: true,
  FENCED_LEADER_EPOCH: true,
  UNKNOWN_LEADER_EPOCH: true,
  OFFSET_NOT_AVAILABLE: true,
  NOT_LEADER_OR_FOLLOWER: true,
  OFFSET_OUT_OF_RANGE: false,
  BROKER_BUSY: true,
};

export function isRetriable(code: ReplicationErrorCode): boolean {
  return retriableByCode[code];
}

export class ReplicationError extends TypedError<ReplicationErrorCode> {
  override name = 'ReplicationError';
  constructor(code: ReplicationErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, { retriable: isRetriable(code), ...(details ? { details } : {}) });
  }
}

/** Codes the controller answers to an ISR change (Kafka's AlterPartition errors). */
export const isrChangeErrorCodes = [
  'INVALID_UPDATE_VERSION', // The partition epoch moved on: wait for metadata, do not retry.
  'FENCED_LEADER_EPOCH', // The requester no longer leads this epoch: wait for metadata.
  'INELIGIBLE_REPLICA', // A proposed member is fenced or not a replica: drop the change.
  'INVALID_REQUEST', // Breaks a rule (leader ∉ ISR, ISR ⊄ replicas): a bug upstream.
] as const;
export type IsrChangeErrorCode = (typeof isrChangeErrorCodes)[number];
