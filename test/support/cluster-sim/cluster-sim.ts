// A whole Rill cluster in one process: ClusterBrokers (the production RaftMetadataLog on
// simulated storage and transport + real MetadataImage + ControllerCore + replication SimNodes per
// partition) on one seeded event queue and virtual clock (Raft's timers run at its ticks),
// a lossy, duplicating, delaying, partitionable network (raft-sim's SimNetwork), crashes of any
// node (controller included) that lose unflushed writes, and a workload of unique acks=all and
// acks=1 produces and one consumer per partition. After every event it checks Raft safety on
// the metadata group (raft-sim's SimChecker) and the replication invariants of
// research/raft-test-anchors.md §2.3 (cluster-checker.ts); a violation throws with the seed.
// Not modelled: Raft snapshots and membership changes (raft-sim covers them), unclean election
// except as a mutation check, corrupt batches, and Raft disk latency (the Raft disk is
// synchronous; the replica logs are the disks that lose unflushed writes). The seam that lets
// the promise-driven production Raft shell run under the seed: SimRaftStorage completes every
// save synchronously, Raft's timers run on virtual time (SimTimers), and every step is awaited
// and drains the microtask queue before the checks (async-stepped-sim.ts), so `await
// sim.runFor(…)` is a pure function of the seed (the replay test checks it).
import { SeededRandom, toNodeId, assert, type NodeId } from '../../../src/common/index.ts';
import type { MetadataCommand, MetadataResult } from '../../../src/broker/metadata-command.ts';
import type { ProbeOutcome } from '../../../src/broker/controller-core.ts';
import { isNewerState, type PartitionState } from '../../../src/broker/replication/index.ts';
import { SimChecker, Violation } from '../raft-sim/sim-checker.ts';
import { SimNetwork } from '../raft-sim/sim-network.ts';
import { realFollower, type FollowerFactory, type SimNode } from '../replication-sim/sim-node.ts';
import type { Acks, Message, Payload } from '../replication-sim/messages.ts';
import {
  History,
  type FetchOp,
  type FetchOutcome,
  type ProduceOp,
  type ProduceOutcome,
} from '../checker/history.ts';
import type { SimFlush } from '../replication-sim/memory-replica-log.ts';
import { ClusterBroker, partitionState, type Envelope } from './cluster-broker.ts';
import { newPartitionGhost, type PartitionGhost } from '../replication-sim/sim-checker.ts';
import { checkClusterInvariants, checkFinal } from './cluster-checker.ts';
import { AsyncSteppedSim, drainMicrotasks } from './async-stepped-sim.ts';
import { cloneWire } from './clone-wire.ts';
import { SimTimers, type Life } from './sim-raft-ports.ts';

export interface ClusterSimOptions {
  readonly seed: number;
  readonly nodeCount: number;
  readonly partitionCount: number;
  readonly minInsyncReplicas: number;
  readonly flush: SimFlush;
  readonly lossProbability: number;
  readonly duplicateProbability: number;
  readonly delayMsMax: number;
  /** Per tick: chance to crash a random node, the controller, to start a partition. */
  readonly crashProbability: number;
  readonly controllerCrashProbability: number;
  readonly partitionProbability: number;
  /** Per tick: chance a node turns slow (every message to or from it delayed 100–400 ms). */
  readonly slowNodeProbability: number;
  readonly produceProbability: number;
  readonly acksAllShare: number;
  readonly followerFactory: FollowerFactory;
  /** A deliberately unsafe controller (mutation check): elect outside the ISR when it must. */
  readonly uncleanLeaderElection: boolean;
  /** A deliberately unsafe broker (mutation check): lead before the controller admitted it. */
  readonly actBeforeAdmission: boolean;
  /** A deliberately unsafe leader (history-checker mutation checks, issue 10). */
  readonly unsafeLeader?: 'serve-above-hw' | 'ack-on-append' | 'no-dedup';
  /**
   * The producer is idempotent (issue 9): every send is stamped (one producer id, a sequence
   * per partition), up to five are in flight per partition, and a send is retried with the
   * same stamp until acknowledged — after an error, or when no answer came within
   * clientTimeoutMs. Its history op completes once, with the first acknowledgement.
   */
  readonly idempotentProducer?: boolean;
  /** Idempotent producer only: chance the answer to a produce is lost on its way back. */
  readonly produceAnswerLossProbability?: number;
  /** false: skip the per-event replication invariants (to show the history checker alone). */
  readonly checkInvariants?: boolean;
}

