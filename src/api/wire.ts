// What the node's HTTP/2 server and the client share, and the only api module the client
// imports: the error catalog and error body, the JSON bodies of API.md, the binary record
// wire (a body of whole RecordBatch v2, docs/format.md, with fetch headers), Kafka's key
// partitioning, and the one HTTP exchange port both sides send through.
import type { ApiErrorCode } from './errors.ts';

export {
  apiErrorCatalog,
  apiErrorCodes,
  isApiErrorCode,
  retryAfterSeconds,
  type ApiErrorCode,
  type ApiErrorEntry,
  type ErrorBody,
} from './errors.ts';
export {
  consumerOffsetsTopic,
  coordinatorPartition,
  murmur2,
  partitionForKey,
  toPositive,
} from './murmur2.ts';

/** Content type of a body made of record batches. */
export const batchContentType = 'application/vnd.rill.batch';

/** Response headers of a binary fetch (all decimal integers). */
export const fetchHeaders = {
  highWatermark: 'rill-high-watermark',
  logStartOffset: 'rill-log-start-offset',
  leaderEpoch: 'rill-leader-epoch',
  nextOffset: 'rill-next-offset',
} as const;

/** One partition in GET /v1/topics/{t} (and the answer of POST /v1/topics). */
export interface PartitionDescriptionBody {
  readonly partition: number;
  readonly leader: number | null;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** Null only when neither the answering node nor the partition's leader could tell. */
  readonly logStartOffset: number | null;
  readonly highWatermark: number | null;
  /** Bytes of the partition's log (all its segments) on the replica the offsets come from. */
  readonly sizeBytes: number | null;
  /**
   * Where both offsets come from: 'leader' (the answering node leads it), 'follower' (its
   * follower replica: the HW of the leader's last fetch answer, one round trip behind, and the
   * follower's own log start), 'leader-remote' (asked of the leader for this answer), or
   * null (unknown: no leader, or the leader did not answer in time).
   */
  readonly offsetsSource: 'leader' | 'follower' | 'leader-remote' | null;
  /**
   * The offsets' greatest age in whole ms, where they are not the answering node's own: with
   * 'follower', since that node last heard from the leader; with 'leader-remote', since the
   * leader was asked. Absent with 'leader' and null.
   */
  readonly offsetsAgeMs?: number;
  /** While a reassignment is in progress: the replicas it moves the partition to. */
  readonly targetReplicas?: readonly number[];
}

/** GET /v1/topics/{t}, POST /v1/topics (201) and PUT /v1/topics/{t}/configs. */
export interface TopicDescriptionBody {
  readonly name: string;
  readonly topicId: string;
  readonly configs: Readonly<Record<string, string>>;
  readonly partitions: readonly PartitionDescriptionBody[];
}

/** One entry of GET /v1/topics. */
export interface TopicListingBody {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
}

export interface BrokerInfoBody {
  readonly id: number;
  readonly url: string;
  readonly status: 'alive' | 'fenced';
}

/** GET /v1/cluster. clusterId is null until the first controller initialised the cluster. */
export interface ClusterDescriptionBody {
  readonly clusterId: string | null;
  readonly controllerId: number | null;
  readonly brokers: readonly BrokerInfoBody[];
  /** `host:port,…` of the alive nodes for Kafka clients (the same ports; docs/kafka.md). */
  readonly kafkaBootstrap?: string;
}

/** GET /v1/topics/{t}/partitions/{p}/offsets[?timestamp=]. */
export interface PartitionOffsetsBody {
  readonly logStartOffset: number;
  readonly highWatermark: number;
  /** With a timestamp: the first offset whose timestamp is ≥ it (null if none). */
  readonly offset?: number | null;
}

/** A request one node or client sends another over HTTP/2. */
export interface HttpExchangeRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  /** A larger answer body fails the request. */
  readonly responseBytesMax: number;
  /** No answer within this fails the request. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface HttpExchangeResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
}

/**
 * The port an HTTP/2 request goes through: the client's transport implements it, and the
 * composition root hands one to the server for forwarding produce requests to leaders.
 */
