// The client's view of the cluster: broker id → URL, and per topic its partitions' leaders and
// leader epochs, read from any broker (`GET /v1/cluster`, `GET /v1/topics/{t}`). Entries expire
// after metadataMaxAgeMs and are refreshed at once after NOT_LEADER_OR_FOLLOWER and its kin;
// concurrent refreshes of one topic share one request. At most topicsMax topics are cached.
import { assert, type Clock } from '../../common/index.ts';
import { ClientError } from './client-error.ts';
import { jsonBody, responseError, type Transport, type TransportResponse } from './transport.ts';

export interface PartitionMetadata {
  readonly partition: number;
  readonly leaderId: number | null;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

export interface TopicMetadata {
  readonly name: string;
  readonly partitions: readonly PartitionMetadata[];
  readonly fetchedAtMs: number;
}

export interface BrokerInfo {
  readonly id: number;
  readonly url: string;
  readonly status: string;
}

export interface LeaderAddress {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly url: string;
}

export interface MetadataConfig {
  readonly bootstrapUrls: readonly string[];
  readonly metadataMaxAgeMs: number; // metadata.max.age.ms
  readonly topicsMax: number; // topics cached at once
  readonly requestTimeoutMs: number;
  readonly responseBytesMax: number; // bound on a metadata answer
}

export const defaultMetadataConfig: Omit<MetadataConfig, 'bootstrapUrls'> = {
  metadataMaxAgeMs: 5 * 60_000,
  topicsMax: 10_000,
  requestTimeoutMs: 30_000,
  responseBytesMax: 16 * 1024 * 1024,
};

export class MetadataCache {
  readonly #config: MetadataConfig;
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #topics = new Map<string, TopicMetadata>();
  readonly #refreshing = new Map<string, Promise<TopicMetadata>>();
  #brokers = new Map<number, BrokerInfo>();
  #clusterFetchedAtMs = -Infinity;
  #clusterRefresh: Promise<void> | null = null;
  /** Rotates the broker asked for metadata, so one dead node does not stall every refresh. */
  #nextUrl = 0;

  constructor(config: MetadataConfig, deps: { transport: Transport; clock: Clock }) {
    assert(config.bootstrapUrls.length > 0, 'at least one bootstrap URL is needed');
    assert(config.topicsMax > 0, 'topicsMax must be > 0');
    this.#config = config;
    this.#transport = deps.transport;
    this.#clock = deps.clock;
  }

  /** The topic's partitions; fetched when missing, expired or `refresh` is set. */
  async topic(name: string, refresh = false): Promise<TopicMetadata> {
    const cached = this.#topics.get(name);
    const fresh =
      cached !== undefined &&
      this.#clock.nowMs() - cached.fetchedAtMs < this.#config.metadataMaxAgeMs;
    if (fresh && !refresh) return cached;
    const pending = this.#refreshing.get(name);
    if (pending !== undefined) return pending;
    const refreshing = this.#fetchTopic(name).finally(() => this.#refreshing.delete(name));
    this.#refreshing.set(name, refreshing);
    return refreshing;
  }

  /** The cached topic, if any, without I/O: the producer's fast path. */
  cachedTopic(name: string): TopicMetadata | undefined {
    return this.#topics.get(name);
  }

  /** Where to send a partition's produce and fetch requests. LEADER_NOT_AVAILABLE if none. */
  async leader(topic: string, partition: number): Promise<LeaderAddress> {
    const metadata = await this.topic(topic);
    const entry = metadata.partitions.find((p) => p.partition === partition);
    if (entry === undefined) {
      throw new ClientError(
        'UNKNOWN_TOPIC_OR_PARTITION',
        `${topic} has no partition ${partition} (it has ${metadata.partitions.length})`,
      );
    }
    if (entry.leaderId === null) {
      throw new ClientError('LEADER_NOT_AVAILABLE', `${topic}/${partition} has no leader yet`);
    }
    const url = await this.brokerUrl(entry.leaderId);
    return { leaderId: entry.leaderId, leaderEpoch: entry.leaderEpoch, url };
  }

  /** A broker's URL, refreshing the cluster view once if the id is unknown. */
  async brokerUrl(id: number): Promise<string> {
    let broker = this.#brokers.get(id);
    if (broker === undefined) {
      await this.refreshCluster();
      broker = this.#brokers.get(id);
    }
    if (broker === undefined) {
      throw new ClientError('LEADER_NOT_AVAILABLE', `broker ${id} is not in the cluster view`);
    }
    return broker.url;
  }

  /** Forgets a topic's leaders after an error that says they moved. */
  invalidate(topic: string): void {
    this.#topics.delete(topic);
  }