export const defaultClusterOptions: Omit<ClusterSimOptions, 'seed'> = {
  nodeCount: 3,
  partitionCount: 2,
  minInsyncReplicas: 2,
  flush: 'always',
  lossProbability: 0,
  duplicateProbability: 0,
  delayMsMax: 5,
  crashProbability: 0,
  controllerCrashProbability: 0,
  partitionProbability: 0,
  slowNodeProbability: 0,
  produceProbability: 0,
  acksAllShare: 1,
  followerFactory: realFollower,
  uncleanLeaderElection: false,
  actBeforeAdmission: false,
};

/** Swarm testing: the seed also draws the fault profile. */
export function swarmClusterOptions(
  seed: number,
  overrides: Partial<ClusterSimOptions> = {},
): ClusterSimOptions {
  const random = new SeededRandom(seed ^ 0xc1a5);
  const pick = <T>(values: readonly T[]): T => {
    const value = values[random.int(values.length)];
    assert(value !== undefined, 'pick from a non-empty list');
    return value;
  };
  const nodeCount = pick([3, 3, 5]);
  return {
    ...defaultClusterOptions,
    seed,
    nodeCount,
    partitionCount: pick([1, 2, 3]),
    minInsyncReplicas: pick([1, 2, 2]),
    lossProbability: pick([0, 0.01, 0.05, 0.1]),
    duplicateProbability: pick([0, 0.02, 0.1]),
    delayMsMax: pick([2, 5, 20, 60]),
    crashProbability: pick([0, 0.003, 0.01]),
    controllerCrashProbability: pick([0, 0.003, 0.01]),
    partitionProbability: pick([0, 0.005, 0.02]),
    slowNodeProbability: pick([0, 0.005, 0.02]),
    produceProbability: pick([0.3, 0.6]),
    acksAllShare: pick([0.7, 1]),
    flush: pick(['always', 'always', 'always', 'never'] as const),
    ...overrides,
  };
}

export const PRODUCER_ID = toNodeId(200);
export const CONSUMER_ID = toNodeId(201);
const TICK_MS = 10;
/** The idempotent producer's stamp: its id (epoch 0), and its limits. */
const idempotentProducerId = 7;
const idempotentInFlightMax = 5;
/** Above the broker's produceTimeoutMs (1 s): a send with no answer by then is resent. */
const clientTimeoutMs = 1_500;
/** Attempt ids on the wire are apart from the sends' own ids. */
const attemptIdBase = 1_000_000_000;

/** One send of the idempotent producer, until acknowledged. */
interface IdempotentSend {
  readonly produceId: number;
  readonly partition: number;
  readonly value: string;
  readonly sequence: number;
  /** In flight until this time (null: not in flight); attempts answered late still count. */
  inFlightUntilMs: number | null;
  attempts: number;
}

export interface AppliedRecord {
  readonly broker: number;
  readonly index: number;
  readonly command: MetadataCommand;
  readonly result: MetadataResult;
}

