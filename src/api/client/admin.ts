// Topic, group and cluster administration over the JSON routes of docs/api.md: topics (create,
// list, describe, delete, alter configs, reassign a partition), offsets and delete-records (asked
// of the partition's leader), consumer groups (list, describe, reset offsets, delete: any node;
// committed offsets: the coordinator), the cluster view and each node's Raft status. A non-2xx
// answer becomes its ClientError.
import type { Clock, Random } from '../../common/index.ts';
import { defaultBackoff } from './backoff.ts';
import { ClientError } from './client-error.ts';
import { GroupCoordinator, groupPath } from './group-coordinator.ts';
import type {
  ClusterDescriptionBody,
  GroupDescriptionBody,
  GroupListingBody,
  GroupMemberBody,
  GroupPartitionLagBody,
  GroupStateName,
  OffsetFetchResponseBody,
  OffsetResetRequestBody,
  OffsetResetResponseBody,
  PartitionDescriptionBody,
  PartitionOffsetsBody,
  TopicDescriptionBody,
  TopicListingBody,
} from '../wire.ts';
import type { MetadataCache } from './metadata-cache.ts';
import { jsonBody, responseError, type Transport, type TransportResponse } from './transport.ts';

export interface NewTopic {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs?: Readonly<Record<string, string>>;
}

// The answers are the server's JSON bodies, declared once in ../wire.ts.
export type TopicListing = TopicListingBody;
export type TopicDescription = TopicDescriptionBody;
export type ClusterDescription = ClusterDescriptionBody;
export type PartitionOffsets = PartitionOffsetsBody;
export type PartitionDescription = PartitionDescriptionBody;

/** Config changes for alterTopicConfigs: a string sets an override, null removes it. */
export type TopicConfigChanges = Readonly<Record<string, string | null>>;

/** GET /v1/raft: one node's view of the metadata Raft group. */
export interface RaftStatus {
  readonly nodeId: number;
  readonly role: 'leader' | 'follower' | 'candidate' | 'pre-candidate' | 'observer';
  readonly term: number;
  readonly leaderId: number | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly voters: readonly number[];
}

export type GroupState = GroupStateName;
export type GroupListing = GroupListingBody['groups'][number];
export type GroupMemberDescription = GroupMemberBody;
export type GroupPartitionDescription = GroupPartitionLagBody;
export type GroupDescription = GroupDescriptionBody;
export type CommittedOffset = OffsetFetchResponseBody['offsets'][number];

/** Where resetOffsets moves a topic's committed offsets. */
export type OffsetResetTarget = OffsetResetRequestBody['to'];

/** An offsets or delete-records answer is a few numbers. */
const smallResponseBytesMax = 64 * 1024;

export class Admin {
  readonly #metadata: MetadataCache;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #random: Random;

  constructor(deps: {
    metadata: MetadataCache;
    transport: Transport;
    clock: Clock;
    random: Random;
  }) {
    this.#metadata = deps.metadata;
    this.#transport = deps.transport;
    this.#clock = deps.clock;
    this.#random = deps.random;
  }

  /** Every group of every coordinator. */
  async listGroups(): Promise<GroupListing[]> {
    const response = await this.#metadata.requestAny({ method: 'GET', path: '/v1/groups' });
    const body = expectJson(response, 'list groups') as { groups?: unknown };
    if (!Array.isArray(body.groups)) {
      throw new ClientError('CLIENT_BAD_RESPONSE', 'list groups: no groups list');
    }
    return body.groups as GroupListing[];
  }

  /** Members, assignments, committed offsets and lag. GROUP_ID_NOT_FOUND. */
  async describeGroup(group: string): Promise<GroupDescription> {
    const response = await this.#metadata.requestAny({ method: 'GET', path: groupPath(group) });
    return expectJson(response, `describe group ${group}`) as GroupDescription;
  }

