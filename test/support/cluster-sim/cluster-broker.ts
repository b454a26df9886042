// One whole simulated broker: a RaftCore voter of the metadata group (its MemoryStorage is the
// disk and survives crashes; the core, the MetadataImage and the controller state do not), the
// real MetadataImage applying the committed log, a controller that runs on the Raft leader with
// the real controller decisions, and one replication SimNode per partition on a
// MemoryReplicaLog (which loses unflushed writes on a crash). A restarted broker re-registers
// and acts on partition metadata only after the controller admitted its new incarnation, which
// it does only once no partition names the node as leader any more (the old one is fenced).
import { assert, toNodeId, type NodeId, type SeededRandom } from '../../../src/common/index.ts';
import {
  RaftCore,
  raftCoreDefaults,
  type Entry,
  type RaftCoreConfig,
  type RaftMessage,
} from '../../../src/raft/index.ts';
import { MetadataImage, type NodeImage } from '../../../src/broker/metadata-image.ts';
import { toPartitionState } from '../../../src/broker/partition-record.ts';
import {
  decodeMetadataCommand,
  encodeMetadataCommand,
  retiredHeartbeatType,
  type MetadataCommand,
  type MetadataResult,
} from '../../../src/broker/metadata-command.ts';
import {
  onNodeAvailable,
  onNodeUnavailable,
  validateIsrChange,
  type ElectionContext,
  type IsrChangeRequest,
  type IsrChangeResult,
  type PartitionState,
} from '../../../src/broker/replication/index.ts';
import { HashStateMachine } from '../raft-sim/hash-state-machine.ts';
import { MemoryStorage } from '../raft-sim/memory-storage.ts';
import type { SimChecker } from '../raft-sim/sim-checker.ts';
import { SimNode, type SimNodeConfig } from '../replication-sim/sim-node.ts';
import type { Message } from '../replication-sim/messages.ts';

export const TOPIC = 't';
/** Stands in for "the controller" in SimNode's addressing; the broker forwards to Raft's leader. */
export const CONTROLLER_ALIAS = 100 as NodeId;

/** Everything on the simulated wire. */
export type Body =
  | { readonly kind: 'raft'; readonly message: RaftMessage }
  | { readonly kind: 'repl'; readonly partition: number; readonly message: Message }
  | { readonly kind: 'propose'; readonly command: MetadataCommand }
  | {
      readonly kind: 'alterPartition';
      readonly partition: number;
      readonly request: IsrChangeRequest;
      readonly fromIncarnation: number;
      readonly fromInstance: number | null;
    };

export interface Envelope {
  readonly from: number;
  readonly to: number;
  readonly body: Body;
}

export interface BrokerConfig {
  readonly id: NodeId;
  readonly voters: readonly number[];
  readonly partitionCount: number;
  readonly replicationFactor: number;
  readonly heartbeatMs: number;
  readonly sessionTimeoutMs: number;
  readonly uncleanLeaderElection: boolean;
  /** Mutation check: act on partition metadata as soon as registered, before admission. */
  readonly actBeforeAdmission: boolean;
  readonly node: SimNodeConfig;
}

export interface BrokerEnv {
  nowMs(): number;
  send(envelope: Envelope): void;
  readonly checker: SimChecker;
  /** After every applied metadata command, before the controller answers for it. */
  onApplied(
    broker: ClusterBroker,
    index: number,
    command: MetadataCommand,
    result: MetadataResult,
  ): void;
  onTruncate(node: SimNode, offset: number): void;
}

const raftConfig = {
  ...raftCoreDefaults,
  electionTimeoutTicks: 10,
  heartbeatTicks: 2,
  inflightAppendsMax: 8,
  appendBytesMax: 4096,
} satisfies Omit<RaftCoreConfig, 'id' | 'initialMembership'>;

/** Proposes `next` for partition `p` unless null or this round already changed `p`. */
type PartitionChange = (p: number, next: PartitionState | null) => void;

interface AlterWaiter {
  readonly partition: number;
  readonly request: IsrChangeRequest;
  readonly fromIncarnation: number;
  readonly fromInstance: number | null;
}

