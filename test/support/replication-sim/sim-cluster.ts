// A whole replicated partition in one process: brokers (SimNode), a controller, a network with
// loss, delay and partitions, a producer and a consumer with unique values, and crashes that
// lose unflushed writes. Everything is driven by one seeded random stream and a virtual clock,
// so a run replays from its seed. After every event the checker below runs the replication
// invariants of research/raft-test-anchors.md §2.3; a violation throws with seed and options.
import { SeededRandom, assert, toNodeId, type NodeId } from '../../../src/common/index.ts';
import { SimController } from './sim-controller.ts';
import { SimNode, realFollower, type FollowerFactory } from './sim-node.ts';
import type { SimFlush } from './memory-replica-log.ts';
import type { Acks, Message } from './messages.ts';
import { checkCluster, isStrict, newPartitionGhost, type Ghost } from './sim-checker.ts';
import { EventQueue } from './event-queue.ts';
import { SteppedSim } from './stepped-sim.ts';

export interface SimOptions {
  readonly seed: number;
  readonly nodeCount: number;
  readonly minInsyncReplicas: number;
  readonly flush: SimFlush;
  readonly uncleanLeaderElection: boolean;
  readonly lossProbability: number;
  /** Chance a node-to-node or controller message is delivered twice (clients are exempt). */
  readonly duplicateProbability: number;
  readonly delayMsMin: number;
  readonly delayMsMax: number;
  readonly tickMs: number;
  readonly heartbeatMs: number;
  readonly sessionTimeoutMs: number;
  readonly replicaLagMsMax: number;
  readonly produceTimeoutMs: number;
  readonly fetchRecordsMax: number;
  readonly followerFactory: FollowerFactory;
  /** Per tick: chance to crash a live node, to start a network partition. */
  readonly crashProbability: number;
  readonly partitionProbability: number;
  /** Per tick: chance a node turns slow (every message to or from it delayed 100–400 ms). */
  readonly slowNodeProbability: number;
  readonly produceProbability: number;
  readonly acksAllShare: number;
  /** With log.flush=never: per node and tick, the chance the OS writes the tail back. */
  readonly backgroundFlushProbability: number;
  /**
   * Share of crashes that restart within the session, unnoticed by the controller (ZooKeeper
   * era). Only sound with flush=always: a leader that lost its tail must come back in a new
   * epoch, which is why KRaft fences every new incarnation.
   */
  readonly softRestartShare: number;
  /** Open a leader epoch in the cache at election (Kafka's makeLeader) or at its first append. */
  readonly assignEpochOnElection: boolean;
}

export const defaultSimOptions: Omit<SimOptions, 'seed'> = {
  nodeCount: 3,
  minInsyncReplicas: 2,
  flush: 'always',
  uncleanLeaderElection: false,
  lossProbability: 0,
  duplicateProbability: 0,
  delayMsMin: 1,
  delayMsMax: 5,
  tickMs: 10,
  heartbeatMs: 50,
  sessionTimeoutMs: 300,
  replicaLagMsMax: 200,
  produceTimeoutMs: 1000,
  fetchRecordsMax: 8,
  followerFactory: realFollower,
  crashProbability: 0,
  partitionProbability: 0,
  slowNodeProbability: 0,
  produceProbability: 0,
  acksAllShare: 1,
  backgroundFlushProbability: 0,
  softRestartShare: 0,
  assignEpochOnElection: true,
};

/** Swarm testing: the seed also draws the fault profile (VOPR's options_swarm). */
export function swarmOptions(seed: number, overrides: Partial<SimOptions> = {}): SimOptions {
  const random = new SeededRandom(seed ^ 0x5eed);
  const pick = (values: readonly number[]): number => values[random.int(values.length)] ?? 0;
  let options: SimOptions = {
    ...defaultSimOptions,
    seed,
    lossProbability: pick([0, 0.01, 0.05, 0.1]),
    duplicateProbability: pick([0, 0.02, 0.1]),
    delayMsMax: pick([2, 5, 20, 60]),
    crashProbability: pick([0, 0.005, 0.02]),
    partitionProbability: pick([0, 0.005, 0.02]),
    slowNodeProbability: pick([0, 0.005, 0.02]),
    produceProbability: pick([0.2, 0.5]),
    acksAllShare: pick([0.7, 1]),
    backgroundFlushProbability: 0.05,
    softRestartShare: pick([0, 0.5]),
    nodeCount: pick([3, 3, 5]),
    ...overrides,
  };
  options = {
    ...options,
    minInsyncReplicas: options.nodeCount === 5 ? pick([2, 3]) : pick([1, 2, 2]),
    uncleanLeaderElection: random.chance(0.1),
    assignEpochOnElection: random.chance(0.5),
    ...overrides,
  };
  return options.flush === 'always' ? options : { ...options, softRestartShare: 0 };
}