  /** GROUP_ID_NOT_FOUND; NON_EMPTY_GROUP while it has members. */
  async deleteGroup(group: string): Promise<void> {
    const response = await this.#metadata.requestAny({ method: 'DELETE', path: groupPath(group) });
    if (response.status < 200 || response.status >= 300) {
      throw responseError(response, `delete group ${group}`);
    }
  }

  /**
   * Commits new offsets for every partition of `topic` (earliest, latest, an offset, or the
   * first at or after a time); with dryRun only answers what would be committed.
   * NON_EMPTY_GROUP while the group has members; UNKNOWN_TOPIC_OR_PARTITION.
   */
  async resetOffsets(
    group: string,
    request: { topic: string; to: OffsetResetTarget; dryRun?: boolean },
  ): Promise<OffsetResetResponseBody['offsets']> {
    const body = JSON.stringify({
      topic: request.topic,
      to: request.to,
      dryRun: request.dryRun ?? false,
    });
    const path = `${groupPath(group)}/offsets/reset`;
    const response = await this.#metadata.requestAny({ method: 'POST', path, body });
    const answer = expectJson(response, `reset offsets of group ${group}`) as { offsets?: unknown };
    if (!Array.isArray(answer.offsets)) {
      throw new ClientError('CLIENT_BAD_RESPONSE', 'reset offsets: no offsets list');
    }
    return answer.offsets as OffsetResetResponseBody['offsets'];
  }

  /** The group's committed offsets (of `topic` only, if given), from its coordinator. */
  async fetchOffsets(group: string, topic?: string): Promise<readonly CommittedOffset[]> {
    const coordinator = new GroupCoordinator(
      {
        groupId: group,
        retryBackoff: defaultBackoff,
        requestTimeoutMs: 30_000,
        coordinatorRetryMs: 30_000,
        responseBytesMax: 16 * 1024 * 1024,
      },
      {
        metadata: this.#metadata,
        transport: this.#transport,
        clock: this.#clock,
        random: this.#random,
      },
    );
    const query = topic === undefined ? '' : `?topic=${encodeURIComponent(topic)}`;
    const body = (await coordinator.request('GET', `/offsets${query}`)) as { offsets?: unknown };
    if (!Array.isArray(body.offsets)) {
      throw new ClientError('CLIENT_BAD_RESPONSE', 'fetch offsets: no offsets list');
    }
    return body.offsets as readonly CommittedOffset[];
  }

  /** TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, INVALID_CONFIG. */
  async createTopic(topic: NewTopic): Promise<TopicDescription> {
    const body = JSON.stringify({
      name: topic.name,
      partitions: topic.partitions,
      replicationFactor: topic.replicationFactor,
      configs: topic.configs ?? {},
    });
    const response = await this.#metadata.requestAny({ method: 'POST', path: '/v1/topics', body });
    this.#metadata.invalidate(topic.name);
    return expectJson(response, `create topic ${topic.name}`) as TopicDescription;
  }

  async listTopics(): Promise<TopicListing[]> {
    const response = await this.#metadata.requestAny({ method: 'GET', path: '/v1/topics' });
    const body = expectJson(response, 'list topics') as { topics?: unknown };
    if (!Array.isArray(body.topics)) {
      throw new ClientError('CLIENT_BAD_RESPONSE', 'list topics: no topics list');
    }
    return body.topics as TopicListing[];
  }

  /** UNKNOWN_TOPIC_OR_PARTITION when it does not exist. */
  async describeTopic(name: string): Promise<TopicDescription> {
    const path = `/v1/topics/${encodeURIComponent(name)}`;
    const response = await this.#metadata.requestAny({ method: 'GET', path });
    return expectJson(response, `describe topic ${name}`) as TopicDescription;
  }

  /** UNKNOWN_TOPIC_OR_PARTITION when it does not exist. */
  async deleteTopic(name: string): Promise<void> {
    const path = `/v1/topics/${encodeURIComponent(name)}`;
    const response = await this.#metadata.requestAny({ method: 'DELETE', path });
    this.#metadata.invalidate(name);
    if (response.status < 200 || response.status >= 300) {
      throw responseError(response, `delete topic ${name}`);
    }
  }

