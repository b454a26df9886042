// The follower's side of /internal/v1/replica: the broker's ReplicaTransport over HTTP/2 (one
// h2c connection per leader, shared by every partition followed from it), with the cluster
// secret on every request. A non-200 answer or a malformed one rejects, so the fetcher retries.
import type {
  EpochEndOffsetAnswer,
  EpochEndOffsetCall,
  ReplicaFetchAnswer,
  ReplicaFetchCall,
  ReplicaTransport,
} from '../broker/index.ts';
import { H2Transport, type TransportResponse } from './client/index.ts';
import { batchContentType } from './wire.ts';

import { clusterSecretHeader as clusterSecretHeaderName } from '../common/index.ts';

export interface HttpReplicaTransportConfig {
  readonly clusterSecret: string | null;
  /** Largest fetch answer accepted; above the fetch's maxBytes plus one batch. */
  readonly responseBytesMax: number;
  /** Beyond the leader's long-poll wait, how long an answer may take. */
  readonly requestTimeoutMs: number;
}

export class HttpReplicaTransport implements ReplicaTransport {
  readonly #config: HttpReplicaTransportConfig;
  readonly #http = new H2Transport({ connectionsMax: 1024 });

  constructor(config: HttpReplicaTransportConfig) {
    this.#config = config;
  }

  async epochEndOffset(leaderUrl: string, call: EpochEndOffsetCall): Promise<EpochEndOffsetAnswer> {
    const response = await this.#post(leaderUrl, '/internal/v1/replica/epoch-end-offset', call, 0);
    return jsonAnswer(response) as EpochEndOffsetAnswer;
  }

  async fetch(leaderUrl: string, call: ReplicaFetchCall): Promise<ReplicaFetchAnswer> {
    const response = await this.#post(
      leaderUrl,
      '/internal/v1/replica/fetch',
      call,
      call.maxWaitMs,
    );
    if (!isBatchResponse(response)) return jsonAnswer(response) as ReplicaFetchAnswer;
    return {
      kind: 'records',
      records: response.body,
      nextOffset: headerInt(response, 'rill-next-offset'),
      highWatermark: headerInt(response, 'rill-high-watermark'),
      logEndOffset: headerInt(response, 'rill-log-end-offset'),
      leaderEpoch: headerInt(response, 'rill-leader-epoch'),
    };
  }

  close(): Promise<void> {
    return this.#http.close();
  }

  #post(url: string, path: string, body: unknown, waitMs: number): Promise<TransportResponse> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#config.clusterSecret !== null) {
      headers[clusterSecretHeaderName] = this.#config.clusterSecret;
    }
    return this.#http.request(url, {
      method: 'POST',
      path,
      headers,
      body: JSON.stringify(body),
      responseBytesMax: this.#config.responseBytesMax,
      timeoutMs: waitMs + this.#config.requestTimeoutMs,
    });
  }
}

function isBatchResponse(response: TransportResponse): boolean {
  return response.status === 200 && (response.headers['content-type'] ?? '') === batchContentType;
}

function jsonAnswer(response: TransportResponse): unknown {
  const text = response.body.toString('utf8');
  if (response.status !== 200) {
    throw new Error(`replica request answered ${response.status}: ${text.slice(0, 300)}`);
  }
  const answer: unknown = JSON.parse(text);
  const kind = (answer as { kind?: unknown } | null)?.kind;
  if (typeof kind !== 'string')
    throw new Error(`replica answer without a kind: ${text.slice(0, 300)}`);
  return answer;
}

function headerInt(response: TransportResponse, name: string): number {
  const value = Number(response.headers[name]);
  if (!Number.isSafeInteger(value)) throw new Error(`replica fetch answer lacks header ${name}`);
  return value;
}
