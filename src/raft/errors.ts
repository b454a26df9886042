// The expected failures of the Raft group: a code from `raftErrorCodes`, a `retriable` flag the
// caller acts on, and details (e.g. the leader hint). Bugs are assertions, never these codes.
import { TypedError } from '../common/index.ts';
import type { RaftNodeId } from './types.ts';

export const raftErrorCodes = [
  'RAFT_NOT_LEADER', // Retriable: send to `details.leaderId` when known, else retry after backoff.
  'RAFT_BUSY', // Retriable after backoff: a bound (uncommitted bytes, pending reads) was reached.
  'RAFT_TRANSFER_IN_PROGRESS', // Retriable: leadership is moving; retry on the new leader.
  'RAFT_CONFIG_CHANGE_PENDING', // Retriable: one membership change at a time (thesis §4.1).
  'RAFT_INVALID_CONFIG_CHANGE', // Not retriable: the change does not fit the current membership.
  'RAFT_INVALID_TRANSFER', // Not retriable: the target is not a voter of the group.
  'RAFT_ENTRY_TOO_LARGE', // Not retriable: the entry exceeds entryBytesMax.
  'RAFT_PROPOSAL_DROPPED', // Retriable: the entry was overwritten by a new leader; propose again.
  'RAFT_TIMEOUT', // Retriable: no answer in time (the shell's deadline); outcome unknown.
  'RAFT_STOPPED', // Not retriable on this node: it is shutting down.
] as const;
export type RaftErrorCode = (typeof raftErrorCodes)[number];

const retriableByCode: Record<RaftErrorCode, boolean> = {
  RAFT_NOT_LEADER: true,
  RAFT_BUSY: true,
  RAFT_TRANSFER_IN_PROGRESS: true,
  RAFT_CONFIG_CHANGE_PENDING: true,
  RAFT_INVALID_CONFIG_CHANGE: false,
  RAFT_INVALID_TRANSFER: false,
  RAFT_ENTRY_TOO_LARGE: false,
  RAFT_PROPOSAL_DROPPED: true,
  RAFT_TIMEOUT: true,
  RAFT_STOPPED: false,
};

export class RaftError extends TypedError<RaftErrorCode> {
  override name = 'RaftError';
  constructor(
    code: RaftErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(code, message, { ...options, retriable: retriableByCode[code] });
  }
}

export function notLeaderError(leaderId: RaftNodeId | null): RaftError {
  const hint = leaderId === null ? 'unknown' : String(leaderId);
  return new RaftError('RAFT_NOT_LEADER', `not the Raft leader (leader: ${hint})`, {
    details: { leaderId },
  });
}
