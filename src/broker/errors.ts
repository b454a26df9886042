// The broker's expected failures, one catalog: each code (Kafka's error names, passed to clients
// unchanged; BROKER_BUSY and BROKER_NOT_READY are ours) with whether a retry can succeed. The
// API adds its HTTP status per code in src/api/errors.ts and the client reads the same table.
// This file imports only common, so the API's wire module may enter it directly.
import { TypedError } from '../common/index.ts';

/** What every catalog entry says about its code. */
export interface ErrorTraits {
  /** The same request may succeed later (possibly after a metadata refresh or backoff). */
  readonly retriable: boolean;
}

const retriable: ErrorTraits = { retriable: true };
const final: ErrorTraits = { retriable: false };

export const brokerErrorCatalog = {
  UNKNOWN_TOPIC_OR_PARTITION: retriable, // Refresh metadata: a new topic may not have spread.
  TOPIC_ALREADY_EXISTS: final,
  INVALID_TOPIC_EXCEPTION: final, // The name breaks the naming rules.
  INVALID_PARTITIONS: final,
  INVALID_REPLICATION_FACTOR: final, // Fewer alive nodes than replicas asked for.
  INVALID_CONFIG: final, // A topic config name or value is not accepted.
  INVALID_RECORD: final, // The batch breaks a topic rule (e.g. compression.type).
  CORRUPT_MESSAGE: final, // As sent: a batch failed its CRC or framing check.
  MESSAGE_TOO_LARGE: final, // A batch exceeds max.message.bytes.
  OFFSET_OUT_OF_RANGE: final, // Reset the position (details: logStartOffset, HW).
  NOT_LEADER_OR_FOLLOWER: retriable, // Refresh metadata, retry on the leader (details.leader).
  NOT_CONTROLLER: retriable, // Send metadata changes to the controller (details.leader).
  LEADER_NOT_AVAILABLE: retriable, // An election is in progress.
  NOT_ENOUGH_REPLICAS: retriable, // The ISR is smaller than min.insync.replicas; not appended.
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: retriable, // Ambiguous: the write may be in the log.
  REQUEST_TIMED_OUT: retriable, // Ambiguous: the write may be in the log.
  OFFSET_NOT_AVAILABLE: retriable, // A new leader's HW has not caught up yet.
  FENCED_LEADER_EPOCH: retriable, // After a metadata refresh: the caller's epoch is old.
  KAFKA_STORAGE_ERROR: retriable, // Elsewhere: this replica's disk failed.
  BROKER_BUSY: retriable, // After backoff: a configured limit was reached.
  BROKER_NOT_READY: retriable, // The node has not caught up with metadata yet.
  // Consumer groups (src/broker/group): Kafka's names; "rejoin" = heartbeat with memberId ""
  // and memberEpoch 0.
  NOT_COORDINATOR: retriable, // Find the coordinator again (details.coordinator).
  COORDINATOR_NOT_AVAILABLE: retriable, // __consumer_offsets is being created or has no leader.
  COORDINATOR_LOAD_IN_PROGRESS: retriable, // A new coordinator is replaying its partition.
  GROUP_ID_NOT_FOUND: final,
  UNKNOWN_MEMBER_ID: final, // Rejoin: the member expired or left.
  FENCED_MEMBER_EPOCH: final, // Rejoin: the epoch is not the coordinator's.
  STALE_MEMBER_EPOCH: final, // A commit from an older epoch of a live member.
  UNRELEASED_INSTANCE_ID: final, // The static instanceId is held by another live member.
  GROUP_MAX_SIZE_REACHED: final, // The group holds groupMembersMax members.
  NON_EMPTY_GROUP: final, // An admin change while the group has members.
  INCONSISTENT_GROUP_PROTOCOL: final, // The group uses the other protocol type.
  OFFSET_METADATA_TOO_LARGE: final, // A commit's metadata exceeds offsetMetadataMax.
  // Classic groups (Kafka protocol JoinGroup/SyncGroup; src/broker/group/classic-group-core.ts).
  MEMBER_ID_REQUIRED: final, // JoinGroup again with the member id given (details.memberId).
  REBALANCE_IN_PROGRESS: final, // JoinGroup again: the group is rebalancing.
  ILLEGAL_GENERATION: final, // JoinGroup again: the generation is not the group's.
  FENCED_INSTANCE_ID: final, // Stop: another member took this group.instance.id.
  INVALID_SESSION_TIMEOUT: final, // The session timeout is outside the coordinator's range.
  INVALID_GROUP_ID: final, // The group id is empty.
  // Idempotent producers (docs/api.md "Idempotent producers"); nothing was written for any.
  OUT_OF_ORDER_SEQUENCE_NUMBER: final, // A gap: resend the earlier batches first, in order.
  INVALID_PRODUCER_EPOCH: final, // A newer instance of the producer (same name) fenced this one.
  UNKNOWN_PRODUCER_ID: final, // Id never issued, or its state expired: re-initialise (POST).
} as const satisfies Record<string, ErrorTraits>;

export type BrokerErrorCode = keyof typeof brokerErrorCatalog;
export const brokerErrorCodes = Object.keys(brokerErrorCatalog) as readonly BrokerErrorCode[];

export class BrokerError extends TypedError<BrokerErrorCode> {
  override name = 'BrokerError';
  constructor(
    code: BrokerErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, { ...options, retriable: brokerErrorCatalog[code].retriable });
  }
}

export function isBrokerError(error: unknown): error is BrokerError {
  return error instanceof BrokerError;
}