  async brokers(): Promise<readonly BrokerInfo[]> {
    await this.refreshCluster();
    return [...this.#brokers.values()];
  }

  async refreshCluster(): Promise<void> {
    if (this.#clusterRefresh !== null) return this.#clusterRefresh;
    this.#clusterRefresh = this.#fetchCluster().finally(() => {
      this.#clusterRefresh = null;
    });
    return this.#clusterRefresh;
  }

  /**
   * Sends a request to some broker, trying each known one in turn until one answers at all
   * (any HTTP status). CLIENT_NO_BROKER when none does.
   */
  async requestAny(request: {
    method: 'GET' | 'POST' | 'PUT' | 'DELETE';
    path: string;
    body?: string;
  }): Promise<TransportResponse> {
    const urls = this.#candidateUrls();
    let lastError: unknown = null;
    for (let i = 0; i < urls.length; i += 1) {
      const url = urls[(this.#nextUrl + i) % urls.length] as string;
      try {
        const response = await this.#transport.request(url, {
          ...request,
          headers: request.body === undefined ? {} : { 'content-type': 'application/json' },
          responseBytesMax: this.#config.responseBytesMax,
          timeoutMs: this.#config.requestTimeoutMs,
        });
        this.#nextUrl = (this.#nextUrl + i) % urls.length;
        return response;
      } catch (error) {
        if (!(error instanceof ClientError) || error.code !== 'CLIENT_CONNECTION') throw error;
        lastError = error;
      }
    }
    this.#nextUrl += 1;
    throw new ClientError('CLIENT_NO_BROKER', `no broker answered (${urls.join(', ')})`, {
      cause: lastError,
    });
  }

  #candidateUrls(): string[] {
    const known = [...this.#brokers.values()].filter((b) => b.status !== 'fenced');
    const urls = new Set([...known.map((b) => b.url), ...this.#config.bootstrapUrls]);
    return [...urls];
  }

  async #fetchCluster(): Promise<void> {
    const response = await this.requestAny({ method: 'GET', path: '/v1/cluster' });
    if (response.status !== 200) throw responseError(response, 'describe cluster');
    const body = jsonBody(response, 'describe cluster') as { brokers?: unknown };
    if (!Array.isArray(body.brokers)) {
      throw new ClientError('CLIENT_BAD_RESPONSE', 'describe cluster: no brokers list');
    }
    const brokers = new Map<number, BrokerInfo>();
    for (const raw of body.brokers as Record<string, unknown>[]) {
      if (typeof raw.id !== 'number' || typeof raw.url !== 'string') continue;
      brokers.set(raw.id, { id: raw.id, url: raw.url, status: String(raw.status ?? 'alive') });
    }
    this.#brokers = brokers;
    this.#clusterFetchedAtMs = this.#clock.nowMs();
  }

  async #fetchTopic(name: string): Promise<TopicMetadata> {
    const clusterAgeMs = this.#clock.nowMs() - this.#clusterFetchedAtMs;
    if (clusterAgeMs >= this.#config.metadataMaxAgeMs) await this.refreshCluster();
    // Leaders only: local=true keeps the answering node from asking other leaders for offsets.
    const path = `/v1/topics/${encodeURIComponent(name)}?local=true`;
    const response = await this.requestAny({ method: 'GET', path });
    if (response.status !== 200) throw responseError(response, `describe topic ${name}`);
    const metadata = parseTopic(jsonBody(response, `describe topic ${name}`), this.#clock.nowMs());
    this.#topics.delete(name);
    if (this.#topics.size >= this.#config.topicsMax) {
      const oldest = this.#topics.keys().next();
      if (oldest.done !== true) this.#topics.delete(oldest.value);
    }
    this.#topics.set(name, metadata);
    return metadata;
  }
}

function parseTopic(raw: unknown, nowMs: number): TopicMetadata {
  const body = raw as { name?: unknown; partitions?: unknown };
  if (typeof body.name !== 'string' || !Array.isArray(body.partitions)) {
    throw new ClientError('CLIENT_BAD_RESPONSE', 'describe topic: missing name or partitions');
  }
  const partitions = (body.partitions as Record<string, unknown>[]).map((p) => ({
    partition: Number(p.partition),
    leaderId: leaderIdOf(p.leader),
    leaderEpoch: typeof p.leaderEpoch === 'number' ? p.leaderEpoch : -1,
    replicas: Array.isArray(p.replicas) ? p.replicas.map(Number) : [],
    isr: Array.isArray(p.isr) ? p.isr.map(Number) : [],
  }));
  partitions.sort((a, b) => a.partition - b.partition);
  return { name: body.name, partitions, fetchedAtMs: nowMs };
}

function leaderIdOf(leader: unknown): number | null {
  if (typeof leader === 'number') return leader >= 0 ? leader : null;
  if (typeof leader === 'object' && leader !== null && 'id' in leader) {
    return leaderIdOf((leader as { id: unknown }).id);
  }
  return null;
}