/** The controller's volatile state for one Raft term of leadership. */
interface ControllerState {
  readonly term: number;
  /** Virtual time of each node's last committed heartbeat seen by this controller. */
  readonly lastSeenMs: Map<number, number>;
  /** Decisions wait until everything this controller proposed has been applied. */
  pendingIndex: number;
  readonly alters: Map<number, AlterWaiter>;
}

export function partitionState(image: MetadataImage, partition: number): PartitionState | null {
  const p = image.partition(TOPIC, partition);
  return p === undefined ? null : toPartitionState(p);
}

export class ClusterBroker {
  readonly id: NodeId;
  readonly storage = new MemoryStorage();
  readonly partitions: SimNode[] = [];
  readonly #config: BrokerConfig;
  readonly #env: BrokerEnv;
  readonly #random: SeededRandom;
  core: RaftCore;
  image = new MetadataImage();
  machine = new HashStateMachine();
  up = true;
  incarnation = 1;
  brokerEpoch: number | null = null;
  /** nodeId → the broker epoch the controller admitted (unfence-node), from the log. */
  unfenced = new Map<number, number>();
  controller: ControllerState | null = null;
  #nextHeartbeatMs = 0;

  constructor(config: BrokerConfig, env: BrokerEnv, random: SeededRandom) {
    this.id = config.id;
    this.#config = config;
    this.#env = env;
    this.#random = random;
    this.core = this.#newCore();
    for (let p = 0; p < config.partitionCount; p += 1) {
      const nodeEnv = {
        controllerId: CONTROLLER_ALIAS,
        send: (message: Message) => this.#sendRepl(p, message),
        onTruncate: (node: SimNode, offset: number) => env.onTruncate(node, offset),
      };
      this.partitions.push(new SimNode(config.id, config.node, nodeEnv));
    }
  }

  get admitted(): boolean {
    return this.brokerEpoch !== null && this.unfenced.get(this.id) === this.brokerEpoch;
  }

  get incarnationId(): string {
    return `n${this.id}i${this.incarnation}`;
  }

  // ---- lifecycle ----

  crash(): void {
    this.up = false;
    for (const node of this.partitions) node.crash();
    this.controller = null;
  }

  restart(): void {
    this.up = true;
    this.incarnation += 1;
    this.core = this.#newCore();
    this.image = new MetadataImage();
    this.machine = new HashStateMachine();
    this.brokerEpoch = null;
    this.unfenced = new Map();
    this.#nextHeartbeatMs = 0;
    for (const node of this.partitions) node.restart(false);
    this.#env.checker.onRestart(this.id, this.core);
  }

  // ---- events ----

  tick(nowMs: number): void {
    this.core.tick();
    this.#env.checker.checkNode(this.id, this.core);
    if (nowMs >= this.#nextHeartbeatMs) {
      this.#nextHeartbeatMs = nowMs + this.#config.heartbeatMs;
      this.#heartbeat(nowMs);
    }
    this.#drive();
    this.#controllerTick(nowMs);
    this.#drive();
    this.#pushMetadata();
    for (const node of this.partitions) node.onTick(nowMs, false);
  }

  receive(envelope: Envelope): void {
    const body = envelope.body;
    const nowMs = this.#env.nowMs();
    switch (body.kind) {
      case 'raft':
        this.core.step(body.message);
        this.#env.checker.checkNode(this.id, this.core);
        break;
      case 'propose':
        if (this.core.status().role === 'leader')
          this.core.propose(encodeMetadataCommand(body.command));
        break;
      case 'alterPartition':
        this.#onAlterPartition(body);
        break;
      case 'repl': {
        const node = this.partitions[body.partition];
        assert(node !== undefined, 'partition');
        const to = body.message.toIncarnation;
        if (to !== null && to !== node.incarnation) return;
        node.onMessage(body.message, nowMs);
        break;
      }
    }
    this.#drive();
  }

