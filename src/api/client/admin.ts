// Topic and cluster administration over the JSON routes of API.md. Metadata requests go to any
// broker (the controller forwards writes where it must); each call maps a non-2xx answer to its
// ClientError code, e.g. TOPIC_ALREADY_EXISTS or UNKNOWN_TOPIC_OR_PARTITION.
import { ClientError } from './client-error.ts';
import type {
  ClusterDescriptionBody,
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

export class Admin {
  readonly #metadata: MetadataCache;
  readonly #transport: Transport;

  constructor(deps: { metadata: MetadataCache; transport: Transport }) {
    this.#metadata = deps.metadata;
    this.#transport = deps.transport;
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

  /** The partition's log start offset and high watermark, from its leader. */
  async offsets(topic: string, partition: number, timestampMs?: number): Promise<PartitionOffsets> {
    const query = timestampMs === undefined ? '' : `?timestamp=${timestampMs}`;
    const path = `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/offsets${query}`;
    const what = `offsets of ${topic}/${partition}`;
    // The high watermark is the leader's: ask it, following one leader move if need be.
    for (let attempt = 0; ; attempt += 1) {
      const leader = await this.#metadata.leader(topic, partition);
      const response = await this.#transport.request(leader.url, {
        method: 'GET',
        path,
        responseBytesMax: 64 * 1024,
        timeoutMs: 30_000,
      });
      if (response.status === 421 && attempt === 0) {
        this.#metadata.invalidate(topic);
        continue;
      }
      return expectJson(response, what) as PartitionOffsets;
    }
  }
}

function expectJson(response: TransportResponse, what: string): unknown {
  if (response.status < 200 || response.status >= 300) throw responseError(response, what);
  return jsonBody(response, what);
}
