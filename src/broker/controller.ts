// The controller: the Raft leader's duties over the metadata image, and only while it leads.
// It fences a node silent for `sessionTimeoutMs` (broker.session.timeout.ms) and unfences it
// when it heartbeats again; moves partition leadership off fenced, shut-down or restarted nodes
// (electing from the ISR, unclean only where the topic allows it); brings offline partitions
// back when an ISR member returns; runs preferred-leader elections on a timer; steps partition
// reassignments (add the new replicas, wait until the leader has them in the ISR, move the
// leader, drop the old ones); and adds nodes outside the voter set as Raft observers. Every decision is a pure function
// of src/broker/replication/controller-decisions.ts, committed as one change-partition with the
// partition-epoch compare-and-set, so a deposed controller's late proposal changes nothing.
// Liveness is measured on this node's clock from heartbeats as they are applied; a new
// controller starts every node's session afresh, so no node is fenced for the election's gap.
import { assert, assertNever, toNodeId, type Clock, type NodeId } from '../common/index.ts';
import type { MetadataLog } from '../raft/index.ts';
import type { BrokerLogger } from './broker-logger.ts';
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import type { MetadataImage, NodeImage, PartitionImage, TopicImage } from './metadata-image.ts';
import { isWellFormedRecord, toPartitionState } from './partition-record.ts';
import {
  onNodeAvailable,
  onNodeUnavailable,
  preferredLeaderElection,
  reassignmentStep,
  type ElectionContext,
  type PartitionState,
} from './replication/index.ts';

export interface ControllerConfig {
  readonly nodeId: number;
  /** broker.session.timeout.ms: a node without a heartbeat for this long is fenced. */
  readonly sessionTimeoutMs: number;
  /** How often the controller looks at sessions and partitions. */
  readonly checkIntervalMs: number;
  /** Preferred-leader elections run this often; 0 disables them. */
  readonly preferredLeaderIntervalMs: number;
  /** Voters of the metadata group; any other registering node is added as an observer. */
  readonly voterIds: readonly number[];
}

/** What the controller needs of the Raft membership (RaftMetadataLog in production). */
export interface ControllerMembership {
  /** Tells the Raft transport where a node lives; called on every node for every registration. */
  setPeerAddress(nodeId: number, url: string): void;
  /** Adds a node as a non-voting observer (leader only). */
  addObserver(nodeId: number, url: string): Promise<void>;
}

export interface ControllerDeps {
  readonly clock: Clock;
  readonly image: MetadataImage;
  /** This node's own Raft log: proposals succeed only while this node leads. */
  readonly metadata: MetadataLog<MetadataCommand>;
  readonly membership: ControllerMembership;
  readonly logger: BrokerLogger;
}

export class Controller {
  readonly #config: ControllerConfig;
  readonly #deps: ControllerDeps;
  /** When each node's latest heartbeat or registration was applied here (this clock). */
  readonly #lastSeenMs = new Map<number, number>();
  /** When each node was last fenced, as applied here. */
  readonly #fencedAtMs = new Map<number, number>();
  readonly #brokerEpochs = new Map<number, number>();
  /** Nodes that registered a new incarnation while this node led: their old one is gone. */
  readonly #restarted = new Set<number>();
  /** Observers added by this controller (or found already added). */
  readonly #observers = new Set<number>();
  #leaderSinceMs: number | null = null;
  #lastPreferredMs = 0;
  /** The running pass loop, if any; kicks while it runs ask it for one more pass. */
  #passing: Promise<void> | null = null;
  #passWanted = false;
  #stopped = false;
  #cancelTick: (() => void) | null = null;

  constructor(config: ControllerConfig, deps: ControllerDeps) {
    assert(config.sessionTimeoutMs > 0, 'sessionTimeoutMs must be positive');
    assert(config.checkIntervalMs > 0, 'checkIntervalMs must be positive');
    assert(config.preferredLeaderIntervalMs >= 0, 'preferredLeaderIntervalMs is negative');
    this.#config = config;
    this.#deps = deps;
    deps.image.onApplied((command, result) => this.#onApplied(command, result));
    deps.image.onRestored(() => this.#onRestored());
    deps.metadata.onLeaderChange((leaderId) => this.#onLeaderChange(leaderId));
  }

  /** True while this node leads the metadata group and acts as controller. */
  get isActive(): boolean {
    return this.#leaderSinceMs !== null && !this.#stopped;
  }

  start(): void {
    this.#scheduleTick();
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelTick?.();
    this.#cancelTick = null;
  }

  /** Runs a pass now (or one more after the running one); resolves when it is done. */
  runPass(): Promise<void> {
    if (!this.isActive) return Promise.resolve();
    this.#passWanted = true;
    this.#passing ??= this.#passLoop().finally(() => {
      this.#passing = null;
    });
    return this.#passing;
  }

  async #passLoop(): Promise<void> {
    while (this.#passWanted && this.isActive) {
      this.#passWanted = false;
      await this.#pass();
    }
  }

