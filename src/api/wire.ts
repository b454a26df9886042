// What the node's HTTP/2 server and the client share, and the only api module the client
// imports: the error catalog and error body, the JSON bodies of API.md, the binary record
// wire (a body of whole RecordBatch v2, docs/format.md, with fetch headers), Kafka's key
// partitioning, and the one HTTP exchange port both sides send through.
export {
  apiErrorCatalog,
  apiErrorCodes,
  isApiErrorCode,
  retryAfterSeconds,
  type ApiErrorCode,
  type ApiErrorEntry,
  type ErrorBody,
} from './errors.ts';
export { murmur2, partitionForKey, toPositive } from './murmur2.ts';

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
  /**
   * Where both offsets come from: 'leader' (the answering node leads it), 'follower' (its
   * follower replica: the HW of the leader's last fetch answer, one round trip behind, and the
   * follower's own log start), 'leader-remote' (asked of the leader for this answer), or
   * null (unknown: no leader, or the leader did not answer in time).
   */
  readonly offsetsSource: 'leader' | 'follower' | 'leader-remote' | null;
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