interface Event {
  readonly atMs: number;
  readonly seq: number;
  readonly message: Message;
}

export const CONTROLLER_ID = toNodeId(100);
export const PRODUCER_ID = toNodeId(200);
export const CONSUMER_ID = toNodeId(201);

export class SimCluster extends SteppedSim<SimOptions> {
  readonly random: SeededRandom;
  readonly nodes: SimNode[] = [];
  readonly controller: SimController;
  readonly ghost: Ghost;
  #seq = 0;
  readonly #queue = new EventQueue<Event>();
  /** Unordered pairs that cannot talk: `${min}-${max}`. */
  readonly #cut = new Set<string>();
  #faultsOn = true;
  #lossProbability: number;
  #nextTickMs = 0;
  #nextProduceId = 1;
  /** Crashed nodes and when they come back; `soft` restarts keep their session. */
  readonly #downUntil = new Map<NodeId, { atMs: number; soft: boolean }>();
  #healAtMs: number | null = null;
  /** A slow node (P17): until when, and how much extra delay its messages get. */
  #slow: { id: NodeId; untilMs: number; extraMs: number } | null = null;

  constructor(options: SimOptions) {
    super(options);
    this.random = new SeededRandom(options.seed);
    this.#lossProbability = options.lossProbability;
    const ids = Array.from({ length: options.nodeCount }, (_, i) => toNodeId(i + 1));
    const send = (message: Message): void => this.#send(message);
    const env = {
      controllerId: CONTROLLER_ID,
      send,
      onTruncate: (node: SimNode, offset: number) => this.#onTruncate(node, offset),
    };
    for (const id of ids) {
      this.nodes.push(
        new SimNode(
          id,
          {
            minInsyncReplicas: options.minInsyncReplicas,
            replicaLagMsMax: options.replicaLagMsMax,
            ackWaitersMax: 64,
            isrChangeRetryMs: 200,
            requestTimeoutMs: 200,
            retryBackoffMs: 20,
            assignEpochOnElection: options.assignEpochOnElection,
            produceTimeoutMs: options.produceTimeoutMs,
            fetchRecordsMax: options.fetchRecordsMax,
            flush: options.flush,
            followerFactory: options.followerFactory,
          },
          env,
        ),
      );
    }
    const initial = {
      leader: ids[0] ?? null,
      leaderEpoch: 0,
      replicas: ids,
      isr: ids,
      partitionEpoch: 0,
    };
    this.controller = new SimController(
      {
        id: CONTROLLER_ID,
        sessionTimeoutMs: options.sessionTimeoutMs,
        uncleanLeaderElection: options.uncleanLeaderElection,
      },
      initial,
      send,
    );
    this.ghost = { ...newPartitionGhost(), ackedOne: new Map(), allowedLoss: [] };
  }

  node(id: number): SimNode {
    const node = this.nodes[id - 1];
    assert(node !== undefined, `no node ${id}`);
    return node;
  }

  // ---- control (scripted tests use these directly) ----

