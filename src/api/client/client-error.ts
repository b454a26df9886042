// The client's expected failures: the broker's error codes (Kafka's names, API.md) plus the
// client's own CLIENT_* codes. Each code says whether a retry can succeed; retriable broker codes
// are retried inside the client before they ever reach the caller.
import { TypedError } from '../../common/index.ts';

export const brokerErrorCodes = [
  'INVALID_REQUEST', // Not retriable: the request itself is wrong.
  'INVALID_RECORD',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_CONFIG',
  'CORRUPT_MESSAGE', // Not retriable: the batch failed the broker's CRC check.
  'SASL_AUTHENTICATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TOPIC_AUTHORIZATION_FAILED',
  'UNKNOWN_TOPIC_OR_PARTITION', // Retriable for a while: a new topic may not have spread yet.
  'GROUP_ID_NOT_FOUND',
  'TOPIC_ALREADY_EXISTS',
  'FENCED_LEADER_EPOCH', // Retriable: refresh metadata, the leader moved on.
  'FENCED_MEMBER_EPOCH',
  'UNKNOWN_MEMBER_ID',
  'MESSAGE_TOO_LARGE', // Not retriable: lower batch.size or raise max.message.bytes.
  'RECORD_LIST_TOO_LARGE',
  'OFFSET_OUT_OF_RANGE', // Not retriable: the consumer must reset its position.
  'NOT_LEADER_OR_FOLLOWER', // Retriable: refresh metadata, then go to the new leader.
  'NOT_COORDINATOR',
  'NOT_CONTROLLER',
  'NOT_ENOUGH_REPLICAS', // Retriable: nothing was appended.
  'LEADER_NOT_AVAILABLE', // Retriable: an election is under way.
  'COORDINATOR_NOT_AVAILABLE',
  'OFFSET_NOT_AVAILABLE', // Retriable: a new leader's high watermark is catching up.
  'REQUEST_TIMED_OUT', // Retriable, ambiguous: the records may have been appended.
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND', // Retriable, ambiguous: appended on the leader only.
  'INVALID_TOPIC_EXCEPTION', // Not retriable: the topic name is not allowed.
  'UNSUPPORTED_MEDIA_TYPE', // Not retriable: a bug in this client.
  'NOT_FOUND', // Not retriable: no such route (a broker of another version?).
  'KAFKA_STORAGE_ERROR', // Retriable: the leader's disk failed; another leader will take over.
  'BROKER_BUSY', // Retriable after backoff: a broker limit was reached.
  'BROKER_NOT_READY', // Retriable: the node is still catching up with metadata.
  'UNKNOWN_SERVER_ERROR', // Not retriable: a code or status this client does not know.
] as const;

export const clientOnlyErrorCodes = [
  'CLIENT_CONNECTION', // Retriable, ambiguous: the connection failed mid-request.
  'CLIENT_TIMEOUT', // Retriable, ambiguous: no answer within requestTimeoutMs.
  'CLIENT_BAD_RESPONSE', // Not retriable: the broker answered something unreadable.
  'CLIENT_RESPONSE_TOO_LARGE', // Not retriable: the answer exceeded its byte bound.
  'CLIENT_BUFFER_TIMEOUT', // Not retriable: buffer.memory stayed full for maxBlockMs.
  'CLIENT_BUFFER_FULL', // Retriable: too many sends are already waiting for buffer space.
  'CLIENT_RECORD_TOO_LARGE', // Not retriable: one record exceeds buffer.memory or the request.
  'CLIENT_DELIVERY_TIMEOUT', // Not retriable: retries ran past deliveryTimeoutMs.
  'CLIENT_CLOSED', // Not retriable: the producer, consumer or admin was closed.
  'CLIENT_NO_BROKER', // Retriable: no bootstrap or known broker answered.
  'CLIENT_NOT_ASSIGNED', // Not retriable: the partition is not assigned to this consumer.
] as const;

export type BrokerErrorCode = (typeof brokerErrorCodes)[number];
export type ClientErrorCode = BrokerErrorCode | (typeof clientOnlyErrorCodes)[number];

const retriableCodes: ReadonlySet<ClientErrorCode> = new Set<ClientErrorCode>([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'FENCED_LEADER_EPOCH',
  'NOT_LEADER_OR_FOLLOWER',
  'NOT_COORDINATOR',
  'NOT_CONTROLLER',
  'NOT_ENOUGH_REPLICAS',
  'LEADER_NOT_AVAILABLE',
  'COORDINATOR_NOT_AVAILABLE',
  'OFFSET_NOT_AVAILABLE',
  'REQUEST_TIMED_OUT',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'KAFKA_STORAGE_ERROR',
  'BROKER_BUSY',
  'BROKER_NOT_READY',
  'CLIENT_CONNECTION',
  'CLIENT_TIMEOUT',
  'CLIENT_BUFFER_FULL',
  'CLIENT_NO_BROKER',
]);

/** Codes after which the client's view of partition leadership is stale. */
export const staleMetadataCodes: ReadonlySet<ClientErrorCode> = new Set<ClientErrorCode>([
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'FENCED_LEADER_EPOCH',
  'KAFKA_STORAGE_ERROR',
  'CLIENT_CONNECTION',
]);

const brokerCodeSet: ReadonlySet<string> = new Set(brokerErrorCodes);

export function isBrokerErrorCode(code: string): code is BrokerErrorCode {
  return brokerCodeSet.has(code);
}

export function isRetriableCode(code: ClientErrorCode): boolean {
  return retriableCodes.has(code);
}

export class ClientError extends TypedError<ClientErrorCode> {
  override name = 'ClientError';
  constructor(
    code: ClientErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, { ...options, retriable: isRetriableCode(code) });
  }
}
