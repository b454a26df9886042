// The broker's error mapping: the log's and the metadata log's failures (LOG_*, RAFT_*) become
// the BrokerError a client acts on (Kafka's codes, src/broker/errors.ts). Anything unexpected
// passes through unchanged, so the API answers it as the bug it is.
import { isLogError } from '../log/index.ts';
import { BrokerError, type BrokerErrorCode } from './errors.ts';

/** What the mapping needs of a replica: its name and its offsets for OFFSET_OUT_OF_RANGE. */
export interface MappedReplica {
  readonly key: string;
  offsets(): { readonly logStartOffset: number; readonly highWatermark: number };
}

/** Maps the log's failures to what a client acts on. */
export function fromLogError(error: unknown, replica: MappedReplica): unknown {
  if (!isLogError(error)) return error;
  const { logStartOffset, highWatermark } = replica.offsets();
  switch (error.code) {
    case 'LOG_CORRUPT_BATCH':
    case 'LOG_UNSUPPORTED_COMPRESSION':
      return new BrokerError('CORRUPT_MESSAGE', error.message, { cause: error });
    case 'LOG_INVALID_RECORD':
      return new BrokerError('INVALID_RECORD', error.message, { cause: error });
    case 'LOG_RECORD_TOO_LARGE':
      return new BrokerError('MESSAGE_TOO_LARGE', error.message, { cause: error });
    case 'LOG_OFFSET_OUT_OF_RANGE':
      return new BrokerError('OFFSET_OUT_OF_RANGE', error.message, {
        cause: error,
        details: { logStartOffset, highWatermark },
      });
    case 'LOG_CLOSED':
      return new BrokerError('LEADER_NOT_AVAILABLE', `${replica.key} is reopening`, {
        cause: error,
      });
    case 'LOG_BUSY':
      return new BrokerError('BROKER_BUSY', error.message, { cause: error });
    case 'LOG_INVALID_OFFSET':
    case 'LOG_INVALID_EPOCH':
    case 'LOG_STORAGE_ERROR':
      return new BrokerError('KAFKA_STORAGE_ERROR', error.message, { cause: error });
    default:
      return error;
  }
}

const brokerCodeByMetadataCode: Readonly<Record<string, BrokerErrorCode>> = {
  RAFT_NOT_LEADER: 'NOT_CONTROLLER',
  RAFT_TRANSFER_IN_PROGRESS: 'NOT_CONTROLLER',
  RAFT_BUSY: 'BROKER_BUSY',
  RAFT_TIMEOUT: 'REQUEST_TIMED_OUT',
  RAFT_PROPOSAL_DROPPED: 'REQUEST_TIMED_OUT',
  RAFT_STOPPED: 'BROKER_NOT_READY',
  RAFT_ENTRY_TOO_LARGE: 'INVALID_CONFIG',
};

/**
 * Maps a metadata log failure; NOT_CONTROLLER carries the controller's address (details.leader)
 * when `controller()` knows it, so the caller can go there.
 */
export function fromMetadataError(
  error: unknown,
  controller: () => { readonly id: number; readonly url: string } | undefined,
): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !Object.hasOwn(brokerCodeByMetadataCode, code)) return error;
  const brokerCode = brokerCodeByMetadataCode[code] as BrokerErrorCode;
  const leader = brokerCode === 'NOT_CONTROLLER' ? controller() : undefined;
  const details = leader === undefined ? {} : { leader: { id: leader.id, url: leader.url } };
  return new BrokerError(brokerCode, (error as Error).message, { cause: error, details });
}
