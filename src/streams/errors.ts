// The expected failures of Rill Streams: a code from `streamsErrorCodes`, a `retriable` flag and
// details naming what failed. Topology mistakes are found when a topology is built or started,
// never mid-stream; bugs are assertions. The library answers no HTTP, so no status is tabled.
import { TypedError } from '../common/index.ts';

export const streamsErrorCodes = [
  'STREAMS_INVALID_NAME', // Not retriable: a stateful operator's name is empty or malformed.
  'STREAMS_DUPLICATE_NAME', // Not retriable: two operators, stores or topics share a name.
  'STREAMS_SERDES_MISSING', // Not retriable: a topic or store needs serdes the step lacks.
  'STREAMS_NOT_COPARTITIONED', // Not retriable: a join's inputs differ in partition count.
  'STREAMS_UNKNOWN_TOPIC', // Not retriable: an input topic does not exist.
  'STREAMS_INVALID_WINDOW', // Not retriable: a window size, advance or grace is invalid.
  'STREAMS_STORE_FULL', // Not retriable: a store reached its entriesMax; raise it or shard.
  'STREAMS_DESERIALIZATION', // Not retriable: an input record does not decode with its serdes.
  'STREAMS_HANDLER', // Not retriable: a user function threw while processing a record.
  'STREAMS_CLOSED', // Not retriable: the driver or application was closed.
  'STREAMS_CHECKPOINT_INVALID', // Not retriable: a checkpoint record does not decode.
  'STREAMS_STATE_DIR_LOCKED', // Not retriable: another instance holds this application's state.
] as const;
export type StreamsErrorCode = (typeof streamsErrorCodes)[number];

const retriableByCode: Record<StreamsErrorCode, boolean> = {
  STREAMS_INVALID_NAME: false,
  STREAMS_DUPLICATE_NAME: false,
  STREAMS_SERDES_MISSING: false,
  STREAMS_NOT_COPARTITIONED: false,
  STREAMS_UNKNOWN_TOPIC: false,
  STREAMS_INVALID_WINDOW: false,
  STREAMS_STORE_FULL: false,
  STREAMS_DESERIALIZATION: false,
  STREAMS_HANDLER: false,
  STREAMS_CLOSED: false,
  STREAMS_CHECKPOINT_INVALID: false,
  STREAMS_STATE_DIR_LOCKED: false,
};

export class StreamsError extends TypedError<StreamsErrorCode> {
  override name = 'StreamsError';
  constructor(
    code: StreamsErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, { ...options, retriable: retriableByCode[code] });
  }
}