export interface HttpExchange {
  /** Resolves with any HTTP status; rejects when there is no answer. */
  request(url: string, request: HttpExchangeRequest): Promise<HttpExchangeResponse>;
  close(): Promise<void>;
}

// ---- Consumer groups (docs/api.md "Consumer groups") ----

/** Partitions of one topic, in a heartbeat's ownedPartitions or an assignment. */
export interface TopicPartitionsBody {
  readonly topic: string;
  readonly partitions: readonly number[];
}

/** GET /v1/groups/{group}/coordinator. */
export interface GroupCoordinatorBody {
  readonly group: string;
  readonly partition: number;
  readonly coordinator: { readonly id: number; readonly url: string };
}

/** POST /v1/groups/{group}/heartbeat: memberEpoch 0 joins, -1 leaves, -2 leaves (static). */
export interface GroupHeartbeatRequestBody {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly instanceId?: string;
  readonly rebalanceTimeoutMs?: number;
  readonly subscribedTopics?: readonly string[];
  readonly subscribedTopicRegex?: string;
  readonly assignor?: 'uniform' | 'range';
  readonly ownedPartitions?: readonly TopicPartitionsBody[];
}

/** The heartbeat's answer; a leave answers only memberId and memberEpoch (-1 or -2). */
export interface GroupHeartbeatResponseBody {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs?: number;
  readonly assignment?: readonly TopicPartitionsBody[];
}

/** One offset of POST /v1/groups/{group}/offsets. */
export interface OffsetCommitEntryBody {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly metadata?: string;
}

export interface OffsetCommitRequestBody {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly offsets: readonly OffsetCommitEntryBody[];
}

export interface OffsetCommitResponseBody {
  readonly offsets: readonly {
    readonly topic: string;
    readonly partition: number;
    readonly error?: { readonly code: ApiErrorCode; readonly message: string };
  }[];
}

/** GET /v1/groups/{group}/offsets: committed offsets only. */
export interface OffsetFetchResponseBody {
  readonly offsets: readonly {
    readonly topic: string;
    readonly partition: number;
    readonly offset: number;
    readonly metadata: string;
  }[];
}

export type GroupStateName = 'empty' | 'stable' | 'reconciling' | 'dead';

/** GET /v1/groups. */
export interface GroupListingBody {
  readonly groups: readonly {
    readonly group: string;
    readonly state: GroupStateName;
    readonly members: number;
    readonly protocol: 'consumer' | 'classic';
  }[];
}

/** One member in GET /v1/groups/{group}. */
export interface GroupMemberBody {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly memberEpoch: number;
  readonly clientHost: string | null;
  readonly subscribedTopics: readonly string[];
  readonly subscribedTopicRegex: string | null;
  readonly assignment: readonly TopicPartitionsBody[];
  /** A classic (Kafka-protocol) member's client.id; null or absent for Rill's protocol. */
  readonly clientId?: string | null;
}

/** One partition in GET /v1/groups/{group}: lag in records and seconds (null when unknown). */
export interface GroupPartitionLagBody {
  readonly topic: string;
  readonly partition: number;
  readonly owner: string | null;
  readonly committedOffset: number | null;
  readonly highWatermark: number | null;
  readonly lag: number | null;
  readonly lagSeconds: number | null;
}

/** GET /v1/groups/{group}. */
export interface GroupDescriptionBody {
  readonly group: string;
  readonly state: GroupStateName;
  readonly protocol: 'consumer' | 'classic';
  readonly groupEpoch: number;
  readonly assignor: string;
  readonly members: readonly GroupMemberBody[];
  readonly offsets: readonly GroupPartitionLagBody[];
}

/** POST /v1/groups/{group}/offsets/reset: `to` is earliest, latest, an offset or a time. */
export interface OffsetResetRequestBody {
  readonly topic: string;
  readonly to: 'earliest' | 'latest' | { readonly offset: number } | { readonly timestamp: number };
  readonly dryRun?: boolean;
}

export interface OffsetResetResponseBody {
  readonly offsets: readonly {
    readonly topic: string;
    readonly partition: number;
    readonly offset: number;
  }[];
}
