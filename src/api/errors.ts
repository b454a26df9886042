// The one place that knows HTTP statuses. Every error response is
// {"error": {"code", "message", ...details}} with a Kafka error name as the code (API.md);
// the Record below makes a code without a status a compile error. 503 answers carry
// Retry-After. The broker's codes are a subset of these; api adds request-level ones.
import { TypedError } from '../common/index.ts';
import { brokerErrorCodes } from '../broker/index.ts';

export const apiOnlyErrorCodes = [
  'INVALID_REQUEST', // Not retriable: fix the request (malformed JSON, wrong type, bad query).
  'RECORD_LIST_TOO_LARGE', // Not retriable: the request body exceeds the server's limit.
  'UNSUPPORTED_MEDIA_TYPE', // Not retriable: use application/json or application/vnd.rill.batch.
  'NOT_FOUND', // Not retriable: no such route.
  'SASL_AUTHENTICATION_FAILED', // Not retriable: bad credentials.
  'CLUSTER_AUTHORIZATION_FAILED', // Not retriable: internal route without the cluster secret.
  'TOPIC_AUTHORIZATION_FAILED', // Not retriable.
  'GROUP_ID_NOT_FOUND', // Not retriable.
  'FENCED_MEMBER_EPOCH', // Retriable after rejoining the group.
  'UNKNOWN_MEMBER_ID', // Retriable after rejoining the group.
  'NOT_COORDINATOR', // Retriable: find the coordinator again.
  'COORDINATOR_NOT_AVAILABLE', // Retriable.
  'UNKNOWN_SERVER_ERROR', // A bug: the server logged it.
] as const;

export type ApiErrorCode = (typeof brokerErrorCodes)[number] | (typeof apiOnlyErrorCodes)[number];

export const httpStatusByCode: Readonly<Record<ApiErrorCode, number>> = {
  INVALID_REQUEST: 400,
  INVALID_RECORD: 400,
  INVALID_PARTITIONS: 400,
  INVALID_REPLICATION_FACTOR: 400,
  INVALID_CONFIG: 400,
  INVALID_TOPIC_EXCEPTION: 400,
  CORRUPT_MESSAGE: 400,
  SASL_AUTHENTICATION_FAILED: 401,
  CLUSTER_AUTHORIZATION_FAILED: 403,
  TOPIC_AUTHORIZATION_FAILED: 403,
  UNKNOWN_TOPIC_OR_PARTITION: 404,
  GROUP_ID_NOT_FOUND: 404,
  NOT_FOUND: 404,
  TOPIC_ALREADY_EXISTS: 409,
  FENCED_LEADER_EPOCH: 409,
  FENCED_MEMBER_EPOCH: 409,
  UNKNOWN_MEMBER_ID: 409,
  MESSAGE_TOO_LARGE: 413,
  RECORD_LIST_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  OFFSET_OUT_OF_RANGE: 416,
  NOT_LEADER_OR_FOLLOWER: 421,
  NOT_COORDINATOR: 421,
  NOT_CONTROLLER: 421,
  UNKNOWN_SERVER_ERROR: 500,
  NOT_ENOUGH_REPLICAS: 503,
  LEADER_NOT_AVAILABLE: 503,
  COORDINATOR_NOT_AVAILABLE: 503,
  OFFSET_NOT_AVAILABLE: 503,
  KAFKA_STORAGE_ERROR: 503,
  BROKER_BUSY: 503,
  BROKER_NOT_READY: 503,
  REQUEST_TIMED_OUT: 504,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 504,
};

/** Seconds a client should wait before retrying a 503. */
export const retryAfterSeconds = 1;

export class ApiError extends TypedError<ApiErrorCode> {
  override name = 'ApiError';
  constructor(code: ApiErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, { retriable: httpStatusByCode[code] >= 500, details });
  }
}

export function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return typeof code === 'string' && Object.hasOwn(httpStatusByCode, code);
}

export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { error: { code: ApiErrorCode; message: string } & Record<string, unknown> };
}

/** The response for a typed error; anything else is a bug and answers UNKNOWN_SERVER_ERROR. */
export function errorResponse(error: unknown): ErrorResponse {
  const typed = error instanceof TypedError && isApiErrorCode(error.code) ? error : null;
  const code: ApiErrorCode = typed === null ? 'UNKNOWN_SERVER_ERROR' : typed.code;
  const message = typed === null ? 'internal error; see the node log' : typed.message;
  const status = httpStatusByCode[code];
  const headers: Record<string, string> =
    status === 503 ? { 'retry-after': String(retryAfterSeconds) } : {};
  return { status, headers, body: { error: { ...(typed?.details ?? {}), code, message } } };
}