  async describeCluster(): Promise<ClusterDescription> {
    const response = await this.#metadata.requestAny({ method: 'GET', path: '/v1/cluster' });
    return expectJson(response, 'describe cluster') as ClusterDescription;
  }

  /** Sets (string) or removes (null) overrides. UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG. */
  async alterTopicConfigs(name: string, changes: TopicConfigChanges): Promise<TopicDescription> {
    const path = `/v1/topics/${encodeURIComponent(name)}/configs`;
    const body = JSON.stringify({ configs: changes });
    const response = await this.#metadata.requestAny({ method: 'PUT', path, body });
    return expectJson(response, `alter configs of ${name}`) as TopicDescription;
  }

  /**
   * Starts moving a partition to `replicas` (the first is the preferred leader) and answers at
   * once; the partition shows `targetReplicas` until the controller has finished (watch it with
   * describeTopic). UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICATION_FACTOR.
   */
  async reassignPartition(
    name: string,
    partition: number,
    replicas: readonly number[],
  ): Promise<PartitionDescription> {
    const path = `/v1/topics/${encodeURIComponent(name)}/partitions/${partition}/reassignment`;
    const body = JSON.stringify({ replicas });
    const response = await this.#metadata.requestAny({ method: 'POST', path, body });
    this.#metadata.invalidate(name);
    return expectJson(response, `reassign ${name}/${partition}`) as PartitionDescription;
  }

  /** One node's Raft status: of `nodeUrl` if given, else of any node that answers. */
  async raftStatus(nodeUrl?: string): Promise<RaftStatus> {
    const request = { method: 'GET', path: '/v1/raft' } as const;
    const response =
      nodeUrl === undefined
        ? await this.#metadata.requestAny(request)
        : await this.#transport.request(nodeUrl, {
            ...request,
            responseBytesMax: smallResponseBytesMax,
            timeoutMs: 5_000,
          });
    return expectJson(response, 'raft status') as RaftStatus;
  }

  /**
   * The partition's log start offset and high watermark, from its leader; with `timestampMs`
   * also `offset`, the first offset whose timestamp is >= it (null if none; -1 asks for the
   * high watermark, -2 for the log start). UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE.
   */
  async offsets(topic: string, partition: number, timestampMs?: number): Promise<PartitionOffsets> {
    const query = timestampMs === undefined ? '' : `?timestamp=${timestampMs}`;
    const path = `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/offsets${query}`;
    const response = await this.#leaderRequest(topic, partition, 'GET', path);
    return expectJson(response, `offsets of ${topic}/${partition}`) as PartitionOffsets;
  }

  /**
   * Deletes the records below `beforeOffset` (-1: the high watermark) by advancing the log
   * start offset (Kafka's DeleteRecords). OFFSET_OUT_OF_RANGE beyond the high watermark.
   */
  async deleteRecords(
    topic: string,
    partition: number,
    beforeOffset: number,
  ): Promise<{ logStartOffset: number }> {
    const path =
      `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/records` +
      `?before=${beforeOffset}`;
    const response = await this.#leaderRequest(topic, partition, 'DELETE', path);
    return expectJson(response, `delete records of ${topic}/${partition}`) as {
      logStartOffset: number;
    };
  }

  /** Sends to the partition's leader, following one leader move (421) if need be. */
  async #leaderRequest(
    topic: string,
    partition: number,
    method: 'GET' | 'DELETE',
    path: string,
  ): Promise<TransportResponse> {
    for (let attempt = 0; ; attempt += 1) {
      const leader = await this.#metadata.leader(topic, partition);
      const response = await this.#transport.request(leader.url, {
        method,
        path,
        responseBytesMax: smallResponseBytesMax,
        timeoutMs: 30_000,
      });
      if (response.status !== 421 || attempt > 0) return response;
      this.#metadata.invalidate(topic);
    }
  }
}

function expectJson(response: TransportResponse, what: string): unknown {
  if (response.status < 200 || response.status >= 300) throw responseError(response, what);
  return jsonBody(response, what);
}
