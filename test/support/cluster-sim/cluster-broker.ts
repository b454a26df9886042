// One whole simulated broker: a voter of the metadata group running the production
// RaftMetadataLog and RaftDriver on simulated ports (SimRaftStorage over a MemoryStorage that is
// the disk and survives crashes, SimRaftTransport on the simulated network, timers on virtual
// time; the log, the MetadataImage and the controller state die with the process), the real
// MetadataImage applying the committed log, the production ControllerCore on the Raft leader
// (heartbeats are in-memory requests over the simulated network; a probe asks the network
// whether the process is up: a crashed one 'refused', a cut-off one 'timeout'), and one
// replication SimNode per partition on a MemoryReplicaLog (which loses unflushed writes on a
// crash). A restarted broker registers fenced and acts on a partition record as
// partition-record.ts's actionableRecord allows, as production's LocalReplicas does.
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
import {
  ControllerCore,
  type HeartbeatRequest,
  type PartitionRef,
  type ProbeOutcome,
  type ProbeRequest,
} from '../../../src/broker/controller-core.ts';
import { registrationReplaced } from '../../../src/broker/node-session.ts';
import { MetadataImage } from '../../../src/broker/metadata-image.ts';
import { actionableRecord, toPartitionState } from '../../../src/broker/partition-record.ts';
import type { MetadataCommand, MetadataResult } from '../../../src/broker/metadata-command.ts';
import {
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
  | { readonly kind: 'heartbeat'; readonly request: HeartbeatRequest }
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
  /** Mutation check: act on partition records as soon as registered, even while fenced. */
  readonly actBeforeAdmission: boolean;
  readonly node: SimNodeConfig;
}

export interface BrokerEnv {
  nowMs(): number;
  /** A clock on virtual time whose timers die with `life`. */
  clock(life: Life): Clock;
  send(envelope: Envelope): void;
  /** A TCP connect from `from` to `to`'s port, as the network knows it. */
  probe(from: number, to: number): ProbeOutcome;
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
  /** The production controller core; its sessions die with the process. */
  readonly controller: ControllerCore;
  /** Probes the core asked for, answered at the next tick. */
  readonly probes: ProbeRequest[];
  /** A pass (or a bootstrap proposal) is in flight: the next waits for it. */
  passing: boolean;
}

interface AlterWaiter {
  readonly partition: number;
  readonly request: IsrChangeRequest;
  readonly fromIncarnation: number;
  readonly fromInstance: number | null;
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
  /**
   * The broker epoch of this incarnation's first registration: when the process (re)started as
   * far as the cluster knows. Registering again after a stale registration replaced it keeps it.
   */
  registeredAt: number | null = null;
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

  /** This incarnation is registered and unfenced in this node's image. */
  get admitted(): boolean {
    const own = this.image.node(this.id);
    return own !== undefined && own.brokerEpoch === this.brokerEpoch && own.status === 'alive';
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
  }

  restart(): void {
    this.up = true;
    this.incarnation += 1;
    this.image = new MetadataImage();
    this.machine = new HashStateMachine();
    this.brokerEpoch = null;
    this.registeredAt = null;
    this.#nextHeartbeatMs = 0;
    this.#raft = this.#startRaft();
    for (const node of this.partitions) node.restart(false);
  }

  // ---- events ----

