// A small deterministic cluster for scripted Raft unit tests (etcd's `network` helper, rebuilt):
// every node is a RaftCore over a MemoryStorage; stabilize() processes Readies and delivers
// messages breadth-first until quiet. Links can be cut, nodes isolated, message types ignored
// and any message dropped by a filter. Invariants are checked after every delivery.
import { SeededRandom } from '../../../src/common/index.ts';
import {
  RaftCore,
  raftCoreDefaults,
  type Entry,
  type Membership,
  type RaftCoreConfig,
  type RaftMessage,
  type RaftNodeId,
  type Snapshot,
} from '../../../src/raft/index.ts';
import { cloneMessage } from './clone-message.ts';
import { HashStateMachine } from './hash-state-machine.ts';
import { MemoryStorage } from './memory-storage.ts';

export interface TestNode {
  core: RaftCore;
  readonly storage: MemoryStorage;
  machine: HashStateMachine;
  /** Every command applied on this node, in order, as text. */
  applied: string[];
  readStates: { requestId: number; index: number }[];
  up: boolean;
}

export type MessageFilter = (message: RaftMessage) => boolean;

export class TestCluster {
  readonly nodes = new Map<RaftNodeId, TestNode>();
  readonly config: Omit<RaftCoreConfig, 'id' | 'initialMembership'>;
  readonly membership: Membership;
  /** Messages sent but not yet delivered (delivered breadth-first). */
  inflight: RaftMessage[] = [];
  /** Every message ever sent, for counting tests (R13). */
  sent: RaftMessage[] = [];
  readonly #cut = new Set<string>();
  readonly #ignored = new Set<RaftMessage['type']>();
  #filter: MessageFilter | null = null;
  #rewrite: ((message: RaftMessage) => RaftMessage) | null = null;
  #seed: number;

  constructor(
    ids: readonly RaftNodeId[],
    config: Partial<Omit<RaftCoreConfig, 'id' | 'initialMembership'>> = {},
    membership?: Membership,
  ) {
    this.config = { ...raftCoreDefaults, heartbeatTicks: 1, ...config };
    this.membership = membership ?? { voters: [...ids], observers: [] };
    this.#seed = ids.length * 7919;
    for (const id of ids) this.addNode(id);
  }

  addNode(id: RaftNodeId, storage = new MemoryStorage()): TestNode {
    const node: TestNode = {
      core: this.#newCore(id, storage),
      storage,
      machine: new HashStateMachine(),
      applied: [],
      readStates: [],
      up: true,
    };
    this.nodes.set(id, node);
    return node;
  }

  node(id: RaftNodeId): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  core(id: RaftNodeId): RaftCore {
    return this.node(id).core;
  }

  // ---- Faults -------------------------------------------------------------------------------

  cut(a: RaftNodeId, b: RaftNodeId): void {
    this.#cut.add(`${a}>${b}`).add(`${b}>${a}`);
  }

  isolate(id: RaftNodeId): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  heal(): void {
    this.#cut.clear();
    this.#ignored.clear();
    this.#filter = null;
    this.#rewrite = null;
  }

  /** Rewrites messages in transit (e.g. strips entries), or stops rewriting with null. */
  rewrite(rewrite: ((message: RaftMessage) => RaftMessage) | null): void {
    this.#rewrite = rewrite;
  }

  ignore(type: RaftMessage['type']): void {
    this.#ignored.add(type);
  }

  /** Drops every message for which `filter` returns true. */
  drop(filter: MessageFilter | null): void {
    this.#filter = filter;
  }

  /** Loses volatile state; durable state (storage) survives. */
  crash(id: RaftNodeId): void {
    const node = this.node(id);
    node.up = false;
    this.inflight = this.inflight.filter((m) => m.to !== id && m.from !== id);
  }

  restart(id: RaftNodeId): void {
    const node = this.node(id);
    node.core = this.#newCore(id, node.storage);
    node.machine = new HashStateMachine();
    node.applied = [];
    const snapshot = node.storage.snapshot;
    if (snapshot !== null) node.machine.restore(snapshot.data);
    node.up = true;
  }

  // ---- Driving ------------------------------------------------------------------------------

