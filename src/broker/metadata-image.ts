// The metadata state machine: nodes, topics and partitions as every node sees them after
// applying the committed metadata log in order. Apply is deterministic and total: it validates
// each command (the log may hold anything) and returns a typed MetadataResult instead of
// throwing. Records are immutable and replaced on change, so readers may keep references.
// Snapshot format: UTF-8 JSON {version: 1, appliedIndex, clusterId, nodes, topics,
// producerIds?} (producer-id-image.ts).
import { assert, toNodeId } from '../common/index.ts';
import type { StateMachine } from '../raft/index.ts';
import { isWellFormedRecord, toPartitionState } from './partition-record.ts';
import { validateIsrChange } from './replication/index.ts';
import {
  retiredHeartbeatType,
  type MetadataCommand,
  type MetadataRejectCode,
  type MetadataResult,
} from './metadata-command.ts';
import { ProducerIdImage, type ProducerIdSnapshot } from './producer-id-image.ts';
import { resolveTopicConfig, type TopicConfig } from './topic-config.ts';
import { topicNameProblem } from './topic-name.ts';

export type NodeStatus = 'alive' | 'fenced';

export interface NodeImage {
  readonly id: number;
  readonly url: string;
  /** The log index of the node's latest registration: its incarnation (Kafka's broker epoch). */
  readonly brokerEpoch: number;
  readonly incarnationId: string;
  readonly status: NodeStatus;
  /** This incarnation asked for a controlled shutdown: it stays fenced until it registers again. */
  readonly shuttingDown: boolean;
}

export interface PartitionImage {
  readonly partition: number;
  /** Replica node ids; the first is the preferred leader. */
  readonly replicas: readonly number[];
  /** Invariant: leader is null or a member of replicas. */
  readonly leader: number | null;
  readonly leaderEpoch: number;
  /** Invariant: a non-empty subset of replicas that holds the leader (if any). */
  readonly isr: readonly number[];
  /** Bumped by every change-partition; the compare-and-set token for ISR and leader changes. */
  readonly partitionEpoch: number;
  /** Set while a reassignment moves the partition to these replicas (absent otherwise). */
  readonly targetReplicas?: readonly number[];
}

export interface TopicImage {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: readonly PartitionImage[];
  /** The overrides a user set (Kafka names → strings). */
  readonly configs: Readonly<Record<string, string>>;
  /** Overrides validated and merged over the defaults. */
  readonly config: TopicConfig;
}

/** Limits every node enforces identically at apply time. */
export const metadataLimits = {
  topicsMax: 10_000,
  partitionsPerTopicMax: 10_000,
  partitionsMax: 50_000,
  nodesMax: 1_000,
  replicationFactorMax: 16,
  idCharsMax: 64,
  urlCharsMax: 512,
} as const;

export type AppliedListener = (command: MetadataCommand, result: MetadataResult) => void;

function reject(code: MetadataRejectCode, message: string): MetadataResult {
  return { ok: false, code, message };
}

const accepted: MetadataResult = { ok: true };

function isNatural(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isShortString(value: unknown, charsMax: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= charsMax;
}

function isNodeList(value: unknown): value is readonly number[] {
  if (!Array.isArray(value) || value.length > metadataLimits.replicationFactorMax) return false;
  return value.every(isNatural) && new Set(value).size === value.length;
}

function isStringRecord(value: unknown, allowNull: boolean): value is Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((v) => typeof v === 'string' || (allowNull && v === null));
}

export class MetadataImage implements StateMachine<MetadataCommand> {
  #clusterId: string | null = null;
  #appliedIndex = 0;
  readonly #nodes = new Map<number, NodeImage>();
  readonly #topics = new Map<string, TopicImage>();
  #partitionCount = 0;
  /** Producer id blocks and named producers (idempotent producers). */
  readonly producerIds = new ProducerIdImage();
  readonly #listeners = new Set<AppliedListener>();
  readonly #restoreListeners = new Set<() => void>();

