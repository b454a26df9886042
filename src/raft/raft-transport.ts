// The transport port of a Raft node: fire-and-forget delivery of messages to peers, and a
// single inbound handler. Delivery is best effort (Raft tolerates loss, duplication and
// reordering); a send never blocks or throws for a slow or dead peer. The real implementation
// is ./http-raft-transport.ts; the simulator keeps its own network twin.
import type { RaftMessage, RaftNodeId } from './types.ts';

export interface RaftTransport {
  /** Queues a message for its `to` node; drops it (and counts the drop) if that queue is full. */
  send(message: RaftMessage): void;
  /** Registers the one handler of inbound messages addressed to this node. */
  onMessage(handler: (message: RaftMessage) => void): void;
  /** Adds or replaces a peer's address (a membership change brings a new node). */
  setPeer(nodeId: RaftNodeId, url: string): void;
  close(): Promise<void>;
  /**
   * Optional: registers a listener called with a peer's id when a request to it fails to
   * connect (refused or reset), a definite sign that the peer's process is gone.
   */
  onPeerUnreachable?(listener: (nodeId: RaftNodeId) => void): void;
}

/** A member's group and Raft timing: what the log runs with and a transport is derived from. */
export interface RaftGroupTiming {
  readonly nodeId: RaftNodeId;
  /** Voting members at bootstrap, with their base URLs (`http://host:port`). */
  readonly voters: ReadonlyMap<RaftNodeId, string>;
  /**
   * Nodes outside the voters with their base URLs: a node not in --voters lists itself here.
   * They are no members at bootstrap; an add-observer entry makes one an observer.
   */
  readonly observers: ReadonlyMap<RaftNodeId, string>;
  readonly tickMs: number;
  readonly electionTimeoutTicks: number;
  readonly heartbeatTicks: number;
}
