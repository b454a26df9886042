// One seeded simulation of a Raft group (VOPR / KRaft style): a virtual clock in ticks, a lossy
// reordering network, disks with latency, crashes that keep only what a Ready persisted, and a
// random workload (proposals, reads, snapshots, membership changes, leader transfers). Phase one
// injects faults; phase two heals everything and requires a leader and a fresh commit in bounded
// time. Every random choice comes from a stream split off the seed, so a seed replays exactly.
import { AssertionError, SeededRandom } from '../../../src/common/index.ts';
import {
  RaftCore,
  raftCoreDefaults,
  type ConfigChange,
  type Membership,
  type RaftCoreConfig,
  type RaftNodeId,
  type Ready,
} from '../../../src/raft/index.ts';
import { cloneMessage } from './clone-message.ts';
import { EventQueue } from './event-queue.ts';
import { HashStateMachine } from './hash-state-machine.ts';
import { MemoryStorage, type StorageFault } from './memory-storage.ts';
import { SimChecker, Violation } from './sim-checker.ts';
import { SimNetwork } from './sim-network.ts';

export interface SimOptions {
  readonly seed: number;
  /** Ticks of the fault phase. */
  readonly steps: number;
  /** Initial voters; null draws 3 or 5 from the seed. */
  readonly nodes: number | null;
  readonly fault: StorageFault;
  /** Ticks the healed cluster gets to elect a leader and commit a proposal. */
  readonly livenessTicksMax: number;
}

export interface SimOutcome {
  readonly seed: number;
  readonly violation: string | null;
  /** The tick at which the violation was found (or the last tick run). */
  readonly step: number;
  readonly messages: number;
  readonly commits: number;
}

interface SimNode {
  readonly id: RaftNodeId;
  readonly storage: MemoryStorage;
  readonly random: SeededRandom;
  core: RaftCore;
  machine: HashStateMachine;
  up: boolean;
  incarnation: number;
  outstanding: boolean;
  restartAt: number;
}

interface DiskDone {
  readonly id: RaftNodeId;
  readonly incarnation: number;
  readonly ready: Ready;
}

interface Swarm {
  readonly crashPerTick: number;
  readonly partitionPerTick: number;
  readonly healPerTick: number;
  readonly proposePerTick: number;
  readonly snapshotPerTick: number;
  readonly configPerTick: number;
  readonly transferPerTick: number;
  readonly readPerTick: number;
  readonly diskTicksMax: number;
}

const coreConfig = {
  ...raftCoreDefaults,
  electionTimeoutTicks: 10,
  heartbeatTicks: 2,
  inflightAppendsMax: 8,
  appendBytesMax: 64,
  uncommittedBytesMax: 4096,
} satisfies Omit<RaftCoreConfig, 'id' | 'initialMembership'>;

function stream(seed: number, index: number): SeededRandom {
  return new SeededRandom((Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) | 0);
}

function pick<T>(random: SeededRandom, items: readonly T[]): T | undefined {
  return items.length === 0 ? undefined : items[random.int(items.length)];
}

export class SimCluster {
  readonly #options: SimOptions;
  readonly #nodes = new Map<RaftNodeId, SimNode>();
  readonly #checker = new SimChecker();
  readonly #network: SimNetwork;
  readonly #disk = new EventQueue<DiskDone>();
  readonly #faults: SeededRandom;
  readonly #workload: SeededRandom;
  readonly #diskRandom: SeededRandom;
  readonly #swarm: Swarm;
  readonly #membership: Membership;
  readonly #pendingReads = new Map<number, number>();
  #now = 0;
  #faultPhase = true;
  #commandSeq = 0;
  #readSeq = 0;