  tick(id: RaftNodeId, ticks = 1): void {
    for (let i = 0; i < ticks; i += 1) this.node(id).core.tick();
  }

  tickAll(ticks = 1): void {
    for (let i = 0; i < ticks; i += 1) {
      for (const node of this.nodes.values()) if (node.up) node.core.tick();
      this.stabilize();
    }
  }

  /** Ticks `id` alone until it leaves the follower role (it campaigns), then stabilizes. */
  campaign(id: RaftNodeId): void {
    const core = this.core(id);
    const limit = 2 * this.config.electionTimeoutTicks + 1;
    for (let i = 0; i < limit && core.status().role === 'follower'; i += 1) core.tick();
    this.stabilize();
  }

  /** Ticks `id` until its randomized timeout fires and it becomes leader. */
  elect(id: RaftNodeId): void {
    this.campaign(id);
    if (this.core(id).status().role !== 'leader') throw new Error(`node ${id} was not elected`);
  }

  propose(id: RaftNodeId, value: string): ReturnType<RaftCore['propose']> {
    return this.core(id).propose(new TextEncoder().encode(value));
  }

  /** Processes Readies and delivers messages until nothing is left (bounded). */
  stabilize(stepsMax = 100_000): void {
    for (let step = 0; step < stepsMax; step += 1) {
      this.#processReadies();
      if (this.inflight.length === 0) return;
      const batch = this.inflight;
      this.inflight = [];
      for (const message of batch) this.#deliver(message);
    }
    throw new Error('stabilize did not converge');
  }

  /** Processes Readies, then delivers only the messages already in flight (one hop). */
  deliverOnce(): void {
    this.#processReadies();
    const batch = this.inflight;
    this.inflight = [];
    for (const message of batch) this.#deliver(message);
    this.#processReadies();
  }

  /** Returns the leader among up nodes, asserting there is exactly one per term. */
  leaders(): RaftNodeId[] {
    return [...this.nodes]
      .filter(([, node]) => node.up && node.core.status().role === 'leader')
      .map(([id]) => id);
  }

  committedEntries(id: RaftNodeId): Entry[] {
    const status = this.core(id).status();
    return this.core(id).entries(status.firstIndex, status.commitIndex);
  }

  compact(id: RaftNodeId): Snapshot {
    const node = this.node(id);
    const snapshot = node.core.compact(node.machine.appliedIndex, node.machine.snapshot());
    node.storage.saveSnapshot(snapshot);
    return snapshot;
  }

  checkInvariants(): void {
    for (const node of this.nodes.values()) if (node.up) node.core.checkInvariants();
  }

  #newCore(id: RaftNodeId, storage: MemoryStorage): RaftCore {
    this.#seed += 1;
    const config = { ...this.config, id, initialMembership: this.membership };
    return new RaftCore(config, {
      random: new SeededRandom(this.#seed),
      restored: storage.restored(),
    });
  }

  #processReadies(): void {
    for (const node of this.nodes.values()) {
      while (node.up && node.core.hasReady()) {
        const ready = node.core.ready();
        node.storage.persist(ready);
        for (const message of ready.messages) {
          const copy = cloneMessage(message);
          this.sent.push(copy);
          this.inflight.push(copy);
        }
        if (ready.snapshot !== null) {
          node.machine.restore(ready.snapshot.data);
          node.applied = [];
        }
        for (const entry of ready.committed) {
          node.machine.apply(entry);
          if (entry.kind === 'command') node.applied.push(new TextDecoder().decode(entry.data));
        }
        node.readStates.push(...ready.readStates);
        node.core.advance(ready);
        node.core.checkInvariants();
      }
    }
  }

  #deliver(message: RaftMessage): void {
    const target = this.nodes.get(message.to);
    if (target === undefined || !target.up || !(this.nodes.get(message.from)?.up ?? false)) return;
    if (this.#cut.has(`${message.from}>${message.to}`)) return;
    if (this.#ignored.has(message.type)) return;
    if (this.#filter !== null && this.#filter(message)) return;
    target.core.step(this.#rewrite === null ? message : this.#rewrite(message));
    target.core.checkInvariants();
  }
}
