// A one-node MetadataLog twin: proposals apply at once, in order, with growing indexes; the
// test can make it refuse proposals (as a follower would) to exercise the broker's mapping.
import type { MetadataLog, MetadataStatus, StateMachine } from '../../../src/raft/index.ts';

/** The status of a one-voter group led by `nodeId` while running, with `index` applied. */
export function soleLeaderStatus(nodeId: number, running: boolean, index: number): MetadataStatus {
  return {
    nodeId,
    role: 'leader',
    term: 1,
    leaderId: running ? nodeId : null,
    commitIndex: index,
    appliedIndex: index,
    voters: [nodeId],
  };
}

export class MemoryMetadataLog<Command> implements MetadataLog<Command> {
  readonly #machine: StateMachine<Command>;
  readonly #nodeId: number;
  index = 0;
  running = false;
  /** When set, propose() rejects with this error (e.g. a RAFT_NOT_LEADER-coded one). */
  refuseWith: Error | null = null;
  readonly proposed: Command[] = [];

  constructor(nodeId: number, machine: StateMachine<Command>) {
    this.#nodeId = nodeId;
    this.#machine = machine;
  }

  async start(): Promise<void> {
    this.running = true;
  }
  async stop(): Promise<void> {
    this.running = false;
  }
  async propose(command: Command): Promise<{ index: number; result: unknown }> {
    if (this.refuseWith !== null) throw this.refuseWith;
    this.proposed.push(command);
    this.index += 1;
    return { index: this.index, result: this.#machine.apply(command, this.index) };
  }
  /** Applies a command as if another node's proposal had been committed. */
  commit(command: Command): unknown {
    this.index += 1;
    return this.#machine.apply(command, this.index);
  }
  async barrier(): Promise<void> {}
  status(): MetadataStatus {
    return soleLeaderStatus(this.#nodeId, this.running, this.index);
  }
  onLeaderChange(): void {}
}
