// The controller's decisions, pure: applied metadata commands, heartbeats, reachability reports,
// probe outcomes, leadership changes and `nowMs` come in; the commands to propose, the nodes to
// probe, the observers to add and heartbeat answers come out. It holds the session table in
// memory (KRaft-style liveness: a heartbeat is a request, not a record) and decides every
// partition change with src/broker/replication/controller-decisions.ts. Production
// (controller.ts) and both simulators run it; nothing here has timers, I/O or a clock.
import { assert, assertNever, toNodeId, type NodeId } from '../common/index.ts';
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import type { NodeImage, PartitionImage, TopicImage } from './metadata-image.ts';
import { isWellFormedRecord, toPartitionState } from './partition-record.ts';
import {
  onNodeAvailable,
  onNodeUnavailable,
  preferredLeaderElection,
  reassignmentStep,
  type ElectionContext,
  type PartitionState,
} from './replication/index.ts';

export interface ControllerCoreConfig {
  readonly nodeId: number;
  /** broker.session.timeout.ms: a node without a heartbeat for this long is fenced. */
  readonly sessionTimeoutMs: number;
  /** Preferred-leader elections run this often; 0 disables them. */
  readonly preferredLeaderIntervalMs: number;
  /** Voters of the metadata group; any other registered node is added as an observer. */
  readonly voterIds: readonly number[];
  /** A node is probed at most this often on reports (a report storm costs one probe). */
  readonly probeIntervalMs: number;
  /** Partitions one heartbeat may name as ineligible; more are refused. */
  readonly ineligiblePerNodeMax: number;
}

/** What the core reads of the applied metadata: the MetadataImage in production. */
export interface ControllerImageView {
  nodes(): readonly NodeImage[];
  node(id: number): NodeImage | undefined;
  topics(): Iterable<TopicImage>;
}

export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

/** `POST /internal/v1/broker/heartbeat` body. */
export interface HeartbeatRequest {
  readonly nodeId: number;
  readonly brokerEpoch: number;
  /** Partitions whose follower may not lead now (recovering from a corrupt log). */
  readonly ineligible: readonly PartitionRef[];
}

export type HeartbeatAnswer =
  | { readonly ok: true; readonly fenced: boolean; readonly shuttingDown: boolean }
  | {
      readonly ok: false;
      readonly code: 'NOT_CONTROLLER' | 'UNKNOWN_NODE' | 'STALE_BROKER_EPOCH' | 'INVALID_REQUEST';
      readonly message: string;
    };

export type ProbeOutcome = 'refused' | 'open' | 'timeout';

/** A TCP connect to a node's advertised address, asked of the shell. */
export interface ProbeRequest {
  readonly nodeId: number;
  readonly brokerEpoch: number;
  readonly url: string;
}

/** One controller pass: what to propose and which observers to add. */
export interface ControllerPass {
  /** Session changes (fence, unfence) first, then partition changes; independent commands. */
  readonly commands: readonly MetadataCommand[];
  readonly observerAdds: readonly { readonly nodeId: number; readonly url: string }[];
  /** Restarted incarnations this pass moved partitions off; hand back to finishPass. */
  readonly restarted: readonly number[];
  /** A fenced node waits for this pass's elections to be unfenced: run the next one soon. */
  readonly again: boolean;
}

interface Session {
  lastSeenMs: number;
  fencedAtMs: number;
  /** "topic/partition" keys this node reported not eligible for leadership. */
  ineligible: ReadonlySet<string>;
}

const partitionKey = (topic: string, partition: number): string => `${topic}/${partition}`;

export class ControllerCore {
  readonly #config: ControllerCoreConfig;
  readonly #view: ControllerImageView;
  /** Keyed by registered node ids only (bounded by metadataLimits.nodesMax). */
  readonly #sessions = new Map<number, Session>();
  readonly #brokerEpochs = new Map<number, number>();
  /** Nodes that registered a new incarnation while this node led: their old one is gone. */
  readonly #restarted = new Set<number>();
  /** Observers added (or found already added). */
  readonly #observers = new Set<number>();
  /** Node → broker epoch whose port refused a probe: fenced by the next pass. */
  readonly #refused = new Map<number, number>();
  readonly #lastProbeMs = new Map<number, number>();
  #leaderSinceMs: number | null = null;
  #lastPreferredMs = 0;

