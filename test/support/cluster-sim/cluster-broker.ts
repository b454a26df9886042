// One whole simulated broker: a voter of the metadata group running the production
// RaftMetadataLog and RaftDriver on simulated ports (SimRaftStorage over a MemoryStorage that is
// the disk and survives crashes, SimRaftTransport on the simulated network, timers on virtual
// time; the log, the MetadataImage and the controller state die with the process), the real
// MetadataImage applying the committed log, a controller that runs on the Raft leader with
// the real controller decisions, and one replication SimNode per partition on a
// MemoryReplicaLog (which loses unflushed writes on a crash). A restarted broker re-registers
// and acts on partition metadata only after the controller admitted its new incarnation, which
// it does only once no partition names the node as leader any more (the old one is fenced).
import {
  assert,
  toNodeId,
  type Clock,
  type NodeId,
  type SeededRandom,
} from '../../../src/common/index.ts';
import {
  RaftMetadataLog,
  raftMetadataLogDefaults,
  type Entry,
  type RaftCore,
  type RaftMessage,
  type StateMachine,
} from '../../../src/raft/index.ts';
import { MetadataImage, type NodeImage } from '../../../src/broker/metadata-image.ts';
import { toPartitionState } from '../../../src/broker/partition-record.ts';
import {
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
import { SimRaftStorage } from '../raft-sim/sim-raft-storage.ts';
import { SimRaftTransport, type Life } from './sim-raft-ports.ts';
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
  /** A clock on virtual time whose timers die with `life`. */
  clock(life: Life): Clock;
  send(envelope: Envelope): void;
  /**
   * A check failed inside the production Raft path (which would otherwise swallow or crash on
   * it): the simulator throws it, with the seed, once the current event has run.
   */
  fail(error: unknown): void;
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

/** The simulator's Raft timing: ticks of the simulator's 10 ms, a 100 ms election timeout. */
const raftConfig = {
  ...raftMetadataLogDefaults,
  tickMs: 10,
  electionTimeoutTicks: 10,
  heartbeatTicks: 2,
  // Not modelled here (raft-sim covers snapshots): the log never compacts.
  snapshotEntryCount: Number.MAX_SAFE_INTEGER,
};

type Proposal = Promise<{ index: number; result: unknown }>;

/** What a change-partition's apply hands back to the controller that proposed it. */
interface AppliedChange {
  readonly result: MetadataResult;
  /** The partition right after the change applied (null for other commands). */
  readonly state: PartitionState | null;
}

/** One process of the broker: its Raft log on its own ports, alive until it crashes. */
interface RaftProcess {
  readonly life: Life;
  readonly log: RaftMetadataLog<MetadataCommand>;
  readonly storage: SimRaftStorage;
  readonly transport: SimRaftTransport;
  /** The core the log runs, once start() restored it. */
  core: RaftCore | null;
}

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
  /** Decisions wait until everything this controller proposed has been applied (or dropped). */
  pendingCount: number;
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
  #raft: RaftProcess;
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
    this.#raft = this.#startRaft();
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

  /** The running Raft core (read-only use, and scripted leadership transfers). */
  get core(): RaftCore {
    const core = this.#raft.core;
    assert(core !== null, `broker ${this.id}: the metadata log has not started yet`);
    return core;
  }

  /** This process's metadata log: the production RaftMetadataLog. */
  get metadataLog(): RaftMetadataLog<MetadataCommand> {
    return this.#raft.log;
  }

  /** Writes that reached this process's Raft disk (commit-only updates write nothing). */
  get raftWrites(): number {
    return this.#raft.storage.writes;
  }

  // ---- lifecycle ----

  crash(): void {
    this.up = false;
    this.#raft.life.alive = false;
    this.#raft.storage.kill();
    for (const node of this.partitions) node.crash();
    this.controller = null;
  }

  restart(): void {
    this.up = true;
    this.incarnation += 1;
    this.image = new MetadataImage();
    this.machine = new HashStateMachine();
    this.brokerEpoch = null;
    this.unfenced = new Map();
    this.#nextHeartbeatMs = 0;
    this.#raft = this.#startRaft();
    for (const node of this.partitions) node.restart(false);
  }

  // ---- events ----

  /** The broker's own duties each simulator tick; Raft ticks itself on its SimTimers clock. */
  tick(nowMs: number): void {
    if (nowMs >= this.#nextHeartbeatMs) {
      this.#nextHeartbeatMs = nowMs + this.#config.heartbeatMs;
      this.#heartbeat(nowMs);
    }
    this.#controllerTick(nowMs);
    this.#pushMetadata();
    for (const node of this.partitions) node.onTick(nowMs, false);
  }

  receive(envelope: Envelope): void {
    const body = envelope.body;
    const nowMs = this.#env.nowMs();
    switch (body.kind) {
      case 'raft':
        this.#raft.transport.deliver(body.message);
        break;
      case 'propose':
        if (this.#raft.log.status().role === 'leader')
          this.#settle(this.#raft.log.propose(body.command));
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
  }

  // ---- the Raft process ----

  /**
   * A new process: the production RaftMetadataLog over this broker's disk, on fresh simulated
   * ports. start() completes once the simulator drains microtasks after the current event.
   */
  #startRaft(): RaftProcess {
    const life: Life = { alive: true };
    const env = this.#env;
    const checker = env.checker;
    const guard = (check: () => void): void => {
      if (!life.alive) return;
      try {
        check();
      } catch (error) {
        env.fail(error);
      }
    };
    const storage = new SimRaftStorage(this.storage, {
      beforePersist: (update, disk) => guard(() => checker.beforePersist(this.id, update, disk)),
      afterPersist: (update, disk) => guard(() => checker.onPersist(this.id, update, disk)),
    });
    const transport = new SimRaftTransport(life, (message: RaftMessage) =>
      env.send({ from: this.id, to: message.to, body: { kind: 'raft', message } }),
    );
    const voters = new Map(this.#config.voters.map((id) => [id, `sim://${id}`] as const));
    const firstStart = this.incarnation === 1;
    const log = new RaftMetadataLog<MetadataCommand>(
      { ...raftConfig, nodeId: this.id, voters, observers: new Map() },
      {
        stateMachine: this.#stateMachine(life, guard),
        clock: env.clock(life),
        random: this.#random,
        storage,
        transport,
        observer: {
          onStart: (core) => {
            raft.core = core;
            if (!firstStart) guard(() => checker.onRestart(this.id, core));
          },
          onProgress: (core) => guard(() => checker.checkNode(this.id, core)),
          onCommitted: (entry) => guard(() => this.#onCommitted(entry)),
        },
      },
    );
    const raft: RaftProcess = { life, log, storage, transport, core: null };
    log.start().catch((error: unknown) =>
      guard(() => {
        throw error;
      }),
    );
    return raft;
  }

  /** Every committed entry, of any kind: the hash chain the Raft checker compares. */
  #onCommitted(entry: Entry): void {
    const previous = this.machine.appliedIndex;
    this.machine.apply(entry);
    this.#env.checker.onApply(this.id, entry, previous, this.machine);
  }

  /** The MetadataImage as the log's state machine, with the broker's and controller's hooks. */
  #stateMachine(life: Life, guard: (check: () => void) => void): StateMachine<MetadataCommand> {
    return {
      apply: (command, index) => {
        let applied: AppliedChange | null = null;
        guard(() => {
          applied = this.#apply(command, index);
        });
        return applied;
      },
      snapshot: () => this.image.snapshot(),
      restore: (data) => {
        if (life.alive) this.image.restore(data);
      },
    };
  }

  /** Fire and forget: the outcome reaches this node through the applied log. */
  #settle(proposal: Promise<unknown>): void {
    proposal.catch(() => undefined);
  }

  #apply(command: MetadataCommand, index: number): AppliedChange {
    const result = this.image.apply(command, index);
    this.image.checkInvariants();
    if (command.type === 'register-node' && result.ok && result.brokerEpoch !== undefined) {
      if (command.nodeId === this.id && command.incarnationId === this.incarnationId)
        this.brokerEpoch = result.brokerEpoch;
    }
    if (command.type === 'unfence-node' && result.ok)
      this.unfenced.set(command.nodeId, command.brokerEpoch);
    this.#env.onApplied(this, index, command, result);
    const state =
      command.type === 'change-partition' ? partitionState(this.image, command.partition) : null;
    const controller = this.controller;
    if (this.up && controller !== null && result.ok) {
      const { type, nodeId } = command as unknown as { type: string; nodeId: number };
      if (type === retiredHeartbeatType || type === 'register-node')
        controller.lastSeenMs.set(nodeId, this.#env.nowMs());
    }
    return { result, state };
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
      void this.#propose({
        type: 'register-node',
        nodeId: this.id,
        url: `sim://${this.id}`,
        incarnationId: this.incarnationId,
      });
    } else {
      // This simulator's controller still measures liveness from heartbeat records (the retired
      // type, which the image accepts and ignores) and keeps its own admission protocol.
      const heartbeat = {
        type: retiredHeartbeatType,
        nodeId: this.id,
        brokerEpoch: this.brokerEpoch,
      };
      void this.#propose({ ...heartbeat, wallMs: nowMs } as unknown as MetadataCommand);
    }
  }

  /**
   * Proposes locally on the leader (returning the proposal, which settles once applied or
   * dropped), else forwards to the leader this node knows.
   */
  #propose(command: MetadataCommand): Proposal | null {
    const status = this.#raft.log.status();
    if (status.role === 'leader') {
      const proposal = this.#raft.log.propose(command);
      this.#settle(proposal);
      return proposal;
    }
    if (status.leaderId !== null && status.leaderId !== this.id)
      this.#env.send({ from: this.id, to: status.leaderId, body: { kind: 'propose', command } });
    return null;
  }

  #sendRepl(partition: number, message: Message): void {
    if (!this.up) return;
    if (message.payload.kind === 'isrChange') {
      const leaderId = this.#raft.log.status().leaderId;
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
    const status = this.#raft.log.status();
    return (
      this.up &&
      status.role === 'leader' &&
      this.#raft.core?.termAt(status.commitIndex) === status.term &&
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
    const proposal = this.#proposeChange(body.partition, state, validation.state);
    // The answer goes out once the change is applied in this controller's term; a dropped
    // proposal gets none (the partition leader retries).
    void proposal?.then(
      ({ result }) => {
        const applied = result as AppliedChange | null;
        if (!this.up || this.controller !== controller || applied === null) return;
        const answer: IsrChangeResult =
          applied.result.ok && applied.state !== null
            ? { ok: true, state: applied.state }
            : { ok: false, code: 'INVALID_UPDATE_VERSION' };
        this.#answerAlter(waiter, answer);
      },
      () => undefined,
    );
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
  #proposeChange(
    partition: number,
    current: PartitionState,
    next: PartitionState,
  ): Proposal | null {
    return this.#proposeControl({
      type: 'change-partition',
      topic: TOPIC,
      partition,
      expectedPartitionEpoch: current.partitionEpoch,
      leader: next.leader,
      leaderEpoch: next.leaderEpoch,
      replicas: next.replicas,
      isr: next.isr,
    });
  }

  #proposeControl(command: MetadataCommand): Proposal | null {
    const proposal = this.#propose(command);
    const controller = this.controller;
    if (proposal !== null && controller !== null) {
      controller.pendingCount += 1;
      const done = (): void => {
        controller.pendingCount -= 1;
      };
      proposal.then(done, done);
    }
    return proposal;
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
    const term = this.#raft.log.status().term;
    if (this.controller?.term !== term) {
      // A new controller gives every node a fresh session (KRaft does the same on failover).
      const lastSeenMs = new Map(this.image.nodes().map((n) => [n.id, nowMs] as const));
      this.controller = { term, lastSeenMs, pendingCount: 0 };
    }
    return this.controller;
  }

  #controllerTick(nowMs: number): void {
    const controller = this.#controllerState(nowMs);
    if (controller === null || controller.pendingCount > 0) return;
    this.#decide(nowMs);
  }

  /** One round of controller decisions over the applied image. */
  #decide(nowMs: number): void {
    if (this.image.clusterId === null) {
      void this.#proposeControl({ type: 'init-cluster', clusterId: 'sim' });
      return;
    }
    const touched = new Set<number>();
    const change: PartitionChange = (p, next) => {
      const current = partitionState(this.image, p);
      if (next === null || current === null || touched.has(p)) return;
      touched.add(p);
      void this.#proposeChange(p, current, next);
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
    void this.#proposeControl({ type, nodeId: node.id, brokerEpoch: node.brokerEpoch });
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
    void this.#proposeControl({
      type: 'create-topic',
      name: TOPIC,
      topicId: 'sim-topic',
      partitions,
      configs: {},
    });
  }
}