export class ClusterSim extends AsyncSteppedSim<ClusterSimOptions> {
  readonly random: SeededRandom;
  readonly brokers: ClusterBroker[] = [];
  readonly checker = new SimChecker();
  readonly network: SimNetwork<Envelope>;
  readonly ghosts: PartitionGhost[] = [];
  /** Every client operation and its answer, for the history checker (test/support/checker). */
  readonly history = new History();
  readonly #produceOps = new Map<number, ProduceOp>();
  /** The consumer's latest fetch per partition (one in flight; a lost answer is never completed). */
  readonly #fetchOps = new Map<number, FetchOp>();
  /** Scripted tests may hook every applied metadata command (before the controller answers). */
  onApplied: ((record: AppliedRecord) => void) | null = null;
  /** Scripted tests may watch every envelope the network delivers. */
  onDeliver: ((envelope: Envelope) => void) | null = null;
  faultsOn = true;
  crashes = 0;
  /** `${partition}:${leaderEpoch}` → the metadata log index that elected that leader epoch. */
  readonly electedAt = new Map<string, number>();
  readonly #newestStates = new Map<number, PartitionState>();
  #nextTickMs = 0;
  #nextProduceId = 1;
  /** Idempotent producer: per partition its next sequence and unacknowledged sends, in order. */
  readonly #idempotent: { nextSequence: number; readonly sends: IdempotentSend[] }[] = [];
  /** Attempt id on the wire → its send. */
  readonly #attempts = new Map<number, IdempotentSend>();
  #nextAttemptId = attemptIdBase;
  /** Idempotent sends acknowledged, and attempts made, for the property's counts. */
  idempotentAcked = 0;
  idempotentAttempts = 0;
  readonly #downUntil = new Map<number, number>();
  #healAtMs: number | null = null;
  /** A slow node (P17): until when, and how much extra delay its messages get. */
  #slow: { id: number; untilMs: number; extraMs: number } | null = null;
  /** Raft's clocks: every broker process's timers, run at the simulator's ticks. */
  readonly timers = new SimTimers(() => this.nowMs);
  /** The first check that failed inside the production Raft path, thrown after its event. */
  #failure: unknown = null;

  constructor(options: ClusterSimOptions) {
    super(options);
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork<Envelope>(
      new SeededRandom(options.seed ^ 0x7e7),
      {
        dropProbability: options.lossProbability,
        duplicateProbability: options.duplicateProbability,
        delayTicksMin: 1,
        delayTicksMax: options.delayMsMax,
      },
      cloneWire,
    );
    const voters = Array.from({ length: options.nodeCount }, (_, i) => i + 1);
    const env = {
      nowMs: () => this.nowMs,
      clock: (life: Life) => this.timers.clock(life),
      send: (envelope: Envelope) => this.#send(envelope),
      probe: (from: number, to: number): ProbeOutcome => {
        if (!this.broker(to).up) return 'refused';
        return this.network.canTalk(from, to) ? 'open' : 'timeout';
      },
      fail: (error: unknown) => {
        this.#failure ??= error;
      },
      checker: this.checker,
      onApplied: (
        broker: ClusterBroker,
        index: number,
        command: MetadataCommand,
        result: MetadataResult,
      ) => {
        this.#noteElection(index, command, result);
        this.onApplied?.({ broker: broker.id, index, command, result });
      },
      onTruncate: (node: SimNode, offset: number) => this.#onTruncate(node, offset),
    };
    for (const id of voters) {
      const config = {
        id: toNodeId(id),
        voters,
        partitionCount: options.partitionCount,
        replicationFactor: 3,
        heartbeatMs: 50,
        sessionTimeoutMs: 400,
        uncleanLeaderElection: options.uncleanLeaderElection,
        actBeforeAdmission: options.actBeforeAdmission,
        node: {
          minInsyncReplicas: options.minInsyncReplicas,
          replicaLagMsMax: 300,
          ackWaitersMax: 64,
          isrChangeRetryMs: 200,
          requestTimeoutMs: 200,
          retryBackoffMs: 20,
          assignEpochOnElection: true,
          produceTimeoutMs: 1000,
          fetchRecordsMax: 8,
          flush: options.flush,
          followerFactory: options.followerFactory,
          ...(options.unsafeLeader === undefined ? {} : { unsafe: options.unsafeLeader }),
        },
      };
      const random = new SeededRandom((Math.imul(options.seed, 0x9e3779b1) ^ id) | 0);
      this.brokers.push(new ClusterBroker(config, env, random));
    }
    for (let p = 0; p < options.partitionCount; p += 1) {
      this.ghosts.push(newPartitionGhost());
      this.#idempotent.push({ nextSequence: 0, sends: [] });
    }
  }

  broker(id: number): ClusterBroker {
    const broker = this.brokers[id - 1];
    assert(broker !== undefined, `no broker ${id}`);
    return broker;
  }

