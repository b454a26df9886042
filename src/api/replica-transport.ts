// The follower's side of /internal/v1/replica: the broker's ReplicaTransport over HTTP/2 (one
// h2c connection per leader, shared by the session and the epoch requests), with the cluster
// secret on every request. A non-200 answer or a malformed one rejects, so the fetcher retries.
import type {
  EpochEndOffsetAnswer,
  EpochEndOffsetCall,
  SessionFetchAnswer,
  SessionFetchCall,
  ReplicaTransport,
} from '../broker/index.ts';
import { H2Transport, type TransportResponse } from './client/index.ts';
import { decodeSessionAnswer, replicaSessionContentType } from './replica-session-wire.ts';

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

  async sessionFetch(
    leaderUrl: string,
    call: SessionFetchCall,
    signal?: AbortSignal,
  ): Promise<SessionFetchAnswer> {
    const path = '/internal/v1/replica/session-fetch';
    const response = await this.#post(leaderUrl, path, call, call.maxWaitMs, signal);
    const type = response.headers['content-type'] ?? '';
    if (response.status !== 200 || type !== replicaSessionContentType) {
      return jsonAnswer(response) as SessionFetchAnswer;
    }
    // The header's fields were written by the leader's route from its typed answer.
    return { kind: 'ok', ...decodeSessionAnswer(response.body) } as SessionFetchAnswer;
  }

  close(): Promise<void> {
    return this.#http.close();
  }

  #post(
    url: string,
    path: string,
    body: unknown,
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<TransportResponse> {
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
      ...(signal === undefined ? {} : { signal }),
    });
  }
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
