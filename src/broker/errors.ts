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