  constructor(config: ControllerCoreConfig, view: ControllerImageView) {
    assert(config.sessionTimeoutMs > 0, 'sessionTimeoutMs must be positive');
    assert(config.preferredLeaderIntervalMs >= 0, 'preferredLeaderIntervalMs is negative');
    assert(config.probeIntervalMs >= 0, 'probeIntervalMs is negative');
    assert(config.ineligiblePerNodeMax >= 0, 'ineligiblePerNodeMax is negative');
    this.#config = config;
    this.#view = view;
  }

  get isActive(): boolean {
    return this.#leaderSinceMs !== null;
  }

  /**
   * This node became (or stopped being) the metadata leader. A new controller grants every
   * node a fresh session and probes every alive one: the old controller may be the dead one.
   */
  onLeaderChange(isLeader: boolean, nowMs: number): readonly ProbeRequest[] {
    if (isLeader === this.isActive) return [];
    if (!isLeader) {
      this.#leaderSinceMs = null;
      this.#restarted.clear();
      this.#refused.clear();
      return [];
    }
    this.#leaderSinceMs = nowMs;
    this.#lastPreferredMs = nowMs;
    this.#sessions.clear();
    const probes: ProbeRequest[] = [];
    for (const node of this.#view.nodes()) {
      this.#sessions.set(node.id, { lastSeenMs: nowMs, fencedAtMs: nowMs, ineligible: new Set() });
      if (node.status === 'alive' && node.id !== this.#config.nodeId) {
        probes.push(this.#probeOf(node, nowMs));
      }
    }
    return probes;
  }

  /** A command applied to the image. Returns true when a pass should run soon. */
  onApplied(command: MetadataCommand, result: MetadataResult, nowMs: number): boolean {
    if (!result.ok) return false;
    switch (command.type) {
      case 'register-node': {
        const previous = this.#brokerEpochs.get(command.nodeId);
        if (result.brokerEpoch !== undefined) {
          this.#brokerEpochs.set(command.nodeId, result.brokerEpoch);
        }
        if (this.isActive && previous !== undefined && previous !== result.brokerEpoch) {
          this.#restarted.add(command.nodeId);
        }
        this.#session(command.nodeId, nowMs).lastSeenMs = nowMs;
        this.#refused.delete(command.nodeId);
        return true;
      }
      case 'fence-node':
      case 'controlled-shutdown':
        this.#session(command.nodeId, nowMs).fencedAtMs = nowMs;
        this.#refused.delete(command.nodeId);
        return true;
      case 'unfence-node':
      case 'create-topic':
      case 'reassign-partition':
        return true;
      default:
        return false;
    }
  }

  /** The image was replaced by a snapshot. */
  onRestored(): void {
    for (const node of this.#view.nodes()) this.#brokerEpochs.set(node.id, node.brokerEpoch);
  }

  /** Answers a broker heartbeat from memory; a valid one renews the session. */
  onHeartbeat(request: HeartbeatRequest, nowMs: number): HeartbeatAnswer {
    if (!this.isActive) {
      return { ok: false, code: 'NOT_CONTROLLER', message: 'this node is not the controller' };
    }
    const node = this.#view.node(request.nodeId);
    if (node === undefined) {
      return { ok: false, code: 'UNKNOWN_NODE', message: `node ${request.nodeId} unknown` };
    }
    if (node.brokerEpoch !== request.brokerEpoch) {
      const message = `node ${node.id} epoch is ${node.brokerEpoch}`;
      return { ok: false, code: 'STALE_BROKER_EPOCH', message };
    }
    if (request.ineligible.length > this.#config.ineligiblePerNodeMax) {
      const message = `at most ${this.#config.ineligiblePerNodeMax} ineligible partitions`;
      return { ok: false, code: 'INVALID_REQUEST', message };
    }
    const session = this.#session(node.id, nowMs);
    session.lastSeenMs = nowMs;
    session.ineligible = new Set(request.ineligible.map((p) => partitionKey(p.topic, p.partition)));
    return { ok: true, fenced: node.status === 'fenced', shuttingDown: node.shuttingDown };
  }

  /**
   * Someone could not reach `nodeId` (a refused or reset connection). Returns the probe to run,
   * or null: unknown, already fenced, not the controller, or probed within probeIntervalMs.
   */
  onUnreachable(nodeId: number, nowMs: number): ProbeRequest | null {
    if (!this.isActive || nodeId === this.#config.nodeId) return null;
    const node = this.#view.node(nodeId);
    if (node?.status !== 'alive') return null;
    const lastMs = this.#lastProbeMs.get(nodeId);
    if (lastMs !== undefined && nowMs - lastMs < this.#config.probeIntervalMs) return null;
    return this.#probeOf(node, nowMs);
  }

  /** A probe's outcome. Returns true when a pass should run now (the node is to be fenced). */
  onProbeResult(probe: ProbeRequest, outcome: ProbeOutcome): boolean {
    if (outcome !== 'refused' || !this.isActive) return false;
    const node = this.#view.node(probe.nodeId);
    if (node?.status !== 'alive' || node.brokerEpoch !== probe.brokerEpoch) return false;
    this.#refused.set(node.id, node.brokerEpoch);
    return true;
  }

  /** Everything due now: session changes, partition changes, observers. */
  pass(nowMs: number): ControllerPass {
    if (!this.isActive) return { commands: [], observerAdds: [], restarted: [], again: false };
    const commands: MetadataCommand[] = [];
    const fencing = new Set<number>();
    const observerAdds: { nodeId: number; url: string }[] = [];
    const leading = this.#leaders();
    let again = false;
    for (const node of this.#view.nodes()) {
      const command = this.#checkSession(node, nowMs, leading);
      const waits = node.status === 'fenced' && !node.shuttingDown && leading.has(node.id);
      again ||= command === null && waits;
      if (command !== null) commands.push(command);
      if (command?.type === 'fence-node') fencing.add(node.id);
      const isMember = this.#config.voterIds.includes(node.id) || this.#observers.has(node.id);
      if (!isMember) observerAdds.push({ nodeId: node.id, url: node.url });
    }
    const preferredDue =
      this.#config.preferredLeaderIntervalMs > 0 &&
      nowMs - this.#lastPreferredMs >= this.#config.preferredLeaderIntervalMs;
    if (preferredDue) this.#lastPreferredMs = nowMs;
    const restarted = [...this.#restarted];
    for (const topic of this.#view.topics()) {
      for (const record of topic.partitions) {
        const command = this.#electPartition(topic, record, fencing, preferredDue);
        if (command !== null) commands.push(command);
      }
    }
    return { commands, observerAdds, restarted, again };
  }

  /** After a pass: when all its commands committed, the restarted nodes are dealt with. */
  finishPass(pass: ControllerPass, allCommitted: boolean): void {
    if (allCommitted) for (const id of pass.restarted) this.#restarted.delete(id);
  }

  /** The shell added `nodeId` as an observer (or found it already one). */
  onObserverAdded(nodeId: number): void {
    this.#observers.add(nodeId);
  }

  #session(nodeId: number, nowMs: number): Session {
    let session = this.#sessions.get(nodeId);
    if (session === undefined) {
      const sinceMs = this.#leaderSinceMs ?? nowMs;
      session = { lastSeenMs: sinceMs, fencedAtMs: sinceMs, ineligible: new Set() };
      this.#sessions.set(nodeId, session);
    }
    return session;
  }

  #probeOf(node: NodeImage, nowMs: number): ProbeRequest {
    this.#lastProbeMs.set(node.id, nowMs);
    return { nodeId: node.id, brokerEpoch: node.brokerEpoch, url: node.url };
  }

  /** Nodes some partition record names as leader. */
  #leaders(): Set<number> {
    const leaders = new Set<number>();
    for (const topic of this.#view.topics()) {
      for (const record of topic.partitions) if (record.leader !== null) leaders.add(record.leader);
    }
    return leaders;
  }

  #checkSession(
    node: NodeImage,
    nowMs: number,
    leading: ReadonlySet<number>,
  ): MetadataCommand | null {
    const session = this.#session(node.id, nowMs);
    const silentMs = nowMs - session.lastSeenMs;
    const command = { nodeId: node.id, brokerEpoch: node.brokerEpoch };
    const refused = this.#refused.get(node.id) === node.brokerEpoch;
    // The controller's own node is alive by definition while it runs this.
    const expired = silentMs > this.#config.sessionTimeoutMs && node.id !== this.#config.nodeId;
    if (node.status === 'alive' && (refused || expired)) return { type: 'fence-node', ...command };
    const heardSinceFenced =
      session.lastSeenMs > session.fencedAtMs && silentMs <= this.#config.sessionTimeoutMs;
    // A fenced node still named leader (a restarted incarnation, issue 7) is unfenced only
    // after this pass's elections moved that leadership away: it must lead no epoch it did not
    // win after its registration.
    const mayUnfence = heardSinceFenced && !leading.has(node.id);
    if (node.status === 'fenced' && !node.shuttingDown && mayUnfence) {
      return { type: 'unfence-node', ...command };
    }
    return null;
  }

  #electPartition(
    topic: TopicImage,
    record: PartitionImage,
    fencing: ReadonlySet<number>,
    preferredDue: boolean,
  ): MetadataCommand | null {
    if (!isWellFormedRecord(record)) return null;
    const state = toPartitionState(record);
    // Nodes this pass fences are gone already: the election rides in the same pass.
    const context = this.#electionContext(topic, record.partition, fencing);
    const gone = new Set([...fencing, ...this.#restarted]);
    // Leadership first: a reassignment steps on only while no election is needed.
    const next =
      this.#decide(state, context, gone, preferredDue) ?? reassign(record, state, context);
    if (next === 'done') {
      return {
        type: 'reassign-partition',
        topic: topic.name,
        partition: record.partition,
        targetReplicas: null,
      };
    }
    if (next === null) return null;
    return {
      type: 'change-partition',
      topic: topic.name,
      partition: record.partition,
      expectedPartitionEpoch: record.partitionEpoch,
      leader: next.leader,
      leaderEpoch: next.leaderEpoch,
      replicas: next.replicas,
      isr: next.isr,
    };
  }

  /** The partition's next record, or null to leave it as it is. */
  #decide(
    initial: PartitionState,
    context: ElectionContext,
    gone: ReadonlySet<number>,
    preferredDue: boolean,
  ): PartitionState | null {
    let state = initial;
    for (const id of initial.replicas) {
      const unavailable = !context.liveNodes.has(id) || gone.has(id);
      const next = unavailable ? onNodeUnavailable(state, id, context) : null;
      // A node in controlled shutdown keeps what no one else can lead: it serves until it
      // exits, and the partition is offline from then on either way.
      const strands = next?.leader === null && this.#view.node(id)?.shuttingDown === true;
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

  #electionContext(
    topic: TopicImage,
    partition: number,
    fencing: ReadonlySet<number>,
  ): ElectionContext {
    const liveNodes = new Set<NodeId>();
    const ineligible = new Set<NodeId>();
    const key = partitionKey(topic.name, partition);
    for (const node of this.#view.nodes()) {
      if (node.status === 'alive' && !node.shuttingDown && !fencing.has(node.id)) {
        liveNodes.add(toNodeId(node.id));
      }
      if (this.#sessions.get(node.id)?.ineligible.has(key) === true) {
        ineligible.add(toNodeId(node.id));
      }
    }
    return {
      liveNodes,
      ineligible,
      uncleanLeaderElection: topic.config.uncleanLeaderElectionEnable,
    };
  }
}

/** The next step of a reassignment in progress: a record, 'done', or null (waiting). */
function reassign(
  record: PartitionImage,
  state: PartitionState,
  context: ElectionContext,
): PartitionState | 'done' | null {
  const target = record.targetReplicas;
  if (target === undefined) return null;
  const step = reassignmentStep(state, target.map(toNodeId), context);
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
