// The log's expected failures. Each code says whether the caller may retry; a bug is an
// assert, never one of these. Only src/api/errors.ts maps these codes to HTTP statuses.
import { TypedError } from '../common/index.ts';

export const logErrorCodes = [
  'LOG_CORRUPT_BATCH', // Not retriable: bad CRC, length, magic or record layout. Drop the bytes.
  'LOG_INVALID_RECORD', // Not retriable: well-formed records that break a rule (offset deltas).
  'LOG_UNSUPPORTED_COMPRESSION', // Not retriable: codec bits 5–7 in the batch attributes.
  'LOG_RECORD_TOO_LARGE', // Not retriable: a batch exceeds max.message.bytes.
  'LOG_OFFSET_OUT_OF_RANGE', // Not retriable: below the log start or above the log end.
  'LOG_INVALID_OFFSET', // Not retriable: a follower batch does not continue the log end.
  'LOG_INVALID_EPOCH', // Not retriable: a leader epoch older than the log's latest.
  'LOG_CLOSED', // Retriable: the log was closed (moved or shutting down); find it again.
  'LOG_BUSY', // Retriable after backoff: too many appends are queued on this partition.
  'LOG_STORAGE_ERROR', // Not retriable: the disk failed a write or sync; the log is fenced.
] as const;
export type LogErrorCode = (typeof logErrorCodes)[number];

const retriableCodes: ReadonlySet<LogErrorCode> = new Set(['LOG_CLOSED', 'LOG_BUSY']);

export class LogError extends TypedError<LogErrorCode> {
  override name = 'LogError';
  constructor(
    code: LogErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, { ...options, retriable: retriableCodes.has(code) });
  }
}

export function isLogError(error: unknown): error is LogError {
  return error instanceof Error && error.name === 'LogError' && 'code' in error;
}
