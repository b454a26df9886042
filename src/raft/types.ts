// The Raft vocabulary shared by the pure core (src/raft/core), the storage and the transport:
// entries, hard state, snapshots, messages and the Ready record. Raft says `term` and `index`;
// nothing here knows about brokers. Every value is plain data (structured-cloneable, JSON-able
// after converting Uint8Array data to base64), so the simulator and the wire can carry it.

export type Term = number;
export type Index = number;
export type RaftNodeId = number;

/** `command` carries an opaque state-machine command; `noop` is the leader's first entry;
 * `config` carries a membership change (single-server, §4.1 of Ongaro's thesis). */
export type EntryKind = 'command' | 'noop' | 'config';

export interface Entry {
  readonly term: Term;
  readonly index: Index;
  readonly kind: EntryKind;
  /** command: the serialized command; config: JSON of ConfigChange; noop: empty. */
  readonly data: Uint8Array;
}

export interface Membership {
  readonly voters: readonly RaftNodeId[];
  readonly observers: readonly RaftNodeId[];
}

export type ConfigChange =
  | { readonly type: 'add-voter'; readonly nodeId: RaftNodeId }
  | { readonly type: 'remove-voter'; readonly nodeId: RaftNodeId }
  | { readonly type: 'add-observer'; readonly nodeId: RaftNodeId }
  | { readonly type: 'promote-observer'; readonly nodeId: RaftNodeId }
  | { readonly type: 'remove-observer'; readonly nodeId: RaftNodeId };

/** Persisted before any message that depends on it leaves the node. */
export interface HardState {
  readonly term: Term;
  readonly vote: RaftNodeId | null;
  readonly commit: Index;
}

export interface SnapshotMeta {
  readonly index: Index;
  readonly term: Term;
  readonly membership: Membership;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The state machine image at meta.index. */
  readonly data: Uint8Array;
}

/** Every message carries the sender's term; `from`/`to` are node ids. */
interface Envelope {
  readonly from: RaftNodeId;
  readonly to: RaftNodeId;
  readonly term: Term;
}

export type RaftMessage =
  | (Envelope & {
      readonly type: 'vote-request';
      readonly preVote: boolean;
      readonly lastLogIndex: Index;
      readonly lastLogTerm: Term;
      /** Set by leadership transfer (TimeoutNow): voters skip the recent-leader check. */
      readonly transfer: boolean;
    })
  | (Envelope & {
      readonly type: 'vote-response';
      readonly preVote: boolean;
      readonly granted: boolean;
    })
  | (Envelope & {
      readonly type: 'append-request';
      readonly prevLogIndex: Index;
      readonly prevLogTerm: Term;
      readonly entries: readonly Entry[];
      readonly commit: Index;
      /** Echoed in the response so the leader can match it to a ReadIndex round. */
      readonly context: number;
    })
  | (Envelope & {
      readonly type: 'append-response';
      readonly success: boolean;
      /** On success: the follower's last index matching the leader. */
      readonly matchIndex: Index;
      /** On rejection: fast back-off hint (conflicting term and its first index, §5.3). */
      readonly conflictTerm: Term | null;
      readonly conflictIndex: Index;
      readonly lastLogIndex: Index;
      readonly context: number;
    })
  | (Envelope & { readonly type: 'snapshot-request'; readonly snapshot: Snapshot })
  | (Envelope & {
      readonly type: 'snapshot-response';
      readonly matchIndex: Index;
      readonly success: boolean;
    })
  | (Envelope & { readonly type: 'timeout-now' });

/**
 * All the work the driver must do, as data (etcd's Ready contract). The driver persists
 * `snapshot`, `entries` and `hardState` (synced) BEFORE sending `messages`, applies
 * `committed` (after a snapshot, if any), then calls `advance(ready)`.
 */
export interface Ready {
  readonly hardState: HardState | null;
  /** Append to stable storage; entries[0].index ≤ last stored index + 1 truncates the rest. */
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly messages: readonly RaftMessage[];
  readonly committed: readonly Entry[];
  /** ReadIndex requests that are now safe to serve once `index` is applied. */
  readonly readStates: readonly { readonly requestId: number; readonly index: Index }[];
}
