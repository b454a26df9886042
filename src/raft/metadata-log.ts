// The contract between the metadata group and the broker: propose a typed command, it is
// committed, every node applies it in the same order to its state machine. Implemented by the
// Raft driver (RaftMetadataLog) and, for a one-node deployment without Raft, by the broker's
// level-backed log. Commands are JSON-serializable values.

/** The replicated state machine (the broker's metadata image). Must be deterministic. */
export interface StateMachine<Command> {
  /** Applies one committed command; the result goes back to the proposer on this node. */
  apply(command: Command, index: number): unknown;
  /** A self-contained image of the state after the last applied index. */
  snapshot(): Uint8Array;
  restore(snapshot: Uint8Array): void;
}

export interface MetadataStatus {
  readonly nodeId: number;
  readonly role: 'leader' | 'follower' | 'candidate' | 'pre-candidate' | 'observer';
  readonly term: number;
  readonly leaderId: number | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly voters: readonly number[];
  /**
   * On the leader only: each other member's match index and the milliseconds since this node
   * last received a message from it (null if never).
   */
  readonly followers?: readonly RaftFollowerStatus[];
}

export interface RaftFollowerStatus {
  readonly nodeId: number;
  readonly matchIndex: number;
  readonly lastContactMs: number | null;
}

export interface MetadataLog<Command> {
  /** Opens storage, restores the latest snapshot and replays the log into the state machine. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Resolves once the command is committed and applied on this node, with apply()'s result.
   * Rejects with a typed error: not the leader (retriable, with the leader id when known),
   * busy (retriable), or stopped.
   */
  propose(command: Command): Promise<{ index: number; result: unknown }>;
  /** Linearizable read barrier (ReadIndex): resolves once this node has applied every entry
   * committed before the call. */
  barrier(): Promise<void>;
  status(): MetadataStatus;
  /** Called on every leadership change seen by this node, with the new leader (or null). */
  onLeaderChange(listener: (leaderId: number | null, term: number) => void): void;
}