  get clusterId(): string | null {
    return this.#clusterId;
  }
  get appliedIndex(): number {
    return this.#appliedIndex;
  }
  node(id: number): NodeImage | undefined {
    return this.#nodes.get(id);
  }
  /** Sorted by id. */
  nodes(): NodeImage[] {
    return [...this.#nodes.values()].sort((a, b) => a.id - b.id);
  }
  topic(name: string): TopicImage | undefined {
    return this.#topics.get(name);
  }
  /** Sorted by name. */
  topics(): TopicImage[] {
    return [...this.#topics.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  partition(topic: string, partition: number): PartitionImage | undefined {
    return this.#topics.get(topic)?.partitions[partition];
  }

  /** Called after every applied command (accepted or not), synchronously, in log order. */
  onApplied(listener: AppliedListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called after restore() replaced the whole state (a snapshot installed by Raft). */
  onRestored(listener: () => void): () => void {
    this.#restoreListeners.add(listener);
    return () => this.#restoreListeners.delete(listener);
  }

  apply(command: MetadataCommand, index: number): MetadataResult {
    assert(index > this.#appliedIndex, `index ${index} applied after ${this.#appliedIndex}`);
    this.#appliedIndex = index;
    const result = this.#applyChecked(command, index);
    for (const listener of this.#listeners) listener(command, result);
    return result;
  }

  #applyChecked(command: MetadataCommand, index: number): MetadataResult {
    if (typeof command !== 'object' || command === null) {
      return reject('INVALID_COMMAND', 'command is not an object');
    }
    const type = (command as { type?: unknown }).type;
    // Heartbeats were records before liveness left the log: an old one changes nothing.
    if (type === retiredHeartbeatType) return accepted;
    switch (command.type) {
      case 'init-cluster':
        return this.#initCluster(command);
      case 'register-node':
        return this.#registerNode(command, index);
      case 'fence-node':
      case 'unfence-node':
        return this.#setFenced(command, command.type === 'fence-node');
      case 'controlled-shutdown':
        return this.#controlledShutdown(command);
      case 'create-topic':
        return this.#createTopic(command);
      case 'delete-topic':
        return this.#deleteTopic(command);
      case 'change-partition':
        return this.#changePartition(command);
      case 'alter-isr':
        return this.#alterIsr(command);
      case 'reassign-partition':
        return this.#reassignPartition(command);
      case 'set-topic-config':
        return this.#setTopicConfig(command);
      case 'allocate-producer-ids':
        return this.producerIds.allocate(command);
      case 'init-producer':
        return this.producerIds.initProducer(command);
      default:
        // A log written by a newer version, or garbage: refuse it, never crash.
        return reject('INVALID_COMMAND', `unknown command type ${JSON.stringify(type)}`);
    }
  }

  #initCluster(c: Extract<MetadataCommand, { type: 'init-cluster' }>): MetadataResult {
    if (!isShortString(c.clusterId, metadataLimits.idCharsMax)) {
      return reject('INVALID_COMMAND', 'clusterId must be a short string');
    }
    // The first init wins; a later one (two nodes racing at bootstrap) is a harmless no-op.
    if (this.#clusterId === null) this.#clusterId = c.clusterId;
    return accepted;
  }

  #registerNode(
    c: Extract<MetadataCommand, { type: 'register-node' }>,
    index: number,
  ): MetadataResult {
    if (!isNatural(c.nodeId)) return reject('INVALID_COMMAND', 'nodeId must be a natural');
    if (!isShortString(c.url, metadataLimits.urlCharsMax)) {
      return reject('INVALID_COMMAND', 'url must be a short string');
    }
    if (!isShortString(c.incarnationId, metadataLimits.idCharsMax)) {
      return reject('INVALID_COMMAND', 'incarnationId must be a short string');
    }
    const previous = this.#nodes.get(c.nodeId);
    if (previous === undefined && this.#nodes.size >= metadataLimits.nodesMax) {
      return reject('INVALID_COMMAND', `at most ${metadataLimits.nodesMax} nodes`);
    }
    // A repeated registration of the same incarnation (a retried proposal) keeps its epoch.
    if (previous !== undefined && previous.incarnationId === c.incarnationId) {
      return { ok: true, brokerEpoch: previous.brokerEpoch };
    }
    // A new incarnation of a known node registers fenced (KRaft's rule, issue 7): its old
    // incarnation's leadership must move away before the controller unfences it.
    this.#nodes.set(c.nodeId, {
      id: c.nodeId,
      url: c.url,
      brokerEpoch: index,
      incarnationId: c.incarnationId,
      status: previous === undefined ? 'alive' : 'fenced',
      shuttingDown: false,
    });
    return { ok: true, brokerEpoch: index };
  }

  /** The node, if it exists and `brokerEpoch` is its current incarnation. */
  #currentNode(nodeId: unknown, brokerEpoch: unknown): NodeImage | MetadataResult {
    if (!isNatural(nodeId) || !isNatural(brokerEpoch)) {
      return reject('INVALID_COMMAND', 'nodeId and brokerEpoch must be naturals');
    }
    const node = this.#nodes.get(nodeId);
    if (node === undefined) return reject('UNKNOWN_NODE', `node ${nodeId} is not registered`);
    if (node.brokerEpoch !== brokerEpoch) {
      return reject('STALE_BROKER_EPOCH', `node ${nodeId} epoch is ${node.brokerEpoch}`);
    }
    return node;
  }

