// The broker's expected failures. Codes are Kafka's error names, because the API passes them
// to clients unchanged (src/api/errors.ts maps each to an HTTP status); BROKER_BUSY is ours.
// Each comment says what the caller does.
import { TypedError } from '../common/index.ts';

export const brokerErrorCodes = [
  'UNKNOWN_TOPIC_OR_PARTITION', // Not retriable here: refresh metadata; the topic may be gone.
  'TOPIC_ALREADY_EXISTS', // Not retriable.
  'INVALID_TOPIC_EXCEPTION', // Not retriable: the name breaks the naming rules.
  'INVALID_PARTITIONS', // Not retriable.
  'INVALID_REPLICATION_FACTOR', // Not retriable: fewer alive nodes than replicas asked for.
  'INVALID_CONFIG', // Not retriable: a topic config name or value is not accepted.
  'INVALID_RECORD', // Not retriable: the batch breaks a topic rule (e.g. compression.type).
  'CORRUPT_MESSAGE', // Not retriable as sent: a batch failed its CRC or framing check.
  'MESSAGE_TOO_LARGE', // Not retriable: a batch exceeds max.message.bytes.
  'OFFSET_OUT_OF_RANGE', // Not retriable: reset the position (details: logStartOffset, HW).
  'NOT_LEADER_OR_FOLLOWER', // Retriable: refresh metadata, retry on the leader (details.leader).
  'NOT_CONTROLLER', // Retriable: send metadata changes to the controller (details.leader).
  'LEADER_NOT_AVAILABLE', // Retriable: an election is in progress.
  'NOT_ENOUGH_REPLICAS', // Retriable: the ISR is smaller than min.insync.replicas.
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND', // Retriable, but the write may be in the log.
  'REQUEST_TIMED_OUT', // Retriable, but the write may be in the log.
  'OFFSET_NOT_AVAILABLE', // Retriable: a new leader's HW has not caught up yet.
  'FENCED_LEADER_EPOCH', // Retriable after a metadata refresh: the caller's epoch is old.
  'KAFKA_STORAGE_ERROR', // Retriable elsewhere: this replica's disk failed.
  'BROKER_BUSY', // Retriable after backoff: a configured limit was reached.
  'BROKER_NOT_READY', // Retriable: the node has not caught up with metadata yet.
] as const;
export type BrokerErrorCode = (typeof brokerErrorCodes)[number];

const retriableCodes: ReadonlySet<BrokerErrorCode> = new Set<BrokerErrorCode>([
  'NOT_LEADER_OR_FOLLOWER',
  'NOT_CONTROLLER',
  'LEADER_NOT_AVAILABLE',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'REQUEST_TIMED_OUT',
  'OFFSET_NOT_AVAILABLE',
  'FENCED_LEADER_EPOCH',
  'KAFKA_STORAGE_ERROR',
  'BROKER_BUSY',
  'BROKER_NOT_READY',
]);

export class BrokerError extends TypedError<BrokerErrorCode> {
  override name = 'BrokerError';
  constructor(
    code: BrokerErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, { ...options, retriable: retriableCodes.has(code) });
  }
}

export function isBrokerError(error: unknown): error is BrokerError {
  return error instanceof BrokerError;
}