  /** The driver loop: persist, send, apply, advance (synchronous disk). */
  #drive(): void {
    for (let i = 0; i < 100 && this.up && this.core.hasReady(); i += 1) {
      const ready = this.core.ready();
      this.storage.persist(ready);
      this.#env.checker.onPersist(this.id, ready, this.storage);
      for (const message of ready.messages) {
        this.#env.send({ from: this.id, to: message.to, body: { kind: 'raft', message } });
      }
      for (const entry of ready.committed) this.#apply(entry);
      this.core.advance(ready);
      this.#env.checker.checkNode(this.id, this.core);
    }
  }

  #apply(entry: Entry): void {
    const previous = this.machine.appliedIndex;
    this.machine.apply(entry);
    this.#env.checker.onApply(this.id, entry, previous, this.machine);
    if (entry.kind !== 'command') return;
    const command = decodeMetadataCommand(entry.data);
    const result = this.image.apply(command, entry.index);
    this.image.checkInvariants();
    if (command.type === 'register-node' && result.ok && result.brokerEpoch !== undefined) {
      if (command.nodeId === this.id && command.incarnationId === this.incarnationId)
        this.brokerEpoch = result.brokerEpoch;
    }
    if (command.type === 'unfence-node' && result.ok)
      this.unfenced.set(command.nodeId, command.brokerEpoch);
    this.#env.onApplied(this, entry.index, command, result);
    if (!this.up) return;
    const controller = this.controller;
    if (controller === null) return;
    const { type, nodeId } = command as unknown as { type: string; nodeId: number };
    if ((type === retiredHeartbeatType || type === 'register-node') && result.ok)
      controller.lastSeenMs.set(nodeId, this.#env.nowMs());
    const waiter = controller.alters.get(entry.index);
    if (waiter !== undefined && entry.term === controller.term) {
      controller.alters.delete(entry.index);
      const state = partitionState(this.image, waiter.partition);
      const answer: IsrChangeResult =
        result.ok && state !== null
          ? { ok: true, state }
          : { ok: false, code: 'INVALID_UPDATE_VERSION' };
      this.#answerAlter(waiter, answer);
    }
  }

  /** Hands the committed partition records to the replicas, once this incarnation is admitted. */
  #pushMetadata(): void {
    if (!this.admitted && !(this.#config.actBeforeAdmission && this.brokerEpoch !== null)) return;
    this.partitions.forEach((node, p) => {
      const state = partitionState(this.image, p);
      if (state === null) return;
      const payload = { kind: 'metadata' as const, state, registered: true };
      node.onMessage(
        {
          from: CONTROLLER_ALIAS,
          to: this.id,
          fromIncarnation: 0,
          toIncarnation: null,
          toInstance: null,
          fromInstance: null,
          payload,
        },
        this.#env.nowMs(),
      );
    });
  }

  // ---- broker → controller ----

  #heartbeat(nowMs: number): void {
    if (this.brokerEpoch === null) {
      this.#propose({
        type: 'register-node',
        nodeId: this.id,
        url: `sim://${this.id}`,
        incarnationId: this.incarnationId,
      });
    } else {
      // This simulator's controller still measures liveness from heartbeat records (the retired
      // type, which the image accepts and ignores); it moves to ControllerCore's in-memory
      // sessions together with the raftports rework of this file.
      const heartbeat = {
        type: retiredHeartbeatType,
        nodeId: this.id,
        brokerEpoch: this.brokerEpoch,
      };
      this.#propose({ ...heartbeat, wallMs: nowMs } as unknown as MetadataCommand);
    }
  }

  /** Proposes locally on the leader, else forwards to the leader this node knows. */
  #propose(command: MetadataCommand): number | null {
    const status = this.core.status();
    if (status.role === 'leader') {
      const result = this.core.propose(encodeMetadataCommand(command));
      return result.ok ? result.value.index : null;
    }
    if (status.leaderId !== null && status.leaderId !== this.id)
      this.#env.send({ from: this.id, to: status.leaderId, body: { kind: 'propose', command } });
    return null;
  }

  #sendRepl(partition: number, message: Message): void {
    if (!this.up) return;
    if (message.payload.kind === 'isrChange') {
      const leaderId = this.core.status().leaderId;
      if (leaderId === null) return; // The leader retries after isrChangeRetryMs.
      const body = {
        kind: 'alterPartition' as const,
        partition,
        request: message.payload.request,
        fromIncarnation: message.fromIncarnation,
        fromInstance: message.fromInstance,
      };
      if (leaderId === this.id) this.#onAlterPartition(body);
      else this.#env.send({ from: this.id, to: leaderId, body });
      return;
    }
    this.#env.send({ from: this.id, to: message.to, body: { kind: 'repl', partition, message } });
  }

  // ---- controller ----

  /** Active once a current-term entry is committed and applied: the image is then complete. */
  get isActiveController(): boolean {
    const status = this.core.status();
    return (
      this.up &&
      status.role === 'leader' &&
      this.core.termAt(status.commitIndex) === status.term &&
      this.machine.appliedIndex === status.commitIndex
    );
  }

  #onAlterPartition(body: Body & { kind: 'alterPartition' }): void {
    const controller = this.#controllerState(this.#env.nowMs());
    if (controller === null) return;
    const state = partitionState(this.image, body.partition);
    if (state === null) return;
    const validation = validateIsrChange(state, body.request, this.#context(this.#env.nowMs()));
    const waiter = { ...body, partition: body.partition };
    if (!validation.ok) {
      this.#answerAlter(waiter, { ok: false, code: validation.code });
      return;
    }
    const index = this.#proposeChange(body.partition, state, validation.state);
    if (index !== null) controller.alters.set(index, waiter);
  }

  #answerAlter(waiter: AlterWaiter, result: IsrChangeResult): void {
    const message: Message = {
      from: CONTROLLER_ALIAS,
      to: waiter.request.leaderId,
      fromIncarnation: 0,
      toIncarnation: waiter.fromIncarnation,
      toInstance: waiter.fromInstance,
      fromInstance: null,
      payload: { kind: 'isrChangeResult', request: waiter.request, result },
    };
    const body = { kind: 'repl' as const, partition: waiter.partition, message };
    this.#env.send({ from: this.id, to: waiter.request.leaderId, body });
  }

  /** A validation or election outcome, proposed as a compare-and-set change-partition. */
  #proposeChange(partition: number, current: PartitionState, next: PartitionState): number | null {
    const index = this.#propose({
      type: 'change-partition',
      topic: TOPIC,
      partition,
      expectedPartitionEpoch: current.partitionEpoch,
      leader: next.leader,
      leaderEpoch: next.leaderEpoch,
      replicas: next.replicas,
      isr: next.isr,
    });
    if (index !== null && this.controller !== null)
      this.controller.pendingIndex = Math.max(this.controller.pendingIndex, index);
    return index;
  }

  #proposeControl(command: MetadataCommand): void {
    const index = this.#propose(command);
    if (index !== null && this.controller !== null)
      this.controller.pendingIndex = Math.max(this.controller.pendingIndex, index);
  }

  /** Registered, admitted, not fenced and heard from within the session timeout. */
  #isLive(nodeId: number, nowMs: number): boolean {
    const node = this.image.node(nodeId);
    const controller = this.controller;
    if (node === undefined || controller === null) return false;
    const seen = controller.lastSeenMs.get(nodeId) ?? -Infinity;
    return (
      this.unfenced.get(nodeId) === node.brokerEpoch &&
      node.status === 'alive' &&
      nowMs - seen <= this.#config.sessionTimeoutMs
    );
  }

  #context(nowMs: number, except: number | null = null): ElectionContext {
    const liveNodes = new Set<NodeId>();
    for (const node of this.image.nodes()) {
      if (node.id !== except && this.#isLive(node.id, nowMs)) liveNodes.add(node.id as NodeId);
    }
    return {
      liveNodes,
      ineligible: new Set(),
      uncleanLeaderElection: this.#config.uncleanLeaderElection,
    };
  }

  /** The controller state of the current term, created when this node becomes controller. */
  #controllerState(nowMs: number): ControllerState | null {
    if (!this.isActiveController) {
      this.controller = null;
      return null;
    }
    const term = this.core.status().term;
    if (this.controller?.term !== term) {
      // A new controller gives every node a fresh session (KRaft does the same on failover).
      const lastSeenMs = new Map(this.image.nodes().map((n) => [n.id, nowMs] as const));
      this.controller = { term, lastSeenMs, pendingIndex: 0, alters: new Map() };
    }
    return this.controller;
  }

  #controllerTick(nowMs: number): void {
    const controller = this.#controllerState(nowMs);
    if (controller === null || this.machine.appliedIndex < controller.pendingIndex) return;
    this.#decide(nowMs);
  }

  /** One round of controller decisions over the applied image. */
  #decide(nowMs: number): void {
    if (this.image.clusterId === null) {
      this.#proposeControl({ type: 'init-cluster', clusterId: 'sim' });
      return;
    }
    const touched = new Set<number>();
    const change: PartitionChange = (p, next) => {
      const current = partitionState(this.image, p);
      if (next === null || current === null || touched.has(p)) return;
      touched.add(p);
      this.#proposeChange(p, current, next);
    };
    for (const node of this.image.nodes()) this.#decideNode(node, nowMs, change);
    const context = this.#context(nowMs);
    for (const id of context.liveNodes) {
      for (let p = 0; p < this.#config.partitionCount; p += 1) {
        const state = partitionState(this.image, p);
        if (state !== null && state.leader === null) change(p, onNodeAvailable(state, id, context));
      }
    }
    this.#maybeCreateTopic();
  }

  /**
   * Sessions: a new incarnation is admitted (unfenced) only once no partition names the node
   * as leader; a silent node is fenced with its leadership and ISR membership moved away; a
   * fenced node heard from again is unfenced.
   */
  #decideNode(node: NodeImage, nowMs: number, change: PartitionChange): void {
    const seen = this.controller?.lastSeenMs.get(node.id) ?? -Infinity;
    const fresh = nowMs - seen <= this.#config.sessionTimeoutMs;
    const admitted = this.unfenced.get(node.id) === node.brokerEpoch;
    if (admitted && node.status === 'fenced') {
      if (fresh) this.#setFenced(node, false);
      return;
    }
    if (admitted && fresh) return;
    const context = this.#context(nowMs, node.id);
    for (let p = 0; p < this.#config.partitionCount; p += 1) {
      const state = partitionState(this.image, p);
      if (state !== null) change(p, onNodeUnavailable(state, toNodeId(node.id), context));
    }
    if (admitted) this.#setFenced(node, true);
    else if (fresh && !this.#partitionStates().some((s) => s.leader === node.id))
      this.#setFenced(node, false);
  }

  #setFenced(node: NodeImage, fenced: boolean): void {
    const type = fenced ? ('fence-node' as const) : ('unfence-node' as const);
    this.#proposeControl({ type, nodeId: node.id, brokerEpoch: node.brokerEpoch });
  }

  #partitionStates(): PartitionState[] {
    const states: PartitionState[] = [];
    for (let p = 0; p < this.#config.partitionCount; p += 1) {
      const state = partitionState(this.image, p);
      if (state !== null) states.push(state);
    }
    return states;
  }

  #maybeCreateTopic(): void {
    if (this.image.topic(TOPIC) !== undefined) return;
    const ids = this.#config.voters;
    const admitted = (id: number): boolean =>
      this.image.node(id) !== undefined &&
      this.unfenced.get(id) === this.image.node(id)?.brokerEpoch;
    if (!ids.every(admitted)) return;
    const partitions = Array.from({ length: this.#config.partitionCount }, (_, p) => ({
      replicas: Array.from(
        { length: this.#config.replicationFactor },
        (_, i) => ids[(p + i) % ids.length] ?? 0,
      ),
    }));
    this.#proposeControl({
      type: 'create-topic',
      name: TOPIC,
      topicId: 'sim-topic',
      partitions,
      configs: {},
    });
  }

  #newCore(): RaftCore {
    const config = {
      ...raftConfig,
      id: this.id,
      initialMembership: { voters: this.#config.voters, observers: [] },
    };
    return new RaftCore(config, { random: this.#random, restored: this.storage.restored() });
  }
}
