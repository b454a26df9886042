// The one place that knows HTTP statuses. Every error response is
// {"error": {"code", "message", ...details}} with a Kafka error name as the code (API.md).
// apiErrorCatalog is the exhaustive table {status, retriable} per code, which the client reads
// through ./wire.ts: the broker's catalog plus the request-level codes below. 503s carry
// Retry-After.
import { TypedError } from '../common/index.ts';
import { brokerErrorCatalog, type BrokerErrorCode, type ErrorTraits } from '../broker/errors.ts';

const retriable: ErrorTraits = { retriable: true };
const final: ErrorTraits = { retriable: false };

const apiOnlyErrorCatalog = {
  INVALID_REQUEST: final, // Fix the request (malformed JSON, wrong type, bad query).
  RECORD_LIST_TOO_LARGE: final, // The request body exceeds the server's limit.
  REQUEST_BODY_TIMEOUT: retriable, // The body arrived slower than the server's deadline.
  UNSUPPORTED_MEDIA_TYPE: final, // Use application/json or application/vnd.rill.batch.
  NOT_FOUND: final, // No such route (a broker of another version?).
  SASL_AUTHENTICATION_FAILED: final, // Bad credentials.
  CLUSTER_AUTHORIZATION_FAILED: final, // An internal route without the cluster secret.
  CONSOLE_WRITE_DISABLED: final, // A browser's change on a node without --console-write.
  TOPIC_AUTHORIZATION_FAILED: final,
  UNKNOWN_SERVER_ERROR: final, // A bug: the server logged it.
} as const satisfies Record<string, ErrorTraits>;

export type ApiErrorCode = BrokerErrorCode | keyof typeof apiOnlyErrorCatalog;

const httpStatusByCode: Readonly<Record<ApiErrorCode, number>> = {
  INVALID_REQUEST: 400,
  INVALID_RECORD: 400,
  INVALID_PARTITIONS: 400,
  INVALID_REPLICATION_FACTOR: 400,
  INVALID_CONFIG: 400,
  INVALID_TOPIC_EXCEPTION: 400,
  CORRUPT_MESSAGE: 400,
  SASL_AUTHENTICATION_FAILED: 401,
  CLUSTER_AUTHORIZATION_FAILED: 403,
  CONSOLE_WRITE_DISABLED: 403,
  TOPIC_AUTHORIZATION_FAILED: 403,
  UNKNOWN_TOPIC_OR_PARTITION: 404,
  GROUP_ID_NOT_FOUND: 404,
  NOT_FOUND: 404,
  TOPIC_ALREADY_EXISTS: 409,
  FENCED_LEADER_EPOCH: 409,
  FENCED_MEMBER_EPOCH: 409,
  UNKNOWN_MEMBER_ID: 409,
  STALE_MEMBER_EPOCH: 409,
  UNRELEASED_INSTANCE_ID: 409,
  GROUP_MAX_SIZE_REACHED: 409,
  NON_EMPTY_GROUP: 409,
  INCONSISTENT_GROUP_PROTOCOL: 409,
  OUT_OF_ORDER_SEQUENCE_NUMBER: 409,
  INVALID_PRODUCER_EPOCH: 409,
  UNKNOWN_PRODUCER_ID: 409,
  REQUEST_BODY_TIMEOUT: 408,
  MESSAGE_TOO_LARGE: 413,
  OFFSET_METADATA_TOO_LARGE: 413,
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
  COORDINATOR_LOAD_IN_PROGRESS: 503,
  OFFSET_NOT_AVAILABLE: 503,
  KAFKA_STORAGE_ERROR: 503,
  BROKER_BUSY: 503,
  BROKER_NOT_READY: 503,
  REQUEST_TIMED_OUT: 504,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 504,
};

export interface ApiErrorEntry extends ErrorTraits {
  readonly status: number;
}

const traitsByCode: Readonly<Record<ApiErrorCode, ErrorTraits>> = {
  ...brokerErrorCatalog,
  ...apiOnlyErrorCatalog,
};

/** Every code a node may answer: its HTTP status and whether a retry can succeed. */
export const apiErrorCatalog: Readonly<Record<ApiErrorCode, ApiErrorEntry>> = Object.freeze(
  Object.fromEntries(
    Object.entries(httpStatusByCode).map(([code, status]) => [
      code,
      { status, retriable: traitsByCode[code as ApiErrorCode].retriable },
    ]),
  ) as Record<ApiErrorCode, ApiErrorEntry>,
);

export const apiErrorCodes = Object.keys(apiErrorCatalog) as readonly ApiErrorCode[];

/** Seconds a client should wait before retrying a 503. */
export const retryAfterSeconds = 1;

export class ApiError extends TypedError<ApiErrorCode> {
  override name = 'ApiError';
  constructor(code: ApiErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, { retriable: apiErrorCatalog[code].retriable, details });
  }
}

export function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return typeof code === 'string' && Object.hasOwn(apiErrorCatalog, code);
}

/** The body of every error answer (API.md). */
// A type, not an interface, so that it is also a Record<string, unknown>.
export type ErrorBody = {
  readonly error: { code: ApiErrorCode; message: string } & Record<string, unknown>;
};

export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: ErrorBody;
}

/** The response for a typed error; anything else is a bug and answers UNKNOWN_SERVER_ERROR. */
export function errorResponse(error: unknown): ErrorResponse {
  const typed = error instanceof TypedError && isApiErrorCode(error.code) ? error : null;
  const code: ApiErrorCode = typed === null ? 'UNKNOWN_SERVER_ERROR' : typed.code;
  const message = typed === null ? 'internal error; see the node log' : typed.message;
  const status = apiErrorCatalog[code].status;
  const headers: Record<string, string> =
    status === 503 ? { 'retry-after': String(retryAfterSeconds) } : {};
  return { status, headers, body: { error: { ...(typed?.details ?? {}), code, message } } };
}