  #scheduleTick(): void {
    if (this.#stopped) return;
    this.#cancelTick = this.#deps.clock.schedule(this.#config.checkIntervalMs, () => {
      void this.runPass().finally(() => this.#scheduleTick());
    });
  }

  #kick(): void {
    if (this.isActive) void this.runPass();
  }

  #onLeaderChange(leaderId: number | null): void {
    const isLeader = leaderId === this.#config.nodeId;
    if (isLeader === (this.#leaderSinceMs !== null)) return;
    if (!isLeader) {
      this.#leaderSinceMs = null;
      this.#restarted.clear();
      this.#deps.logger.info({ leaderId }, 'no longer the controller');
      return;
    }
    const nowMs = this.#deps.clock.nowMs();
    this.#leaderSinceMs = nowMs;
    this.#lastPreferredMs = nowMs;
    // Every session starts afresh: heartbeats sent during the election reached nobody.
    for (const node of this.#deps.image.nodes()) {
      this.#lastSeenMs.set(node.id, nowMs);
      this.#fencedAtMs.set(node.id, nowMs);
    }
    this.#deps.logger.info({}, 'this node is the controller');
    this.#kick();
  }

  #onApplied(command: MetadataCommand, result: MetadataResult): void {
    if (!result.ok) return;
    const nowMs = this.#deps.clock.nowMs();
    switch (command.type) {
      case 'register-node':
        this.#onRegistered(command.nodeId, command.url, result.brokerEpoch, nowMs);
        return;
      case 'node-heartbeat':
        this.#lastSeenMs.set(command.nodeId, nowMs);
        return;
      case 'fence-node':
      case 'controlled-shutdown':
        this.#fencedAtMs.set(command.nodeId, nowMs);
        this.#kick();
        return;
      default:
        return;
    }
  }

  #onRegistered(nodeId: number, url: string, brokerEpoch: number | undefined, nowMs: number) {
    this.#deps.membership.setPeerAddress(nodeId, url);
    this.#lastSeenMs.set(nodeId, nowMs);
    const previous = this.#brokerEpochs.get(nodeId);
    if (brokerEpoch !== undefined) this.#brokerEpochs.set(nodeId, brokerEpoch);
    if (this.isActive && previous !== undefined && previous !== brokerEpoch) {
      this.#restarted.add(nodeId);
    }
    this.#kick();
  }

  #onRestored(): void {
    for (const node of this.#deps.image.nodes()) {
      this.#deps.membership.setPeerAddress(node.id, node.url);
      this.#brokerEpochs.set(node.id, node.brokerEpoch);
    }
  }

  async #pass(): Promise<void> {
    const nowMs = this.#deps.clock.nowMs();
    for (const node of this.#deps.image.nodes()) {
      if (!this.isActive) return;
      await this.#checkSession(node, nowMs);
      await this.#maybeAddObserver(node);
    }
    const preferredDue =
      this.#config.preferredLeaderIntervalMs > 0 &&
      nowMs - this.#lastPreferredMs >= this.#config.preferredLeaderIntervalMs;
    if (preferredDue) this.#lastPreferredMs = nowMs;
    const restarted = [...this.#restarted];
    let allCommitted = true;
    for (const topic of this.#deps.image.topics()) {
      for (const partition of topic.partitions) {
        if (!this.isActive) return;
        const committed = await this.#electPartition(topic, partition, restarted, preferredDue);
        allCommitted &&= committed;
      }
    }
    if (allCommitted) for (const id of restarted) this.#restarted.delete(id);
  }

  async #checkSession(node: NodeImage, nowMs: number): Promise<void> {
    const sinceMs = this.#leaderSinceMs ?? nowMs;
    const seenMs = this.#lastSeenMs.get(node.id) ?? sinceMs;
    const silentMs = nowMs - seenMs;
    const command = { nodeId: node.id, brokerEpoch: node.brokerEpoch };
    if (node.status === 'alive' && silentMs > this.#config.sessionTimeoutMs) {
      this.#deps.logger.warn({ nodeId: node.id, silentMs }, 'fencing a silent node');
      await this.#propose({ type: 'fence-node', ...command });
      return;
    }
    const fencedAtMs = this.#fencedAtMs.get(node.id) ?? sinceMs;
    const heardSinceFenced = seenMs > fencedAtMs && silentMs <= this.#config.sessionTimeoutMs;
    if (node.status === 'fenced' && !node.shuttingDown && heardSinceFenced) {
      this.#deps.logger.info({ nodeId: node.id }, 'unfencing a node that heartbeats again');
      await this.#propose({ type: 'unfence-node', ...command });
    }
  }

  async #maybeAddObserver(node: NodeImage): Promise<void> {
    if (this.#config.voterIds.includes(node.id) || this.#observers.has(node.id)) return;
    try {
      await this.#deps.membership.addObserver(node.id, node.url);
      this.#observers.add(node.id);
      this.#deps.logger.info({ nodeId: node.id }, 'added an observer to the metadata group');
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      // Already a member (added by an earlier controller): nothing to do, ever.
      if (code === 'RAFT_INVALID_CONFIG_CHANGE') this.#observers.add(node.id);
      else this.#deps.logger.info({ err: error, nodeId: node.id }, 'observer not added yet');
    }
  }

  /** Returns false when a needed change could not be committed (the next pass retries). */
  async #electPartition(
    topic: TopicImage,
    record: PartitionImage,
    restarted: readonly number[],
    preferredDue: boolean,
  ): Promise<boolean> {
    if (!isWellFormedRecord(record)) return true;
    const state = toPartitionState(record);
    // Leadership first: a reassignment steps on only while no election is needed.
    const next =
      this.#decide(state, topic, restarted, preferredDue) ?? this.#reassign(topic, record, state);
    if (next === 'done') return this.#endReassignment(topic, record);
    if (next === null) return true;
    this.#deps.logger.info(
      { partition: `${topic.name}-${record.partition}`, from: record.leader, to: next.leader },
      'changing a partition record',
    );
    return this.#propose({
      type: 'change-partition',
      topic: topic.name,
      partition: record.partition,
      expectedPartitionEpoch: record.partitionEpoch,
      leader: next.leader,
      leaderEpoch: next.leaderEpoch,
      replicas: next.replicas,
      isr: next.isr,
    });
  }

  /** The next step of a reassignment in progress: a record, 'done', or null (waiting). */
  #reassign(
    topic: TopicImage,
    record: PartitionImage,
    state: PartitionState,
  ): PartitionState | 'done' | null {
    const target = record.targetReplicas;
    if (target === undefined) return null;
    const step = reassignmentStep(state, target.map(toNodeId), this.#electionContext(topic));
    switch (step.kind) {
      case 'addReplicas':
      case 'moveLeader':
      case 'dropReplicas':
        return step.next;
      case 'awaitCatchUp':
      case 'awaitLeader':
        return null;
      case 'done':
        return 'done';
      default:
        return assertNever(step);
    }
  }

  async #endReassignment(topic: TopicImage, record: PartitionImage): Promise<boolean> {
    this.#deps.logger.info({ partition: `${topic.name}-${record.partition}` }, 'reassigned');
    return this.#propose({
      type: 'reassign-partition',
      topic: topic.name,
      partition: record.partition,
      targetReplicas: null,
    });
  }

  /** The partition's next record, or null to leave it as it is. */
  #decide(
    initial: PartitionState,
    topic: TopicImage,
    restarted: readonly number[],
    preferredDue: boolean,
  ): PartitionState | null {
    const context = this.#electionContext(topic);
    let state = initial;
    for (const id of initial.replicas) {
      const gone = !context.liveNodes.has(id) || restarted.includes(id);
      const next = gone ? onNodeUnavailable(state, id, context) : null;
      // A node in controlled shutdown keeps what no one else can lead: it serves until it
      // exits, and the partition is offline from then on either way.
      const strands = next?.leader === null && this.#deps.image.node(id)?.shuttingDown === true;
      if (next !== null && !strands) state = next;
    }
    for (const id of state.leader === null ? state.replicas : []) {
      const next = onNodeAvailable(state, id, context);
      if (next !== null) {
        state = next;
        break;
      }
    }
    const preferred = preferredDue ? preferredLeaderElection(state, context) : null;
    if (preferred !== null) state = preferred;
    return state === initial ? null : state;
  }

  #electionContext(topic: TopicImage): ElectionContext {
    const liveNodes = new Set<NodeId>();
    for (const node of this.#deps.image.nodes()) {
      if (node.status === 'alive' && !node.shuttingDown) liveNodes.add(toNodeId(node.id));
    }
    return {
      liveNodes,
      ineligible: new Set(),
      uncleanLeaderElection: topic.config.uncleanLeaderElectionEnable,
    };
  }

  /** Proposes on this node's log; false when it was not committed or was refused. */
  async #propose(command: MetadataCommand): Promise<boolean> {
    try {
      const { result } = await this.#deps.metadata.propose(command);
      const outcome = result as MetadataResult;
      // A refusal is a lost race (a newer record, a new incarnation): the next pass decides.
      if (!outcome.ok) this.#deps.logger.debug({ command, outcome }, 'controller change refused');
      return outcome.ok;
    } catch (error) {
      // Not the leader any more, or busy: the next controller (or pass) decides again.
      this.#deps.logger.debug({ err: error, type: command.type }, 'controller change failed');
      return false;
    }
  }
}