  constructor(options: SimOptions) {
    this.#options = options;
    const swarm = stream(options.seed, 0);
    this.#faults = stream(options.seed, 1);
    this.#workload = stream(options.seed, 2);
    this.#diskRandom = stream(options.seed, 3);
    const voterCount = options.nodes ?? (swarm.chance(0.5) ? 3 : 5);
    this.#swarm = drawSwarm(swarm, options.fault);
    this.#network = new SimNetwork(
      stream(options.seed, 4),
      {
        dropProbability: pick(swarm, [0, 0.02, 0.1, 0.2]) ?? 0,
        duplicateProbability: pick(swarm, [0, 0.02, 0.1]) ?? 0,
        delayTicksMin: 1,
        delayTicksMax: 1 + swarm.int(4),
      },
      cloneMessage,
    );
    const voters = Array.from({ length: voterCount }, (_, i) => i + 1);
    this.#membership = { voters, observers: [] };
    // Two spare nodes run from the start outside the group, ready to be added.
    for (let id = 1; id <= voterCount + 2; id += 1) {
      const storage = new MemoryStorage(options.fault);
      const random = stream(options.seed, 100 + id);
      const node: SimNode = {
        id,
        storage,
        random,
        core: this.#newCore(id, storage, random),
        machine: new HashStateMachine(),
        up: true,
        incarnation: 0,
        outstanding: false,
        restartAt: 0,
      };
      this.#nodes.set(id, node);
    }
  }

  run(): SimOutcome {
    const { steps, livenessTicksMax } = this.#options;
    try {
      for (this.#now = 0; this.#now < steps; this.#now += 1) {
        this.#injectFaults();
        this.#runWorkload();
        this.#advanceTime();
      }
      this.#healAll();
      const deadline = steps + livenessTicksMax;
      let proposal: { index: number; term: number } | null = null;
      for (; this.#now < deadline; this.#now += 1) {
        this.#advanceTime();
        const leader = this.#leader();
        if (proposal !== null && this.#checker.committedTermAt(proposal.index) === proposal.term) {
          if (this.#allMembersApplied(proposal.index)) return this.#outcome(null);
        }
        if (leader !== null && (proposal === null || proposal.term < leader.core.status().term)) {
          const result = leader.core.propose(new TextEncoder().encode(`live-${this.#now}`));
          if (result.ok) proposal = result.value;
          this.#pump(leader);
        }
      }
      const status = [...this.#nodes.values()].map((n) => {
        const s = n.core.status();
        return `${n.id}:${s.role}/t${s.term}/c${s.commitIndex}/a${n.machine.appliedIndex}`;
      });
      const leader = this.#leader();
      if (leader !== null)
        status.push(
          JSON.stringify(leader.core.status().membership),
          JSON.stringify(leader.core.status().progress),
        );
      return this.#outcome(
        `liveness: no commit applied by all members in ${livenessTicksMax} ticks (${status})`,
      );
    } catch (error) {
      if (error instanceof Violation) return this.#outcome(error.message);
      if (error instanceof AssertionError) return this.#outcome(`assertion: ${error.message}`);
      throw error;
    }
  }

  /** Liveness: every member of the leader's configuration applied up to `index`. */
  #allMembersApplied(index: number): boolean {
    const leader = this.#leader();
    if (leader === null) return false;
    const { voters, observers } = leader.core.status().membership;
    return [...voters, ...observers].every(
      (id) => (this.#nodes.get(id)?.machine.appliedIndex ?? 0) >= index,
    );
  }

  #outcome(violation: string | null): SimOutcome {
    return {
      seed: this.#options.seed,
      violation,
      step: this.#now,
      messages: this.#network.sentCount,
      commits: this.#checker.committedMax,
    };
  }

  // ---- Time ---------------------------------------------------------------------------------

  #advanceTime(): void {
    for (const node of this.#nodes.values()) {
      if (!node.up) continue;
      // The driver's contract (RaftDriver sleeps through quiet ticks): a tick before the one
      // quietTicks() names changes nothing anyone could see.
      const quiet = node.core.quietTicks() > 1 && !node.core.hasReady();
      const before = quiet ? node.core.status() : null;
      node.core.tick();
      if (before !== null) {
        const after = node.core.status();
        if (node.core.hasReady() || after.role !== before.role || after.term !== before.term) {
          throw new Error(`node ${node.id}: a quiet tick acted (${before.role} → ${after.role})`);
        }
      }
      this.#checker.checkNode(node.id, node.core);
    }
    for (
      let done = this.#disk.popDue(this.#now);
      done !== undefined;
      done = this.#disk.popDue(this.#now)
    ) {
      const node = this.#nodes.get(done.event.id);
      if (node === undefined || !node.up || node.incarnation !== done.event.incarnation) continue;
      this.#complete(node, done.event.ready);
    }
    for (
      let due = this.#network.queue.popDue(this.#now);
      due !== undefined;
      due = this.#network.queue.popDue(this.#now)
    ) {
      const message = due.event;
      const node = this.#nodes.get(message.to);
      if (node === undefined || !node.up || !this.#network.canTalk(message.from, message.to))
        continue;
      node.core.step(message);
      this.#checker.checkNode(node.id, node.core);
    }
    for (const node of this.#nodes.values()) this.#pump(node);
  }

  /** Hands Readies to the disk; a zero-latency write completes at once. */
  #pump(node: SimNode): void {
    for (let i = 0; i < 100 && node.up && !node.outstanding && node.core.hasReady(); i += 1) {
      const ready = node.core.ready();
      const latency = this.#diskRandom.int(this.#swarm.diskTicksMax + 1);
      if (latency === 0) {
        this.#complete(node, ready);
      } else {
        node.outstanding = true;
        this.#disk.push(this.#now + latency, { id: node.id, incarnation: node.incarnation, ready });
      }
    }
  }

  /** The driver's loop body: persist, then send, then apply, then advance. */
  #complete(node: SimNode, ready: Ready): void {
    node.outstanding = false;
    this.#checker.beforePersist(node.id, ready, node.storage);
    node.storage.persist(ready);
    this.#checker.onPersist(node.id, ready, node.storage);
    for (const message of ready.messages) this.#network.send(message, this.#now);
    if (ready.snapshot !== null) {
      node.machine.restore(ready.snapshot.data);
      this.#checker.onRestore(node.id, node.machine);
    }
    for (const entry of ready.committed) {
      const previous = node.machine.appliedIndex;
      node.machine.apply(entry);
      this.#checker.onApply(node.id, entry, previous, node.machine);
    }
    for (const read of ready.readStates) {
      const committedBefore = this.#pendingReads.get(read.requestId);
      this.#pendingReads.delete(read.requestId);
      if (committedBefore !== undefined)
        this.#checker.onReadState(node.id, read.index, committedBefore);
    }
    node.core.advance(ready);
    this.#checker.checkNode(node.id, node.core);
    const vote = ready.hardState?.vote ?? null;
    const aim = this.#faultPhase && this.#options.fault !== 'none';
    if (aim && vote !== null && vote !== node.id && this.#faults.chance(0.3)) {
      this.#crash(node, this.#now + 1); // Crash just after voting: the aim of the storage fault.
    }
  }

  // ---- Faults -------------------------------------------------------------------------------

  #injectFaults(): void {
    const swarm = this.#swarm;
    for (const node of this.#nodes.values()) {
      if (!node.up && this.#now >= node.restartAt) this.#restart(node);
    }
    if (this.#faults.chance(swarm.crashPerTick)) {
      const victim = this.#pickVictim();
      // Under a storage fault, quick restarts land inside the election the victim voted in.
      const downTicks =
        this.#options.fault === 'none' ? 1 + this.#faults.int(40) : 1 + this.#faults.int(3);
      if (victim !== undefined) this.#crash(victim, this.#now + downTicks);
    }
    if (this.#network.partitioned) {
      if (this.#faults.chance(swarm.healPerTick)) this.#network.heal();
    } else if (this.#faults.chance(swarm.partitionPerTick)) {
      const ids = [...this.#nodes.keys()];
      const shape = this.#faults.int(3);
      if (shape === 2) this.#network.partitionOneWay(ids);
      else this.#network.partition(ids, shape === 1);
    }
  }

  /** Under a storage fault, prefer a node that just voted for another (BUGGIFY-style aim). */
  #pickVictim(): SimNode | undefined {
    const up = [...this.#nodes.values()].filter((n) => n.up);
    if (this.#options.fault !== 'none' && this.#faults.chance(0.8)) {
      const voted = up.filter((n) => {
        const status = n.core.status();
        return status.vote !== null && status.vote !== n.id && status.leaderId === null;
      });
      if (voted.length > 0) return pick(this.#faults, voted);
    }
    return pick(this.#faults, up);
  }

  #crash(node: SimNode, restartAt: number): void {
    node.up = false;
    node.outstanding = false;
    node.incarnation += 1;
    node.restartAt = restartAt;
  }

  #restart(node: SimNode): void {
    node.core = this.#newCore(node.id, node.storage, node.random);
    node.machine = new HashStateMachine();
    if (node.storage.snapshot !== null) node.machine.restore(node.storage.snapshot.data);
    node.up = true;
    this.#checker.onRestart(node.id, node.core);
  }

  #healAll(): void {
    this.#faultPhase = false;
    this.#network.heal();
    this.#network.profile = {
      ...this.#network.profile,
      dropProbability: 0,
      duplicateProbability: 0,
    };
    for (const node of this.#nodes.values()) if (!node.up) this.#restart(node);
  }

  #newCore(id: RaftNodeId, storage: MemoryStorage, random: SeededRandom): RaftCore {
    const config = { ...coreConfig, id, initialMembership: this.#membership };
    return new RaftCore(config, { random, restored: storage.restored() });
  }

  // ---- Workload -----------------------------------------------------------------------------

  #leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const node of this.#nodes.values()) {
      if (!node.up || node.core.status().role !== 'leader') continue;
      if (best === null || node.core.status().term > best.core.status().term) best = node;
    }
    return best;
  }

  #runWorkload(): void {
    const random = this.#workload;
    const swarm = this.#swarm;
    const leader = this.#leader();
    if (leader !== null && random.chance(swarm.proposePerTick)) {
      this.#commandSeq += 1;
      leader.core.propose(new TextEncoder().encode(`c${this.#commandSeq}`));
    }
    if (leader !== null && random.chance(swarm.configPerTick)) this.#changeMembership(leader);
    if (leader !== null && random.chance(swarm.transferPerTick)) {
      const target = pick(random, leader.core.status().membership.voters);
      if (target !== undefined) leader.core.transferLeadership(target);
    }
    const up = [...this.#nodes.values()].filter((n) => n.up);
    if (random.chance(swarm.readPerTick)) {
      const node = pick(random, up);
      this.#readSeq += 1;
      if (node !== undefined && node.core.readIndex(this.#readSeq).ok) {
        this.#pendingReads.set(this.#readSeq, this.#checker.committedMax);
      }
    }
    if (random.chance(swarm.snapshotPerTick)) {
      const node = pick(random, up);
      if (node !== undefined) this.#compact(node);
    }
  }

  #compact(node: SimNode): void {
    const status = node.core.status();
    if (node.machine.appliedIndex !== status.appliedIndex) return;
    if (status.appliedIndex <= status.snapshotIndex + 2) return;
    const snapshot = node.core.compact(status.appliedIndex, node.machine.snapshot());
    node.storage.saveSnapshot(snapshot);
  }

  #changeMembership(leader: SimNode): void {
    const random = this.#workload;
    const { voters, observers } = leader.core.status().membership;
    const spare = [...this.#nodes.keys()].filter(
      (id) => !voters.includes(id) && !observers.includes(id),
    );
    const choices: ConfigChange[] = [];
    for (const nodeId of spare) choices.push({ type: 'add-observer', nodeId });
    if (voters.length < 5) {
      for (const nodeId of observers) choices.push({ type: 'promote-observer', nodeId });
      for (const nodeId of spare) choices.push({ type: 'add-voter', nodeId });
    }
    for (const nodeId of observers) choices.push({ type: 'remove-observer', nodeId });
    if (voters.length > 2)
      for (const nodeId of voters) choices.push({ type: 'remove-voter', nodeId });
    const change = pick(random, choices);
    if (change !== undefined) leader.core.proposeConfigChange(change);
  }
}

function drawSwarm(random: SeededRandom, fault: StorageFault): Swarm {
  // Faulty storage is caught when votes and crashes are frequent: bias toward churn then.
  const churn = fault !== 'none';
  return {
    crashPerTick: churn ? 0.2 : (pick(random, [0, 0.002, 0.01, 0.02]) ?? 0),
    partitionPerTick: pick(random, [0, 0.005, 0.02]) ?? 0,
    healPerTick: pick(random, [0.02, 0.1]) ?? 0.1,
    proposePerTick: pick(random, [0.1, 0.5]) ?? 0.1,
    snapshotPerTick: pick(random, [0, 0.01, 0.05]) ?? 0,
    configPerTick: pick(random, [0, 0.005, 0.02]) ?? 0,
    transferPerTick: pick(random, [0, 0.005, 0.02]) ?? 0,
    readPerTick: pick(random, [0, 0.05, 0.2]) ?? 0,
    diskTicksMax: pick(random, [0, 1, 2]) ?? 0,
  };
}