  #setFenced(
    c: Extract<MetadataCommand, { type: 'fence-node' | 'unfence-node' }>,
    fenced: boolean,
  ): MetadataResult {
    const node = this.#currentNode(c.nodeId, c.brokerEpoch);
    if (!('id' in node)) return node;
    if (!fenced && node.shuttingDown) {
      return reject('STALE_BROKER_EPOCH', `node ${node.id} is shutting down`);
    }
    this.#nodes.set(node.id, { ...node, status: fenced ? 'fenced' : 'alive' });
    return accepted;
  }

  #controlledShutdown(
    c: Extract<MetadataCommand, { type: 'controlled-shutdown' }>,
  ): MetadataResult {
    const node = this.#currentNode(c.nodeId, c.brokerEpoch);
    if (!('id' in node)) return node;
    this.#nodes.set(node.id, { ...node, status: 'fenced', shuttingDown: true });
    return accepted;
  }

  /** AlterPartition, checked against the committed record (see metadata-command.ts). */
  #alterIsr(c: Extract<MetadataCommand, { type: 'alter-isr' }>): MetadataResult {
    const topic = typeof c.topic === 'string' ? this.#topics.get(c.topic) : undefined;
    const current = isNatural(c.partition) ? topic?.partitions[c.partition] : undefined;
    if (topic === undefined || current === undefined) {
      return reject('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${c.topic}-${c.partition}`);
    }
    const wellFormed =
      isNatural(c.leaderId) &&
      isNatural(c.leaderEpoch) &&
      isNatural(c.partitionEpoch) &&
      isNodeList(c.newIsr);
    if (!wellFormed) return reject('INVALID_COMMAND', 'malformed alter-isr');
    if (!isWellFormedRecord(current)) return reject('INVALID_REQUEST', 'record is malformed');
    const liveNodes = new Set(
      this.nodes()
        .filter((node) => node.status === 'alive')
        .map((node) => toNodeId(node.id)),
    );
    const validation = validateIsrChange(
      toPartitionState(current),
      {
        leaderId: toNodeId(c.leaderId),
        leaderEpoch: c.leaderEpoch,
        partitionEpoch: c.partitionEpoch,
        newIsr: c.newIsr.map(toNodeId),
      },
      { liveNodes, ineligible: new Set(), uncleanLeaderElection: false },
    );
    if (!validation.ok) {
      return reject(validation.code, `alter-isr of ${topic.name}-${current.partition} refused`);
    }
    const partitions = [...topic.partitions];
    partitions[current.partition] = {
      partition: current.partition,
      ...validation.state,
      ...withTarget(current),
    };
    this.#topics.set(topic.name, { ...topic, partitions });
    return { ok: true, partitionEpoch: validation.state.partitionEpoch };
  }

  #createTopic(c: Extract<MetadataCommand, { type: 'create-topic' }>): MetadataResult {
    const nameProblem = topicNameProblem(c.name);
    if (nameProblem !== null) return reject('INVALID_TOPIC_EXCEPTION', nameProblem);
    if (this.#topics.has(c.name)) {
      return reject('TOPIC_ALREADY_EXISTS', `topic '${c.name}' already exists`);
    }
    if (!isShortString(c.topicId, metadataLimits.idCharsMax)) {
      return reject('INVALID_COMMAND', 'topicId must be a short string');
    }
    if (this.#topics.size >= metadataLimits.topicsMax) {
      return reject('INVALID_PARTITIONS', `at most ${metadataLimits.topicsMax} topics`);
    }
    const partitions = this.#checkAssignments(c.partitions);
    if (!Array.isArray(partitions)) return partitions as MetadataResult;
    if (!isStringRecord(c.configs, false)) {
      return reject('INVALID_CONFIG', 'configs must map names to strings');
    }
    const resolved = resolveTopicConfig(c.configs);
    if (!resolved.ok) return reject('INVALID_CONFIG', resolved.message);
    this.#topics.set(c.name, {
      name: c.name,
      topicId: c.topicId,
      partitions,
      configs: { ...c.configs },
      config: resolved.config,
    });
    this.#partitionCount += partitions.length;
    return accepted;
  }

  #checkAssignments(assignments: unknown): PartitionImage[] | MetadataResult {
    if (!Array.isArray(assignments) || assignments.length === 0) {
      return reject('INVALID_PARTITIONS', 'a topic needs at least one partition');
    }
    if (assignments.length > metadataLimits.partitionsPerTopicMax) {
      return reject('INVALID_PARTITIONS', `at most ${metadataLimits.partitionsPerTopicMax}`);
    }
    if (this.#partitionCount + assignments.length > metadataLimits.partitionsMax) {
      return reject('INVALID_PARTITIONS', `at most ${metadataLimits.partitionsMax} in all`);
    }
    const partitions: PartitionImage[] = [];
    for (const assignment of assignments as unknown[]) {
      const replicas = (assignment as { replicas?: unknown } | null)?.replicas;
      if (!isNodeList(replicas) || replicas.length === 0) {
        return reject('INVALID_REPLICATION_FACTOR', 'replicas must be distinct node ids');
      }
      if (replicas.length !== (partitions[0]?.replicas.length ?? replicas.length)) {
        return reject('INVALID_REPLICATION_FACTOR', 'every partition needs as many replicas');
      }
      const unknown = replicas.find((id) => !this.#nodes.has(id));
      if (unknown !== undefined) {
        return reject('INVALID_REPLICATION_FACTOR', `node ${unknown} is not registered`);
      }
      partitions.push({
        partition: partitions.length,
        replicas: [...replicas],
        leader: replicas[0] ?? null,
        leaderEpoch: 0,
        isr: [...replicas],
        partitionEpoch: 0,
      });
    }
    return partitions;
  }

  #deleteTopic(c: Extract<MetadataCommand, { type: 'delete-topic' }>): MetadataResult {
    const topic = typeof c.name === 'string' ? this.#topics.get(c.name) : undefined;
    if (topic === undefined) {
      return reject('UNKNOWN_TOPIC_OR_PARTITION', `no topic '${String(c.name)}'`);
    }
    this.#topics.delete(topic.name);
    this.#partitionCount -= topic.partitions.length;
    return accepted;
  }

  #changePartition(c: Extract<MetadataCommand, { type: 'change-partition' }>): MetadataResult {
    const topic = typeof c.topic === 'string' ? this.#topics.get(c.topic) : undefined;
    const current = isNatural(c.partition) ? topic?.partitions[c.partition] : undefined;
    if (topic === undefined || current === undefined) {
      return reject('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${c.topic}-${c.partition}`);
    }
    if (c.expectedPartitionEpoch !== current.partitionEpoch) {
      return reject('INVALID_UPDATE_VERSION', `partition epoch is ${current.partitionEpoch}`);
    }
    const problem = this.#partitionChangeProblem(c, current);
    if (problem !== null) return reject('INVALID_COMMAND', problem);
    const partitions = [...topic.partitions];
    partitions[current.partition] = {
      partition: current.partition,
      replicas: [...c.replicas],
      leader: c.leader,
      leaderEpoch: c.leaderEpoch,
      isr: [...c.isr],
      partitionEpoch: current.partitionEpoch + 1,
      ...withTarget(current),
    };
    this.#topics.set(topic.name, { ...topic, partitions });
    return accepted;
  }

  #partitionChangeProblem(
    c: Extract<MetadataCommand, { type: 'change-partition' }>,
    current: PartitionImage,
  ): string | null {
    if (!isNodeList(c.replicas) || c.replicas.length === 0) return 'replicas must be node ids';
    if (!isNodeList(c.isr)) return 'isr must be distinct node ids';
    if (!c.isr.every((id) => c.replicas.includes(id))) return 'isr must be a subset of replicas';
    // The replication core's PartitionState invariant: every broker would assert on a record
    // with an empty ISR or a leader outside it, and replay would crash them again.
    if (c.isr.length === 0) return 'isr must not be empty';
    if (c.leader !== null && !c.isr.includes(c.leader)) return 'leader must be in the isr';
    if (c.replicas.some((id) => !this.#nodes.has(id))) return 'replicas must be registered';
    if (c.leader !== null && !(isNatural(c.leader) && c.replicas.includes(c.leader))) {
      return 'leader must be null or one of the replicas';
    }
    if (!isNatural(c.leaderEpoch) || c.leaderEpoch < current.leaderEpoch) {
      return `leader epoch must not go below ${current.leaderEpoch}`;
    }
    if (c.leader !== current.leader && c.leaderEpoch === current.leaderEpoch) {
      return 'a new leader needs a new leader epoch';
    }
    return null;
  }

  #reassignPartition(c: Extract<MetadataCommand, { type: 'reassign-partition' }>): MetadataResult {
    const topic = typeof c.topic === 'string' ? this.#topics.get(c.topic) : undefined;
    const current = isNatural(c.partition) ? topic?.partitions[c.partition] : undefined;
    if (topic === undefined || current === undefined) {
      return reject('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${c.topic}-${c.partition}`);
    }
    const target = c.targetReplicas;
    if (target !== null) {
      if (!isNodeList(target) || target.length === 0) {
        return reject('INVALID_REPLICATION_FACTOR', 'replicas must be distinct node ids');
      }
      const unknown = target.find((id) => !this.#nodes.has(id));
      if (unknown !== undefined) {
        return reject('INVALID_REPLICATION_FACTOR', `node ${unknown} is not registered`);
      }
    }
    const { targetReplicas: _previous, ...rest } = current;
    const partitions = [...topic.partitions];
    partitions[current.partition] =
      target === null ? rest : { ...rest, targetReplicas: [...target] };
    this.#topics.set(topic.name, { ...topic, partitions });
    return accepted;
  }

  #setTopicConfig(c: Extract<MetadataCommand, { type: 'set-topic-config' }>): MetadataResult {
    const topic = typeof c.topic === 'string' ? this.#topics.get(c.topic) : undefined;
    if (topic === undefined) {
      return reject('UNKNOWN_TOPIC_OR_PARTITION', `no topic '${String(c.topic)}'`);
    }
    if (!isStringRecord(c.configs, true)) {
      return reject('INVALID_CONFIG', 'configs must map names to strings or null');
    }
    const configs: Record<string, string> = { ...topic.configs };
    for (const [name, value] of Object.entries(c.configs)) {
      if (value === null) delete configs[name];
      else configs[name] = value;
    }
    const resolved = resolveTopicConfig(configs);
    if (!resolved.ok) return reject('INVALID_CONFIG', resolved.message);
    this.#topics.set(topic.name, { ...topic, configs, config: resolved.config });
    return accepted;
  }

  snapshot(): Uint8Array {
    const image = {
      version: 1,
      appliedIndex: this.#appliedIndex,
      clusterId: this.#clusterId,
      nodes: this.nodes(),
      topics: this.topics().map(({ name, topicId, partitions, configs }) => ({
        name,
        topicId,
        partitions,
        configs,
      })),
      producerIds: this.producerIds.snapshot(),
    };
    return new TextEncoder().encode(JSON.stringify(image));
  }

  /** Replaces the whole state, then tells the onRestored listeners. */
  restore(snapshot: Uint8Array): void {
    const image = JSON.parse(new TextDecoder().decode(snapshot)) as SnapshotV1;
    assert(image.version === 1, `unknown metadata snapshot version ${String(image.version)}`);
    this.#appliedIndex = image.appliedIndex;
    this.#clusterId = image.clusterId;
    this.#nodes.clear();
    // Snapshots written before controlled shutdown existed lack `shuttingDown`.
    // Older snapshots also carry `lastHeartbeatWallMs`, which nothing reads any more.
    for (const node of image.nodes) {
      const { lastHeartbeatWallMs: _retired, ...rest } = node as NodeImage & {
        lastHeartbeatWallMs?: number;
      };
      this.#nodes.set(node.id, { ...rest, shuttingDown: node.shuttingDown === true });
    }
    this.#topics.clear();
    this.#partitionCount = 0;
    for (const topic of image.topics) {
      const resolved = resolveTopicConfig(topic.configs);
      assert(resolved.ok, `snapshot holds invalid configs for topic ${topic.name}`);
      this.#topics.set(topic.name, { ...topic, config: resolved.config });
      this.#partitionCount += topic.partitions.length;
    }
    this.producerIds.restore(image.producerIds);
    for (const listener of this.#restoreListeners) listener();
  }

  /** Structural invariants; tests call this after every step. */
  checkInvariants(): void {
    let partitions = 0;
    for (const topic of this.#topics.values()) {
      assert(topicNameProblem(topic.name) === null, `illegal topic name ${topic.name}`);
      topic.partitions.forEach((p, i) => {
        assert(p.partition === i, `partition ${topic.name}-${i} has number ${p.partition}`);
        assert(
          p.isr.every((id) => p.replicas.includes(id)),
          `isr ⊄ replicas in ${topic.name}`,
        );
        assert(p.leader === null || p.replicas.includes(p.leader), `leader not a replica`);
      });
      partitions += topic.partitions.length;
    }
    assert(partitions === this.#partitionCount, 'partition count drifted');
    this.producerIds.checkInvariants();
  }
}

/** A change keeps a reassignment in progress; only reassign-partition sets or ends it. */
function withTarget(record: PartitionImage): { targetReplicas?: readonly number[] } {
  return record.targetReplicas === undefined ? {} : { targetReplicas: record.targetReplicas };
}

interface SnapshotV1 {
  readonly version: number;
  readonly appliedIndex: number;
  readonly clusterId: string | null;
  readonly nodes: readonly NodeImage[];
  readonly topics: readonly Omit<TopicImage, 'config'>[];
  /** Absent in snapshots written before idempotent producers. */
  readonly producerIds?: ProducerIdSnapshot;
}
