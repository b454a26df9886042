// Topic admin, the broker's metadata-side requests: create, delete, configure and reassign
// topics as metadata commands to the controller, and describe topics and the cluster from the
// applied image. Checks are made here, before proposing, so the image refuses only a race
// (TOPIC_ALREADY_EXISTS); each refusal becomes the BrokerError a client acts on.
import { assert, randomId, type Random } from '../common/index.ts';
import type { MetadataLog } from '../raft/index.ts';
import type {
  ClusterDescription,
  CreateTopicRequest,
  PartitionDescription,
  TopicDescription,
  TopicListing,
} from './broker-types.ts';
import { BrokerError } from './errors.ts';
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import {
  metadataLimits,
  type MetadataImage,
  type PartitionImage,
  type TopicImage,
} from './metadata-image.ts';
import { partitionDirectoryName } from './partition-store.ts';
import { assignReplicas } from './replica-placement.ts';
import { describeTopicConfig, resolveTopicConfig, type TopicConfig } from './topic-config.ts';
import { topicNameProblem } from './topic-name.ts';

/** What describing a partition reads of this node's open replica of it. */
export interface LocalReplicaView {
  readonly role: { readonly kind: 'leader' | 'follower' | 'closed' };
  readonly highWatermark: number;
  readonly log: { readonly logStartOffset: number; readonly sizeBytes: number };
}

export interface TopicAdminDeps {
  readonly image: MetadataImage;
  readonly metadata: MetadataLog<MetadataCommand>;
  readonly random: Random;
  /** This node's open replica of the partition directory `key`, if any. */
  localReplica(key: string): LocalReplicaView | undefined;
  /** How long ago this node's fetch session with `leaderId` was answered, or null. */
  followerAnsweredAgoMs(leaderId: number): number | null;
  /** Throws BROKER_NOT_READY unless the broker is running. */
  requireRunning(): void;
  /** Proposes through the broker; a metadata log failure arrives as its BrokerError. */
  propose(command: MetadataCommand): Promise<{ index: number; result: MetadataResult }>;
  fromMetadataError(error: unknown): unknown;
  /** Resolves once the applied metadata has reached the local replicas. */
  settle(): Promise<void>;
}

/** The topic, or INVALID_TOPIC_EXCEPTION / UNKNOWN_TOPIC_OR_PARTITION. */
export function requireTopic(image: MetadataImage, name: string): TopicImage {
  const problem = topicNameProblem(name);
  if (problem !== null) throw new BrokerError('INVALID_TOPIC_EXCEPTION', problem);
  const topic = image.topic(name);
  if (topic === undefined) {
    throw new BrokerError('UNKNOWN_TOPIC_OR_PARTITION', `no topic '${name}'`);
  }
  return topic;
}

export class TopicAdmin {
  readonly #deps: TopicAdminDeps;

  constructor(deps: TopicAdminDeps) {
    this.#deps = deps;
  }

  describeCluster(): ClusterDescription {
    const { image, metadata } = this.#deps;
    return {
      clusterId: image.clusterId,
      controllerId: metadata.status().leaderId,
      brokers: image.nodes().map(({ id, url, status }) => ({ id, url, status })),
    };
  }