  /** The latest committed metadata: the image of the up broker that applied the most. */
  committedBroker(): ClusterBroker {
    let best: ClusterBroker | undefined;
    for (const b of this.brokers) {
      if (best === undefined || b.machine.appliedIndex > best.machine.appliedIndex) best = b;
    }
    assert(best !== undefined, 'brokers');
    return best;
  }

  /**
   * The newest committed state of a partition: the newest any broker's image has applied so
   * far. Not simply the most advanced up broker's image: when every node restarts at once,
   * each replays its metadata log from the start and holds an older state for a while.
   */
  committedState(partition: number): PartitionState | null {
    const current = partitionState(this.committedBroker().image, partition);
    const known = this.#newestStates.get(partition);
    if (current !== null && (known === undefined || isNewerState(current, known))) {
      this.#newestStates.set(partition, current);
      return current;
    }
    return known ?? current;
  }

  controller(): ClusterBroker | null {
    return this.brokers.find((b) => b.up && b.isActiveController) ?? null;
  }

  // ---- control ----

  crash(id: number): void {
    const broker = this.broker(id);
    if (!broker.up) return;
    this.log(`crash ${id}${broker.isActiveController ? ' (controller)' : ''}`);
    this.crashes += 1;
    broker.crash();
  }

  restart(id: number): void {
    const broker = this.broker(id);
    if (broker.up) return;
    this.log(`restart ${id}`);
    broker.restart();
  }

  isolate(id: number): void {
    this.log(`isolate ${id}`);
    this.network.isolate(id);
  }

  heal(): void {
    this.network.heal();
  }

