// The broker's request and answer shapes: what the API passes in (produce, fetch, topic
// creation) and gets back (results, descriptions, gauges). Plain data, no behaviour; the API
// routes check the descriptions against the JSON bodies of src/api/wire.ts.
import type { LogReadResult } from '../log/index.ts';
import type { AppendResult } from './partition.ts';

export type Acks = 0 | 1 | 'all';

export interface ProduceRequest {
  readonly topic: string;
  readonly partition: number;
  /** One or more RecordBatch v2, as a client encoded them. */
  readonly batches: Uint8Array;
  readonly acks: Acks;
  readonly timeoutMs: number;
  /** Aborts when the client goes away: nothing is appended after, an acks=all wait ends. */
  readonly signal?: AbortSignal;
}

/** acks=0 answers before the append: offsets are then -1, as in Kafka. */
export interface ProduceResult extends AppendResult {
  readonly topic: string;
  readonly partition: number;
}

export interface FetchRequest {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly maxBytes: number;
  readonly maxWaitMs: number;
  /** Aborts when the client goes away: a parked fetch leaves the purgatory at once. */
  readonly signal?: AbortSignal;
}

export interface FetchResult {
  /** Whole batches; the first may start before `offset`. Call read.release() once sent. */
  readonly read: LogReadResult;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly leaderEpoch: number;
}

export interface CreateTopicRequest {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
}

export type OffsetsSource = 'leader' | 'follower' | 'leader-remote';

export interface PartitionDescription {
  readonly partition: number;
  readonly leader: number | null;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** Known where this node hosts a replica of the partition (see offsetsSource); else null. */
  readonly logStartOffset: number | null;
  readonly highWatermark: number | null;
  /** Bytes of the partition's log on the replica the offsets come from; null when unknown. */
  readonly sizeBytes: number | null;
  /**
   * Where logStartOffset and highWatermark come from: this node's leader replica, its follower
   * replica (the HW of the leader's last fetch answer, the follower's own log start), the
   * leader asked over the network ('leader-remote', set by the API), or null when unknown.
   */
  readonly offsetsSource: OffsetsSource | null;
  /**
   * How old the offsets may be, in whole ms: with 'follower', how long ago this node last heard
   * from the leader; with 'leader-remote', the time since the leader was asked. Absent with
   * 'leader' (current) and null (unknown).
   */
  readonly offsetsAgeMs?: number;
  /** While a reassignment is in progress: the replicas it moves the partition to. */
  readonly targetReplicas?: readonly number[];
}

export interface TopicDescription {
  readonly name: string;
  readonly topicId: string;
  readonly configs: Record<string, string>;
  readonly partitions: readonly PartitionDescription[];
}

/** One entry of listTopics(). */
export interface TopicListing {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
}

export interface ClusterDescription {
  readonly clusterId: string | null;
  readonly controllerId: number | null;
  readonly brokers: readonly { id: number; url: string; status: 'alive' | 'fenced' }[];
}

export interface BrokerGauges {
  readonly localPartitions: number;
  readonly leaderPartitions: number;
  readonly waitingFetches: number;
  readonly waitingProduces: number;
}
