// The configuration, restored state and status shapes of the pure Raft core: validated data
// with every limit (the constructor's `config`) and capabilities (`deps`). Every limit is a named
// positive integer; the defaults suit the metadata group (small entries, ~10 ticks per election).
import { assert, type Random } from '../../common/index.ts';
import type { Entry, HardState, Index, Membership, RaftNodeId, Snapshot, Term } from '../types.ts';
import type { RaftError } from '../errors.ts';

export interface RaftCoreConfig {
  readonly id: RaftNodeId;
  /** The membership of a brand-new group, used when storage holds no snapshot or config. */
  readonly initialMembership: Membership;
  /** Followers wait a random number of ticks in [this, 2·this) before campaigning. */
  readonly electionTimeoutTicks: number;
  readonly heartbeatTicks: number;
  /** Pre-vote (thesis §9.6): a partitioned node cannot raise the term of a healthy group. */
  readonly preVote: boolean;
  /** Check-quorum (thesis §6.2): leaders step down without a quorum; voters keep a lease. */
  readonly checkQuorum: boolean;
  /** Appends in flight to one follower in the replicate state. */
  readonly inflightAppendsMax: number;
  /** Entry data bytes in one append message (at least one entry is always sent). */
  readonly appendBytesMax: number;
  /** Data bytes the leader holds uncommitted in its term before answering RAFT_BUSY. */
  readonly uncommittedBytesMax: number;
  readonly entryBytesMax: number;
  /** ReadIndex requests waiting on the leader, and forwarded ones, before RAFT_BUSY. */
  readonly readIndexPendingMax: number;
  /** Committed entries handed out in one Ready, to bound the driver's apply batch. */
  readonly committedPerReadyMax: number;
}

export const raftCoreDefaults = {
  electionTimeoutTicks: 10,
  heartbeatTicks: 1,
  preVote: true,
  checkQuorum: true,
  inflightAppendsMax: 64,
  appendBytesMax: 1024 * 1024,
  uncommittedBytesMax: 64 * 1024 * 1024,
  entryBytesMax: 1024 * 1024,
  readIndexPendingMax: 4096,
  committedPerReadyMax: 4096,
} as const;

/** What the node made durable before it (re)started; see emptyRestoredState for a new node. */
export interface RestoredState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** The stored entries after the snapshot, contiguous. */
  readonly entries: readonly Entry[];
}

export function emptyRestoredState(): RestoredState {
  return { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };
}

export interface RaftCoreDeps {
  readonly random: Random;
  readonly restored: RestoredState;
}

export type RaftRoleKind = 'follower' | 'observer' | 'pre-candidate' | 'candidate' | 'leader';

export type RaftResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: RaftError };

export interface RaftStatus {
  readonly id: RaftNodeId;
  readonly role: RaftRoleKind;
  readonly term: Term;
  readonly vote: RaftNodeId | null;
  readonly leaderId: RaftNodeId | null;
  readonly commitIndex: Index;
  readonly appliedIndex: Index;
  readonly firstIndex: Index;
  readonly lastIndex: Index;
  readonly lastTerm: Term;
  readonly stableIndex: Index;
  readonly snapshotIndex: Index;
  readonly membership: Membership;
  readonly transferTarget: RaftNodeId | null;
  /** The leader's view of each follower; null on other roles. */
  readonly progress: readonly ProgressStatus[] | null;
}

export interface ProgressStatus {
  readonly id: RaftNodeId;
  readonly match: Index;
  readonly next: Index;
  readonly state: 'probe' | 'replicate' | 'snapshot';
}

export function assertValidConfig(config: RaftCoreConfig): void {
  const positive: (keyof RaftCoreConfig)[] = [
    'electionTimeoutTicks',
    'heartbeatTicks',
    'inflightAppendsMax',
    'appendBytesMax',
    'uncommittedBytesMax',
    'entryBytesMax',
    'readIndexPendingMax',
    'committedPerReadyMax',
  ];
  for (const key of positive) {
    const value = config[key];
    assert(
      typeof value === 'number' && Number.isInteger(value) && value > 0,
      `${key} must be a positive integer`,
    );
  }
  assert(
    config.heartbeatTicks < config.electionTimeoutTicks,
    'heartbeat must be shorter than election',
  );
}