  produce(partition: number, value: string, requestedAcks: Acks): number {
    // The idempotent producer sends acks=all only (Kafka's enable.idempotence requires it).
    const acks = this.options.idempotentProducer === true ? 'all' : requestedAcks;
    const produceId = this.#nextProduceId;
    this.#nextProduceId += 1;
    const ghost = this.ghosts[partition];
    assert(ghost !== undefined, 'partition');
    ghost.produced.set(produceId, { value, acks, result: 'pending' });
    const acksLabel = acks === 'all' ? 'all' : '1';
    this.#produceOps.set(
      produceId,
      this.history.produce('producer', `p${partition}`, value, acksLabel, this.nowMs),
    );
    if (this.options.idempotentProducer === true) {
      const queue = this.#idempotent[partition];
      assert(queue !== undefined, 'partition');
      const sequence = queue.nextSequence;
      queue.nextSequence += 1;
      queue.sends.push({
        produceId,
        partition,
        value,
        sequence,
        inFlightUntilMs: null,
        attempts: 0,
      });
      this.#pumpIdempotent(partition);
      return produceId;
    }
    const leader = this.committedState(partition)?.leader ?? null;
    if (leader !== null) {
      this.#sendClient(PRODUCER_ID, leader, partition, {
        kind: 'produce',
        produceId,
        value,
        acks,
      });
    }
    return produceId;
  }

  /** Idempotent sends not acknowledged yet, over every partition. */
  get idempotentPending(): number {
    return this.#idempotent.reduce((n, queue) => n + queue.sends.length, 0);
  }

  /**
   * Sends (or resends, same stamp) a partition's unacknowledged sends in sequence order, up to
   * five in flight; one whose answer is overdue is resent. acks=all always (as Kafka requires).
   */
  #pumpIdempotent(partition: number): void {
    const queue = this.#idempotent[partition];
    const leader = this.committedState(partition)?.leader ?? null;
    if (queue === undefined || leader === null) return;
    let inFlight = 0;
    for (const send of queue.sends) {
      if (send.inFlightUntilMs !== null && send.inFlightUntilMs <= this.nowMs) {
        send.inFlightUntilMs = null;
      }
      if (send.inFlightUntilMs !== null) inFlight += 1;
    }
    for (const send of queue.sends) {
      if (inFlight >= idempotentInFlightMax) break;
      if (send.inFlightUntilMs !== null) continue;
      const attemptId = this.#nextAttemptId;
      this.#nextAttemptId += 1;
      this.#attempts.set(attemptId, send);
      send.inFlightUntilMs = this.nowMs + clientTimeoutMs;
      send.attempts += 1;
      this.idempotentAttempts += 1;
      inFlight += 1;
      this.#sendClient(PRODUCER_ID, leader, partition, {
        kind: 'produce',
        produceId: attemptId,
        value: send.value,
        acks: 'all',
        producer: {
          producerId: idempotentProducerId,
          producerEpoch: 0,
          sequence: send.sequence,
        },
      });
    }
  }

  /**
   * An answer to an idempotent attempt: an acknowledgement completes its send (the first one
   * only); an error makes it due for a resend. Returns the message as the send's own, or null.
   */
  #onIdempotentAnswer(message: Message): Message | null {
    const payload = message.payload;
    assert(payload.kind === 'produceResponse', 'producer gets produce responses');
    const send = this.#attempts.get(payload.produceId);
    if (send === undefined) return null;
    this.#attempts.delete(payload.produceId);
    const queue = this.#idempotent[send.partition];
    const at = queue?.sends.indexOf(send) ?? -1;
    if (queue === undefined || at === -1) return null; // Acknowledged by another attempt.
    if (!payload.result.ok) {
      send.inFlightUntilMs = null;
      return null;
    }
    queue.sends.splice(at, 1);
    this.idempotentAcked += 1;
    return { ...message, payload: { ...payload, produceId: send.produceId } };
  }

  pollConsumer(partition: number): void {
    const ghost = this.ghosts[partition];
    const leader = this.committedState(partition)?.leader ?? null;
    if (ghost === undefined || leader === null || ghost.consumerInFlight) return;
    ghost.consumerInFlight = true;
    const fetch = this.history.fetch(
      'consumer',
      `p${partition}`,
      ghost.consumerPosition,
      this.nowMs,
    );
    this.#fetchOps.set(partition, fetch);
    this.#sendClient(CONSUMER_ID, leader, partition, {
      kind: 'consumerFetch',
      offset: ghost.consumerPosition,
      knownEpoch: ghost.consumerEpoch,
    });
  }

  // ---- running ----

  async step(): Promise<void> {
    const due = this.network.queue.popDue(this.#nextTickMs - 1);
    try {
      if (due === undefined) {
        this.nowMs = this.#nextTickMs;
        this.#nextTickMs += TICK_MS;
        // Raft ticks (and its other timers) first, then the brokers act on what they led to.
        this.timers.runDue(this.nowMs);
        await this.#drained();
        this.#tick();
      } else {
        this.nowMs = Math.max(this.nowMs, due.time);
        this.#deliver(due.event);
      }
      await this.#drained();
      if (this.options.checkInvariants !== false) checkClusterInvariants(this);
    } catch (error) {
      if (error instanceof Violation || error instanceof Error) {
        throw new Error(
          `${error.message}\n${this.describe()}\nlast events:\n${this.trace.slice(-40).join('\n')}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** Lets every promise the event started settle; throws a check that failed meanwhile. */
  async #drained(): Promise<void> {
    await drainMicrotasks();
    const failure = this.#failure;
    if (failure !== null) throw failure;
  }

  /**
   * Liveness: stop faults, heal, restart everyone; then a controller, a leader for every
   * partition, a final acks=all write per partition, and identical full replicas.
   */
  converge(durationMsMax = 20_000): Promise<boolean> {
    this.faultsOn = false;
    this.network.profile = { ...this.network.profile, dropProbability: 0, duplicateProbability: 0 };
    this.heal();
    for (const broker of this.brokers) this.restart(broker.id);
    const finals = new Map<number, number>();
    return this.runUntil(() => {
      if (this.controller() === null) return false;
      if (this.idempotentPending > 0) return false;
      for (let p = 0; p < this.options.partitionCount; p += 1) {
        if (!this.#fullyReplicated(p)) return false;
        const id = finals.get(p);
        const result = id === undefined ? undefined : this.ghosts[p]?.produced.get(id)?.result;
        if (id === undefined || (result !== 'pending' && result !== 'acked')) {
          finals.set(p, this.produce(p, `final-${p}-${this.#nextProduceId}`, 'all'));
          return false;
        }
        if (result !== 'acked') return false;
        const ghost = this.ghosts[p];
        const leader = this.committedState(p)?.leader;
        if (ghost === undefined || leader === null || leader === undefined) return false;
        const end = this.broker(leader).partitions[p]?.log.logEndOffset;
        if (ghost.consumerPosition !== end) return false;
      }
      return true;
    }, durationMsMax);
  }

  /** End-of-run problems after converge(): divergence, lost acked writes, unseen writes. */
  finalProblems(): string[] {
    return checkFinal(this);
  }

  #fullyReplicated(partition: number): boolean {
    const state = this.committedState(partition);
    if (state === null || state.leader === null) return false;
    if (state.isr.length !== state.replicas.length) return false;
    const leader = this.broker(state.leader).partitions[partition];
    if (leader === undefined || leader.role.kind !== 'leader') return false;
    if (leader.applied?.partitionEpoch !== state.partitionEpoch) return false;
    const end = leader.log.logEndOffset;
    if (leader.role.replica.highWatermark !== end) return false;
    return state.replicas.every(
      (id) => this.broker(id).partitions[partition]?.log.logEndOffset === end,
    );
  }

  #tick(): void {
    for (const broker of this.brokers) {
      if (!broker.up) continue;
      broker.tick(this.nowMs);
      // log.flush=never still reaches the disk now and then (the OS writes dirty pages back).
      if (this.options.flush === 'never' && this.random.chance(0.05))
        for (const node of broker.partitions) node.log.flushNow();
    }
    for (let p = 0; p < this.options.partitionCount; p += 1) {
      const ghost = this.ghosts[p];
      if (this.options.idempotentProducer === true) this.#pumpIdempotent(p);
      if (ghost !== undefined && this.nowMs % 1000 === 0) ghost.consumerInFlight = false;
      if (!this.faultsOn) {
        if (this.nowMs % 50 === 0) this.pollConsumer(p);
        continue;
      }
      if (this.random.chance(this.options.produceProbability / this.options.partitionCount)) {
        const acks = this.random.chance(this.options.acksAllShare) ? 'all' : 1;
        this.produce(p, `v${this.#nextProduceId}`, acks);
      }
      if (this.random.chance(0.3)) this.pollConsumer(p);
    }
    if (this.faultsOn) this.#injectFaults();
  }

  #injectFaults(): void {
    for (const [id, atMs] of this.#downUntil) {
      if (this.nowMs < atMs) continue;
      this.#downUntil.delete(id);
      this.restart(id);
    }
    if (this.#healAtMs !== null && this.nowMs >= this.#healAtMs) {
      this.#healAtMs = null;
      this.log('heal');
      this.heal();
    }
    const options = this.options;
    let victim: ClusterBroker | null | undefined = null;
    if (this.random.chance(options.crashProbability)) {
      victim = this.brokers[this.random.int(this.brokers.length)];
    } else if (this.random.chance(options.controllerCrashProbability)) {
      victim = this.controller();
    }
    if (victim !== null && victim !== undefined && victim.up) {
      this.crash(victim.id);
      this.#downUntil.set(victim.id, this.nowMs + 50 + this.random.int(1500));
    }
    this.#maybeSlowNode();
    if (this.#healAtMs === null && this.random.chance(options.partitionProbability)) {
      const target = this.random.chance(0.5) ? this.controller() : null;
      if (target !== null) this.isolate(target.id);
      else {
        this.log('random partition');
        this.network.partition(
          this.brokers.map((b) => b.id),
          this.random.chance(0.5),
        );
      }
      this.#healAtMs = this.nowMs + 100 + this.random.int(1500);
    }
  }

  #maybeSlowNode(): void {
    if (this.#slow !== null && this.nowMs >= this.#slow.untilMs) this.#slow = null;
    if (this.#slow !== null || !this.random.chance(this.options.slowNodeProbability)) return;
    const id = 1 + this.random.int(this.brokers.length);
    const extraMs = 100 + this.random.int(300);
    this.log(`node ${id} slow (+${extraMs} ms)`);
    this.#slow = { id, untilMs: this.nowMs + 500 + this.random.int(2000), extraMs };
  }

  // ---- wire ----

  #send(envelope: Envelope): void {
    const client = (id: number): boolean => id === PRODUCER_ID || id === CONSUMER_ID;
    if (client(envelope.from) || client(envelope.to)) {
      // Clients always reach brokers, without loss: the zombie-leader cases need that (P13).
      this.network.queue.push(this.nowMs + 1 + this.random.int(3), cloneWire(envelope));
      return;
    }
    const slow = this.#slow;
    const slowed = slow !== null && (envelope.from === slow.id || envelope.to === slow.id);
    this.network.send(envelope, this.nowMs, slowed && this.faultsOn ? slow.extraMs : 0);
  }

  #sendClient(from: NodeId, to: number, partition: number, payload: Message['payload']): void {
    const message: Message = {
      from,
      to: toNodeId(to),
      fromIncarnation: 0,
      toIncarnation: null,
      toInstance: null,
      fromInstance: null,
      payload,
    };
    this.#send({ from, to, body: { kind: 'repl', partition, message } });
  }

  /** Puts a scripted message on the wire, subject to the same network as any other. */
  inject(envelope: Envelope): void {
    this.#send(envelope);
  }

  #deliver(envelope: Envelope): void {
    this.onDeliver?.(envelope);
    const body = envelope.body;
    if (body.kind === 'repl' && (envelope.to === PRODUCER_ID || envelope.to === CONSUMER_ID)) {
      const ghost = this.ghosts[body.partition];
      assert(ghost !== undefined, 'partition');
      if (envelope.to === PRODUCER_ID && this.options.idempotentProducer === true) {
        const lossProbability = this.options.produceAnswerLossProbability ?? 0;
        if (this.faultsOn && this.random.chance(lossProbability)) return; // Lost on the way.
        const answer = this.#onIdempotentAnswer(body.message);
        if (answer !== null) this.#onProduceResponse(ghost, answer);
      } else if (envelope.to === PRODUCER_ID) this.#onProduceResponse(ghost, body.message);
      else {
        this.#recordFetch(body.partition, body.message);
        this.#onConsumerResponse(ghost, body.message);
      }
      return;
    }
    const isClient = envelope.from === PRODUCER_ID || envelope.from === CONSUMER_ID;
    if (!isClient && !this.network.canTalk(envelope.from, envelope.to)) return;
    const broker = this.broker(envelope.to);
    if (!broker.up) return;
    if (body.kind === 'repl' && body.message.payload.kind !== 'fetchResponse') {
      const kind = body.message.payload.kind;
      if (kind !== 'followerRequest' && kind !== 'epochEndOffsetResponse')
        this.log(`${envelope.from}→${envelope.to} p${body.partition} ${kind}`);
    }
    broker.receive(envelope);
  }

  #onProduceResponse(ghost: PartitionGhost, message: Message): void {
    const payload = message.payload;
    assert(payload.kind === 'produceResponse', 'producer gets produce responses');
    this.#recordProduce(payload.produceId, payload.result);
    const op = ghost.produced.get(payload.produceId);
    if (op === undefined || op.result !== 'pending') return;
    if (!payload.result.ok) {
      op.result = payload.result.code;
      if (payload.result.code === 'NOT_ENOUGH_REPLICAS') ghost.refused.add(op.value);
      return;
    }
    op.result = 'acked';
    const offset = payload.result.offset;
    if (op.acks === 'all') {
      const previous = ghost.ackedAll.get(offset);
      if (previous !== undefined && this.strict)
        ghost.violations.push(`two acks=all writes acked at ${offset}: ${previous}, ${op.value}`);
      ghost.ackedAll.set(offset, op.value);
      ghost.ackedAllLog.push([offset, op.value]);
    }
  }

  #onConsumerResponse(ghost: PartitionGhost, message: Message): void {
    const payload = message.payload;
    assert(payload.kind === 'consumerFetchResponse', 'consumer gets fetch responses');
    ghost.consumerInFlight = false;
    const result = payload.result;
    if (payload.offset !== ghost.consumerPosition) return;
    if (!result.ok) {
      if (result.code === 'FENCED_LEADER_EPOCH') ghost.consumerEpoch = null;
      if (result.code === 'OFFSET_OUT_OF_RANGE') {
        // Allowed only where loss is (flush=never): the consumer then starts over.
        if (this.strict) ghost.violations.push(`consumer at ${payload.offset} out of range`);
        else ghost.consumerPosition = 0;
      }
      return;
    }
    if (this.strict && result.highWatermark < ghost.consumerMaxHw)
      ghost.violations.push(`consumer saw HW ${result.highWatermark} after ${ghost.consumerMaxHw}`);
    ghost.consumerMaxHw = Math.max(ghost.consumerMaxHw, result.highWatermark);
    ghost.consumerEpoch = Math.max(ghost.consumerEpoch ?? 0, result.leaderEpoch);
    let expected = payload.offset;
    for (const record of result.records) {
      if (record.offset !== expected)
        ghost.violations.push(`poll skip: ${expected} then ${record.offset}`);
      if (record.offset >= result.highWatermark)
        ghost.violations.push(`read ${record.offset} ≥ HW`);
      const seen = ghost.consumerSeen.get(record.offset);
      if (this.strict && seen !== undefined && seen !== record.value)
        ghost.violations.push(`offset ${record.offset} read as ${seen} then ${record.value}`);
      ghost.consumerSeen.set(record.offset, record.value);
      expected = record.offset + 1;
    }
    ghost.consumerPosition = expected;
  }

  #recordProduce(
    produceId: number,
    result: (Payload & { kind: 'produceResponse' })['result'],
  ): void {
    const op = this.#produceOps.get(produceId);
    if (op === undefined) return;
    this.#produceOps.delete(produceId);
    // Only NOT_ENOUGH_REPLICAS is certain to precede the append; other errors may follow it.
    const outcome: ProduceOutcome = result.ok
      ? { kind: 'ok', offset: result.offset, leaderEpoch: result.leaderEpoch }
      : result.code === 'NOT_ENOUGH_REPLICAS'
        ? { kind: 'refused', code: result.code }
        : { kind: 'unknown', code: result.code };
    this.history.complete(op, outcome, this.nowMs);
  }

  #recordFetch(partition: number, message: Message): void {
    const payload = message.payload;
    const op = this.#fetchOps.get(partition);
    if (payload.kind !== 'consumerFetchResponse' || op?.fromOffset !== payload.offset) return;
    this.#fetchOps.delete(partition);
    const result = payload.result;
    const outcome: FetchOutcome = result.ok
      ? {
          kind: 'ok',
          records: result.records.map((r) => ({ offset: r.offset, value: r.value })),
          highWatermark: result.highWatermark,
          leaderEpoch: result.leaderEpoch,
        }
      : { kind: 'fail', code: result.code };
    this.history.complete(op, outcome, this.nowMs);
  }

  #noteElection(index: number, command: MetadataCommand, result: MetadataResult): void {
    if (!result.ok) return;
    const note = (p: number, epoch: number): void => {
      if (!this.electedAt.has(`${p}:${epoch}`)) this.electedAt.set(`${p}:${epoch}`, index);
    };
    if (command.type === 'create-topic') command.partitions.forEach((_, p) => note(p, 0));
    if (command.type === 'change-partition') note(command.partition, command.leaderEpoch);
  }

  /** log.flush=always with clean elections: no loss is allowed at all. */
  get strict(): boolean {
    return this.options.flush === 'always';
  }

  /** Truncation floor: in strict runs no replica truncates below the HW it checkpointed. */
  #onTruncate(node: SimNode, offset: number): void {
    const floor = node.log.highWatermarkCheckpoint;
    if (offset >= floor) return;
    const p = this.broker(node.id).partitions.indexOf(node);
    const note = `node ${node.id} truncated partition ${p} to ${offset} below its HW ${floor}`;
    this.log(note);
    if (this.strict) this.ghosts[p]?.violations.push(note);
  }

  log(line: string): void {
    this.trace.push(`${this.nowMs}ms ${line}`);
    if (this.trace.length > 400) this.trace.splice(0, 200);
  }
}
