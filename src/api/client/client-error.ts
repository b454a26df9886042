// The client's expected failures: every code a node may answer (Kafka's names, API.md), read
// with its retriable flag from the server's own catalog in ../wire.ts, plus the client's own
// CLIENT_* codes. Retriable codes are retried inside the client before they reach the caller.
import { TypedError } from '../../common/index.ts';
import { apiErrorCatalog, isApiErrorCode, type ApiErrorCode } from '../wire.ts';

const clientOnlyErrorCatalog = {
  CLIENT_CONNECTION: { retriable: true }, // Ambiguous: the connection failed mid-request.
  CLIENT_TIMEOUT: { retriable: true }, // Ambiguous: no answer within requestTimeoutMs.
  CLIENT_BAD_RESPONSE: { retriable: false }, // The broker answered something unreadable.
  CLIENT_RESPONSE_TOO_LARGE: { retriable: false }, // The answer exceeded its byte bound.
  CLIENT_BUFFER_TIMEOUT: { retriable: false }, // buffer.memory stayed full for maxBlockMs.
  CLIENT_BUFFER_FULL: { retriable: true }, // Too many sends already wait for buffer space.
  CLIENT_RECORD_TOO_LARGE: { retriable: false }, // One record exceeds buffer.memory or request.
  CLIENT_DELIVERY_TIMEOUT: { retriable: false }, // Retries ran past deliveryTimeoutMs.
  CLIENT_CLOSED: { retriable: false }, // The producer, consumer or admin was closed.
  CLIENT_NO_BROKER: { retriable: true }, // No bootstrap or known broker answered.
  CLIENT_NOT_ASSIGNED: { retriable: false }, // The partition is not assigned to this consumer.
} as const satisfies Record<string, { readonly retriable: boolean }>;

/** A code a broker may answer; UNKNOWN_SERVER_ERROR also stands for one this client lacks. */
export type BrokerErrorCode = ApiErrorCode;
export type ClientErrorCode = BrokerErrorCode | keyof typeof clientOnlyErrorCatalog;

const retriableByCode: Readonly<Record<ClientErrorCode, { readonly retriable: boolean }>> = {
  ...apiErrorCatalog,
  ...clientOnlyErrorCatalog,
};

/** Codes after which the client's view of partition leadership is stale. */
export const staleMetadataCodes: ReadonlySet<ClientErrorCode> = new Set<ClientErrorCode>([
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'FENCED_LEADER_EPOCH',
  'KAFKA_STORAGE_ERROR',
  'CLIENT_CONNECTION',
]);

export function isBrokerErrorCode(code: string): code is BrokerErrorCode {
  return isApiErrorCode(code);
}

export function isRetriableCode(code: ClientErrorCode): boolean {
  return retriableByCode[code].retriable;
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