  listTopics(): TopicListing[] {
    return this.#deps.image.topics().map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.length,
      replicationFactor: topic.partitions[0]?.replicas.length ?? 0,
    }));
  }

  /** Codes: INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION. */
  describeTopic(name: string): TopicDescription {
    const topic = requireTopic(this.#deps.image, name);
    return {
      name: topic.name,
      topicId: topic.topicId,
      configs: describeTopicConfig(topic.config),
      partitions: topic.partitions.map((p) => this.#describePartition(topic, p)),
    };
  }

  #describePartition(topic: TopicImage, p: PartitionImage): PartitionDescription {
    const replica = this.#deps.localReplica(partitionDirectoryName({ topic: topic.name, ...p }));
    // A leader knows its HW; a follower the HW of the leader's last fetch answer (one round trip
    // behind: a fetch session answers when the HW moves) and its own log start. For partitions
    // this node does not host, the API asks the leader (topic-describe.ts).
    const kind = replica?.role.kind;
    const known = replica !== undefined && (kind === 'leader' || kind === 'follower');
    const ageMs =
      kind === 'follower' && p.leader !== null ? this.#deps.followerAnsweredAgoMs(p.leader) : null;
    // Whole milliseconds: the clock is finer, the figure is not that precise.
    return {
      partition: p.partition,
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicas,
      isr: p.isr,
      logStartOffset: known ? replica.log.logStartOffset : null,
      highWatermark: known ? replica.highWatermark : null,
      sizeBytes: known ? replica.log.sizeBytes : null,
      offsetsSource: known ? kind : null,
      ...(ageMs === null ? {} : { offsetsAgeMs: Math.round(ageMs) }),
      ...(p.targetReplicas === undefined ? {} : { targetReplicas: p.targetReplicas }),
    };
  }

  /** The effective config. Codes: INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION. */
  topicConfig(name: string): TopicConfig {
    return requireTopic(this.#deps.image, name).config;
  }

  /**
   * Places replicas over the alive nodes and commits the topic; resolves once this node has
   * opened its replicas. Codes: INVALID_TOPIC_EXCEPTION, INVALID_PARTITIONS,
   * INVALID_REPLICATION_FACTOR, INVALID_CONFIG, TOPIC_ALREADY_EXISTS, NOT_CONTROLLER, BROKER_BUSY.
   */
  async createTopic(request: CreateTopicRequest): Promise<TopicDescription> {
    const { image, metadata, random } = this.#deps;
    this.#deps.requireRunning();
    const { name, partitions, replicationFactor, configs } = request;
    const nameProblem = topicNameProblem(name);
    if (nameProblem !== null) throw new BrokerError('INVALID_TOPIC_EXCEPTION', nameProblem);
    if (!isCount(partitions, metadataLimits.partitionsPerTopicMax)) {
      throw new BrokerError(
        'INVALID_PARTITIONS',
        `partitions must be an integer in [1, ${metadataLimits.partitionsPerTopicMax}]`,
      );
    }
    const resolved = resolveTopicConfig(configs);
    if (!resolved.ok) throw new BrokerError('INVALID_CONFIG', resolved.message);
    // Placement reads the alive nodes: a ReadIndex barrier makes this node's image current.
    try {
      await metadata.barrier();
    } catch (error) {
      throw this.#deps.fromMetadataError(error);
    }
    if (image.topic(name) !== undefined) {
      throw new BrokerError('TOPIC_ALREADY_EXISTS', `topic '${name}' already exists`);
    }
    const alive = image
      .nodes()
      .filter((node) => node.status === 'alive')
      .map((node) => node.id);
    if (!isCount(replicationFactor, alive.length)) {
      throw new BrokerError(
        'INVALID_REPLICATION_FACTOR',
        `replicationFactor must be an integer in [1, ${alive.length}] (alive nodes)`,
      );
    }
    const start = random.int(alive.length);
    const assignment = assignReplicas(alive, partitions, replicationFactor, start);
    await this.#proposeChecked({
      type: 'create-topic',
      name,
      topicId: randomId(random),
      partitions: assignment.map((replicas) => ({ replicas })),
      configs: { ...configs },
    });
    await this.#deps.settle();
    return this.describeTopic(name);
  }

  /** Codes: INVALID_TOPIC_EXCEPTION, UNKNOWN_TOPIC_OR_PARTITION, NOT_CONTROLLER, BROKER_BUSY. */
  async deleteTopic(name: string): Promise<void> {
    this.#deps.requireRunning();
    requireTopic(this.#deps.image, name);
    await this.#proposeChecked({ type: 'delete-topic', name });
    await this.#deps.settle();
  }

  /** Sets (string) or removes (null) config overrides. Codes: as deleteTopic, INVALID_CONFIG. */
  async setTopicConfigs(
    name: string,
    configs: Readonly<Record<string, string | null>>,
  ): Promise<TopicDescription> {
    this.#deps.requireRunning();
    requireTopic(this.#deps.image, name);
    await this.#proposeChecked({ type: 'set-topic-config', topic: name, configs: { ...configs } });
    await this.#deps.settle();
    return this.describeTopic(name);
  }

  /**
   * Starts moving a partition to `replicas` (first = preferred leader); the controller steps
   * it (add, catch up, move the leader, drop) and clears `targetReplicas` when done.
   * Codes: UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICATION_FACTOR, NOT_CONTROLLER, BROKER_BUSY.
   */
  async reassignPartition(
    name: string,
    partition: number,
    replicas: readonly number[],
  ): Promise<PartitionDescription> {
    this.#deps.requireRunning();
    if (requireTopic(this.#deps.image, name).partitions[partition] === undefined) {
      throw new BrokerError('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${name}-${partition}`);
    }
    const targetReplicas = [...replicas];
    await this.#proposeChecked({
      type: 'reassign-partition',
      topic: name,
      partition,
      targetReplicas,
    });
    const described = this.describeTopic(name).partitions[partition];
    assert(described !== undefined, 'a partition does not vanish while it is described');
    return described;
  }

  /** Proposes an admin command; a refusal by the image becomes its BrokerError. */
  async #proposeChecked(command: MetadataCommand): Promise<void> {
    const { result } = await this.#deps.propose(command);
    if (result.ok) return;
    const code = result.code;
    switch (code) {
      case 'UNKNOWN_TOPIC_OR_PARTITION':
      case 'TOPIC_ALREADY_EXISTS':
      case 'INVALID_TOPIC_EXCEPTION':
      case 'INVALID_PARTITIONS':
      case 'INVALID_REPLICATION_FACTOR':
      case 'INVALID_CONFIG':
        throw new BrokerError(code, result.message);
      default:
        // The broker checked the command before proposing it: only a bug gets here.
        assert(false, `metadata refused ${command.type}: ${code} ${result.message}`);
    }
  }
}

function isCount(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= max;
}