  /** The broker's own duties each simulator tick; Raft ticks itself on its SimTimers clock. */
  tick(nowMs: number): void {
    if (nowMs >= this.#nextHeartbeatMs) {
      this.#nextHeartbeatMs = nowMs + this.#config.heartbeatMs;
      this.#heartbeat();
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
      case 'heartbeat':
        this.#onHeartbeat(body.request);
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
    const controller = new ControllerCore(
      {
        nodeId: this.id,
        sessionTimeoutMs: this.#config.sessionTimeoutMs,
        preferredLeaderIntervalMs: 0,
        voterIds: this.#config.voters,
        probeIntervalMs: 100,
        ineligiblePerNodeMax: this.#config.partitionCount,
      },
      this.image,
    );
    const log = new RaftMetadataLog<MetadataCommand>(
      { ...raftConfig, nodeId: this.id, voters, observers: new Map() },
      {
        stateMachine: this.#stateMachine(life, guard, controller),
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
    const raft: RaftProcess = {
      life,
      log,
      storage,
      transport,
      core: null,
      controller,
      probes: [],
      passing: false,
    };
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
  #stateMachine(
    life: Life,
    guard: (check: () => void) => void,
    controller: ControllerCore,
  ): StateMachine<MetadataCommand> {
    return {
      apply: (command, index) => {
        let applied: AppliedChange | null = null;
        guard(() => {
          applied = this.#apply(command, index);
          controller.onApplied(command, applied.result, this.#env.nowMs());
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
      if (command.nodeId === this.id && command.incarnationId === this.incarnationId) {
        this.brokerEpoch = result.brokerEpoch;
        this.registeredAt ??= result.brokerEpoch;
      }
    }
    this.#env.onApplied(this, index, command, result);
    const state =
      command.type === 'change-partition' ? partitionState(this.image, command.partition) : null;
    return { result, state };
  }

  /**
   * Hands the committed partition records to the replicas once this incarnation registered, as
   * actionableRecord allows (the production rule: a fenced node does not lead).
   */
  #pushMetadata(): void {
    if (this.brokerEpoch === null) return;
    const own = this.image.node(this.id);
    this.partitions.forEach((node, p) => {
      const record = this.image.partition(TOPIC, p);
      if (record === undefined) return;
      const actionable = this.#config.actBeforeAdmission
        ? record
        : actionableRecord(record, this.id, own);
      const state = toPartitionState(actionable);
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

  #heartbeat(): void {
    // The production rule (NodeSession): a later registration of an earlier incarnation took
    // this node's place, so it registers again, keeping its epoch until the new one applies
    // (meanwhile the image fences it and actionableRecord takes its leadership away).
    const replaced = registrationReplaced(
      this.image.node(this.id),
      this.incarnationId,
      this.brokerEpoch,
    );
    if (this.brokerEpoch === null || replaced) {
      void this.#propose({
        type: 'register-node',
        nodeId: this.id,
        url: `sim://${this.id}`,
        incarnationId: this.incarnationId,
      });
      return;
    }
    // An in-memory request to the controller (NodeSession's heartbeat), no record.
    const ineligible: PartitionRef[] = [];
    this.partitions.forEach((node, partition) => {
      if (!node.eligibleForLeadership) ineligible.push({ topic: TOPIC, partition });
    });
    const request = { nodeId: this.id, brokerEpoch: this.brokerEpoch, ineligible };
    const leaderId = this.#raft.log.status().leaderId;
    if (leaderId === this.id) this.#onHeartbeat(request);
    else if (leaderId !== null)
      this.#env.send({ from: this.id, to: leaderId, body: { kind: 'heartbeat', request } });
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

  /** A heartbeat reached this node: the production core answers it from memory (or refuses). */
  #onHeartbeat(request: HeartbeatRequest): void {
    // NodeSession only logs the answer; the broker acts on the committed records alone.
    this.#raft.controller.onHeartbeat(request, this.#env.nowMs());
  }

  /**
   * The production ControllerCore's duties each tick: follow this node's Raft leadership, run
   * the probes it asked for (the sim network knows whether the process is up), and run one
   * pass at a time, proposing its commands on this node's log.
   */
  #controllerTick(nowMs: number): void {
    const raft = this.#raft;
    const core = raft.controller;
    const probes = raft.probes.splice(0);
    for (const probe of probes) core.onProbeResult(probe, this.#env.probe(this.id, probe.nodeId));
    raft.probes.push(...core.onLeaderChange(this.isActiveController, nowMs));
    if (!core.isActive || raft.passing) return;
    if (this.#bootstrap()) return;
    const pass = core.pass(nowMs);
    if (pass.commands.length === 0) {
      core.finishPass(pass, true);
      return;
    }
    raft.passing = true;
    const proposals = pass.commands.map((command) => raft.log.propose(command));
    void Promise.allSettled(proposals).then((outcomes) => {
      if (!raft.life.alive) return;
      raft.passing = false;
      const committed = (o: PromiseSettledResult<{ result: unknown }>): boolean =>
        o.status === 'fulfilled' && (o.value.result as AppliedChange | null)?.result.ok === true;
      core.finishPass(pass, outcomes.every(committed));
    });
  }

  /**
   * What an operator and the first node do before there is anything to control: init-cluster,
   * then the topic once every voter registered. True while a bootstrap command is in flight.
   */
  #bootstrap(): boolean {
    if (this.image.clusterId === null) {
      this.#proposeOnce({ type: 'init-cluster', clusterId: 'sim' });
      return true;
    }
    if (this.image.topic(TOPIC) !== undefined) return false;
    const ids = this.#config.voters;
    if (!ids.every((id) => this.image.node(id)?.status === 'alive')) return false;
    const partitions = Array.from({ length: this.#config.partitionCount }, (_, p) => ({
      replicas: Array.from(
        { length: this.#config.replicationFactor },
        (_, i) => ids[(p + i) % ids.length] ?? 0,
      ),
    }));
    const unclean = String(this.#config.uncleanLeaderElection);
    this.#proposeOnce({
      type: 'create-topic',
      name: TOPIC,
      topicId: 'sim-topic',
      partitions,
      configs: { 'unclean.leader.election.enable': unclean },
    });
    return true;
  }

  /** A bootstrap proposal; the controller waits for it as for a pass. */
  #proposeOnce(command: MetadataCommand): void {
    const raft = this.#raft;
    raft.passing = true;
    const done = (): void => {
      raft.passing = false;
    };
    raft.log.propose(command).then(done, done);
  }

  /** AlterPartition, validated against the committed record by the production rules. */
  #onAlterPartition(body: Body & { kind: 'alterPartition' }): void {
    const raft = this.#raft;
    if (!this.isActiveController) return;
    const state = partitionState(this.image, body.partition);
    if (state === null) return;
    const validation = validateIsrChange(state, body.request, this.#liveContext());
    if (!validation.ok) {
      this.#answerAlter(body, { ok: false, code: validation.code });
      return;
    }
    const next = validation.state;
    const proposal = raft.log.propose({
      type: 'change-partition',
      topic: TOPIC,
      partition: body.partition,
      expectedPartitionEpoch: state.partitionEpoch,
      leader: next.leader,
      leaderEpoch: next.leaderEpoch,
      replicas: next.replicas,
      isr: next.isr,
    });
    // The answer goes out once the change is applied by this process; a dropped proposal gets
    // none (the partition leader retries).
    proposal.then(
      ({ result }) => {
        const applied = result as AppliedChange | null;
        if (!raft.life.alive || applied === null) return;
        const answer: IsrChangeResult =
          applied.result.ok && applied.state !== null
            ? { ok: true, state: applied.state }
            : { ok: false, code: 'INVALID_UPDATE_VERSION' };
        this.#answerAlter(body, answer);
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

  /** Registered, unfenced nodes not shutting down: who may join an ISR. */
  #liveContext(): ElectionContext {
    const liveNodes = new Set<NodeId>();
    for (const node of this.image.nodes()) {
      if (node.status === 'alive' && !node.shuttingDown) liveNodes.add(toNodeId(node.id));
    }
    return {
      liveNodes,
      ineligible: new Set(),
      uncleanLeaderElection: this.#config.uncleanLeaderElection,
    };
  }
}