  partition(a: number, b: number): void {
    this.#cut.add(`${Math.min(a, b)}-${Math.max(a, b)}`);
  }
  /** Cuts `id` from every other node and from the controller (clients still reach it). */
  isolate(id: number, fromController = true): void {
    for (const other of this.nodes) if (other.id !== id) this.partition(id, other.id);
    if (fromController) this.partition(id, CONTROLLER_ID);
  }
  heal(): void {
    this.#cut.clear();
  }
  /** The batch after `lastGoodOffset` on follower `id` fails its CRC check (a lying disk). */
  corrupt(id: number, lastGoodOffset: number): void {
    this.#log(`corrupt ${id} after ${lastGoodOffset}`);
    this.node(id).onLogCorruption(lastGoodOffset);
  }
  crash(id: number): void {
    const node = this.node(id);
    if (!node.alive) return;
    this.#log(`crash ${id}`);
    node.crash();
  }
  /**
   * Restarts a crashed node. `keepSession` models a restart the controller does not notice
   * (ZooKeeper-era session survival, which the KIP-101 scenarios assume): same incarnation.
   */
  restart(id: number, options: { keepSession?: boolean } = {}): void {
    const node = this.node(id);
    if (node.alive) return;
    this.#log(`restart ${id}${options.keepSession === true ? ' (same session)' : ''}`);
    node.restart(options.keepSession === true);
  }
  produce(value: string, acks: Acks, to: NodeId | null = this.controller.state.leader): number {
    const produceId = this.#nextProduceId;
    this.#nextProduceId += 1;
    this.ghost.produced.set(produceId, { value, acks, result: 'pending' });
    if (to !== null) {
      this.#send({
        from: PRODUCER_ID,
        to,
        fromIncarnation: 0,
        toIncarnation: null,
        toInstance: null,
        fromInstance: null,
        payload: { kind: 'produce', produceId, value, acks },
      });
    }
    return produceId;
  }
  pollConsumer(): void {
    const leader = this.controller.state.leader;
    if (leader === null || this.ghost.consumerInFlight) return;
    this.ghost.consumerInFlight = true;
    const payload = {
      kind: 'consumerFetch' as const,
      offset: this.ghost.consumerPosition,
      knownEpoch: this.ghost.consumerEpoch,
    };
    this.#send({
      from: CONSUMER_ID,
      to: leader,
      fromIncarnation: 0,
      toIncarnation: null,
      toInstance: null,
      fromInstance: null,
      payload,
    });
  }

  /** Runs until every node has registered and holds a role for the partition. */
  settle(): void {
    this.must(() => this.nodes.every((n) => n.registered && n.role.kind !== 'none'), 'roles');
  }

  step(): void {
    const next = this.#queue.peek();
    if (next === undefined || next.atMs >= this.#nextTickMs) {
      this.nowMs = this.#nextTickMs;
      this.#nextTickMs += this.options.tickMs;
      this.#tick();
    } else {
      this.#queue.pop();
      this.nowMs = next.atMs;
      this.#deliver(next.message);
    }
    this.check();
  }

  check(): void {
    checkCluster(this);
    if (this.ghost.violations.length > 0) {
      throw new Error(
        `invariant violated: ${this.ghost.violations.join('; ')}\n${this.describe()}\n` +
          `last events:\n${this.trace.slice(-60).join('\n')}`,
      );
    }
  }

  /**
   * Liveness phase: stop faults, heal, restart everyone, and wait until the partition is fully
   * replicated, a final acks=all write is acknowledged and the consumer has drained it all.
   */
  converge(durationMsMax = 20_000): boolean {
    this.#faultsOn = false;
    this.#lossProbability = 0;
    this.heal();
    for (const node of this.nodes) this.restart(node.id);
    let finalWrite: number | null = null;
    return this.runUntil(() => {
      if (!this.#fullyReplicated()) return false;
      if (finalWrite === null) finalWrite = this.produce(`final-${this.#nextProduceId}`, 'all');
      const result = this.ghost.produced.get(finalWrite)?.result;
      if (result !== undefined && result !== 'pending' && result !== 'acked') finalWrite = null;
      return result === 'acked' && this.#fullyReplicated() && this.#consumerDrained();
    }, durationMsMax);
  }

  /** The final drain (Jepsen): the consumer has read up to the leader's end. */
  #consumerDrained(): boolean {
    const leader = this.controller.state.leader;
    return leader !== null && this.ghost.consumerPosition === this.node(leader).log.logEndOffset;
  }

  #fullyReplicated(): boolean {
    const state = this.controller.state;
    if (state.leader === null || state.isr.length !== this.nodes.length) return false;
    const leader = this.node(state.leader);
    if (leader.role.kind !== 'leader' || leader.applied?.partitionEpoch !== state.partitionEpoch)
      return false;
    const end = leader.log.logEndOffset;
    if (leader.role.replica.highWatermark !== end) return false;
    return this.nodes.every((n) => n.alive && n.registered && n.log.logEndOffset === end);
  }

  #tick(): void {
    const heartbeat = this.nowMs % this.options.heartbeatMs === 0;
    this.controller.onTick(this.nowMs);
    if (this.nowMs % 500 === 0) this.controller.broadcast();
    for (const node of this.nodes) {
      if (!node.alive) continue;
      node.onTick(this.nowMs, heartbeat);
      // log.flush=never still reaches the disk now and then (the OS writes dirty pages back).
      if (
        this.options.flush === 'never' &&
        this.random.chance(this.options.backgroundFlushProbability)
      ) {
        node.log.flushNow();
      }
    }
    this.#unstickConsumer();
    if (!this.#faultsOn) {
      if (this.nowMs % 50 === 0) this.pollConsumer();
      return;
    }
    if (
      this.options.produceProbability > 0 &&
      this.random.chance(this.options.produceProbability)
    ) {
      const acks = this.random.chance(this.options.acksAllShare) ? 'all' : 1;
      this.produce(`v${this.#nextProduceId}`, acks);
    }
    if (this.random.chance(0.3)) this.pollConsumer();
    this.#injectFaults();
  }

  /** The consumer's poll or its reply may have been lost: let it poll again now and then. */
  #unstickConsumer(): void {
    if (this.nowMs % 1000 === 0) this.ghost.consumerInFlight = false;
  }

  #injectFaults(): void {
    for (const [id, down] of this.#downUntil) {
      if (this.nowMs >= down.atMs) {
        this.#downUntil.delete(id);
        this.restart(id, { keepSession: down.soft });
      }
    }
    if (this.#healAtMs !== null && this.nowMs >= this.#healAtMs) {
      this.#healAtMs = null;
      this.#log('heal');
      this.heal();
    }
    if (this.random.chance(this.options.crashProbability)) {
      const node = this.nodes[this.random.int(this.nodes.length)];
      if (node !== undefined && node.alive) {
        this.crash(node.id);
        const soft = this.random.chance(this.options.softRestartShare);
        const downMs = soft
          ? this.random.int(this.options.sessionTimeoutMs / 2)
          : 50 + this.random.int(1000);
        this.#downUntil.set(node.id, { atMs: this.nowMs + downMs, soft });
      }
    }
    if (this.#healAtMs === null && this.random.chance(this.options.partitionProbability)) {
      const node = this.nodes[this.random.int(this.nodes.length)];
      if (node !== undefined) {
        const fromController = this.random.chance(0.5);
        this.#log(`isolate ${node.id}${fromController ? '' : ' (controller still reachable)'}`);
        this.isolate(node.id, fromController);
        this.#healAtMs = this.nowMs + 100 + this.random.int(1500);
      }
    }
    if (this.#slow !== null && this.nowMs >= this.#slow.untilMs) this.#slow = null;
    if (this.#slow === null && this.random.chance(this.options.slowNodeProbability)) {
      const node = this.nodes[this.random.int(this.nodes.length)];
      if (node !== undefined) {
        const extraMs = 100 + this.random.int(300);
        this.#log(`node ${node.id} slow (+${extraMs} ms)`);
        this.#slow = { id: node.id, untilMs: this.nowMs + 500 + this.random.int(2000), extraMs };
      }
    }
  }

  #send(message: Message): void {
    if (this.#faultsOn && this.#lossProbability > 0 && this.random.chance(this.#lossProbability)) {
      return;
    }
    this.#enqueue(message);
    const fromClient = message.from === PRODUCER_ID || message.from === CONSUMER_ID;
    const toClient = message.to === PRODUCER_ID || message.to === CONSUMER_ID;
    if (this.#faultsOn && !fromClient && !toClient) {
      if (this.random.chance(this.options.duplicateProbability)) this.#enqueue(message);
    }
  }

  /** Schedules a deep copy (sender and receiver never alias) after a random delay. */
  #enqueue(message: Message): void {
    const span = this.options.delayMsMax - this.options.delayMsMin + 1;
    const slow = this.#slow;
    const slowed = slow !== null && (message.from === slow.id || message.to === slow.id);
    const extraMs = slowed && this.#faultsOn ? slow.extraMs : 0;
    const atMs = this.nowMs + this.options.delayMsMin + this.random.int(span) + extraMs;
    const event = { atMs, seq: this.#seq, message: structuredClone(message) };
    this.#seq += 1;
    this.#queue.push(event);
  }

  #deliver(message: Message): void {
    const a = Math.min(message.from, message.to);
    const b = Math.max(message.from, message.to);
    if (this.#cut.has(`${a}-${b}`)) return;
    const kind = message.payload.kind;
    if (
      kind !== 'fetchResponse' &&
      kind !== 'followerRequest' &&
      kind !== 'heartbeat' &&
      kind !== 'metadata'
    ) {
      this.#log(
        `${message.from}→${message.to} ${kind} ${JSON.stringify(message.payload).slice(0, 160)}`,
      );
    }
    if (message.to === CONTROLLER_ID) return this.controller.onMessage(message, this.nowMs);
    if (message.to === PRODUCER_ID) return this.#onProduceResponse(message);
    if (message.to === CONSUMER_ID) return this.#onConsumerResponse(message);
    const node = this.node(message.to);
    if (!node.alive) return;
    if (message.toIncarnation !== null && message.toIncarnation !== node.incarnation) return;
    node.onMessage(message, this.nowMs);
  }

  #onProduceResponse(message: Message): void {
    const payload = message.payload;
    assert(payload.kind === 'produceResponse', 'producer gets produce responses');
    const op = this.ghost.produced.get(payload.produceId);
    assert(op !== undefined, 'a response to a produce we sent');
    if (op.result !== 'pending') return;
    if (!payload.result.ok) {
      op.result = payload.result.code;
      if (payload.result.code === 'NOT_ENOUGH_REPLICAS') {
        this.ghost.refused.add(op.value); // Refused before append: must never become visible (G1a).
      }
      return;
    }
    op.result = 'acked';
    const acked = op.acks === 'all' ? this.ghost.ackedAll : this.ghost.ackedOne;
    const offset = payload.result.offset;
    const previous = this.ghost.ackedAll.get(offset);
    if (previous !== undefined && op.acks === 'all') {
      const note = `two acks=all writes acked at offset ${offset}: ${previous}, ${op.value}`;
      if (isStrict(this)) this.ghost.violations.push(note);
      else this.ghost.allowedLoss.push(note);
    }
    acked.set(offset, op.value);
    if (op.acks === 'all') this.ghost.ackedAllLog.push([offset, op.value]);
  }

  #onConsumerResponse(message: Message): void {
    const payload = message.payload;
    assert(payload.kind === 'consumerFetchResponse', 'consumer gets fetch responses');
    this.ghost.consumerInFlight = false;
    const result = payload.result;
    if (payload.offset !== this.ghost.consumerPosition) return;
    if (!result.ok) {
      // A consumer refreshes metadata on a fenced epoch, as KafkaJS does.
      if (result.code === 'FENCED_LEADER_EPOCH')
        this.ghost.consumerEpoch = this.controller.state.leaderEpoch;
      if (result.code === 'OFFSET_OUT_OF_RANGE') {
        const note = `consumer at ${payload.offset} got OFFSET_OUT_OF_RANGE from ${message.from}`;
        if (isStrict(this)) this.ghost.violations.push(note);
        // The records it read were lost (allowed here): reset to the earliest offset.
        else this.ghost.consumerPosition = 0;
      }
      return;
    }
    const strict = this.options.flush === 'always' && !this.options.uncleanLeaderElection;
    if (strict && result.highWatermark < this.ghost.consumerMaxHw) {
      this.ghost.violations.push(
        `consumer saw HW ${result.highWatermark} after ${this.ghost.consumerMaxHw}`,
      );
    }
    this.ghost.consumerMaxHw = Math.max(this.ghost.consumerMaxHw, result.highWatermark);
    this.ghost.consumerEpoch = Math.max(this.ghost.consumerEpoch ?? 0, result.leaderEpoch);
    let expected = payload.offset;
    for (const record of result.records) {
      if (record.offset !== expected)
        this.ghost.violations.push(`poll skip: ${expected} then ${record.offset}`);
      if (record.offset >= result.highWatermark)
        this.ghost.violations.push(`read ${record.offset} ≥ HW`);
      const seen = this.ghost.consumerSeen.get(record.offset);
      if (strict && seen !== undefined && seen !== record.value) {
        this.ghost.violations.push(`offset ${record.offset} read as ${seen} then ${record.value}`);
      }
      this.ghost.consumerSeen.set(record.offset, record.value);
      expected = record.offset + 1;
    }
    this.ghost.consumerPosition = expected;
  }

  #onTruncate(node: SimNode, offset: number): void {
    const floor = node.log.highWatermarkCheckpoint;
    this.#log(`node ${node.id} truncates to ${offset} (HW ${floor}, LEO ${node.log.logEndOffset})`);
    if (offset >= floor) return;
    const note = `node ${node.id} truncated to ${offset} below its HW ${floor}`;
    if (this.options.flush === 'always' && !this.options.uncleanLeaderElection)
      this.ghost.violations.push(note);
    else this.ghost.allowedLoss.push(note);
  }

  #log(line: string): void {
    this.trace.push(`${this.nowMs}ms ${line}`);
    if (this.trace.length > 400) this.trace.splice(0, 200);
  }
}
