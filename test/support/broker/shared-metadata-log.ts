// A metadata log shared by in-process brokers: a proposal from any node is applied to every
// started node's image at once, in one order, as a committed Raft entry would be. A node that
// starts late replays the entries so far. Stands in for the Raft metadata in broker tests.
import type { MetadataLog, MetadataStatus, StateMachine } from '../../../src/raft/index.ts';
import { soleLeaderStatus } from './memory-metadata-log.ts';

export class SharedMetadataBus<Command> {
  readonly entries: Command[] = [];
  readonly #members = new Set<SharedMetadataLog<Command>>();

  /** A node's view of the shared log, applying into `machine`. */
  member(nodeId: number, machine: StateMachine<Command>): SharedMetadataLog<Command> {
    return new SharedMetadataLog(this, nodeId, machine);
  }

  join(member: SharedMetadataLog<Command>): void {
    this.#members.add(member);
  }
  leave(member: SharedMetadataLog<Command>): void {
    this.#members.delete(member);
  }

  /** Appends and applies everywhere; returns the proposer's apply result. */
  commit(command: Command, proposer: SharedMetadataLog<Command> | null): unknown {
    this.entries.push(command);
    const index = this.entries.length;
    let result: unknown = undefined;
    for (const member of this.#members) {
      const applied = member.applyAt(command, index);
      if (member === proposer) result = applied;
    }
    return result;
  }
}

export class SharedMetadataLog<Command> implements MetadataLog<Command> {
  readonly #bus: SharedMetadataBus<Command>;
  readonly #nodeId: number;
  readonly #machine: StateMachine<Command>;
  #applied = 0;
  #running = false;

  constructor(bus: SharedMetadataBus<Command>, nodeId: number, machine: StateMachine<Command>) {
    this.#bus = bus;
    this.#nodeId = nodeId;
    this.#machine = machine;
  }

  applyAt(command: Command, index: number): unknown {
    if (index <= this.#applied) return undefined;
    this.#applied = index;
    return this.#machine.apply(command, index);
  }

  async start(): Promise<void> {
    this.#bus.entries.forEach((command, i) => this.applyAt(command, i + 1));
    this.#running = true;
    this.#bus.join(this);
  }
  async stop(): Promise<void> {
    this.#running = false;
    this.#bus.leave(this);
  }
  async propose(command: Command): Promise<{ index: number; result: unknown }> {
    if (!this.#running) throw Object.assign(new Error('stopped'), { code: 'RAFT_STOPPED' });
    const result = this.#bus.commit(command, this);
    return { index: this.#bus.entries.length, result };
  }
  async barrier(): Promise<void> {}
  status(): MetadataStatus {
    return soleLeaderStatus(this.#nodeId, this.#running, this.#applied);
  }
  onLeaderChange(): void {}
}
