// How a node reaches the controller: `POST /internal/v1/metadata/propose` with the cluster
// secret, body `{command}`, answered `200 {index, result}` once the controller applied the
// command, or an error body `{error: {code, message, leaderId?}}` (a RAFT_* code). The real
// channel holds one undici H2CClient per controller URL, so forwarding costs no handshake.
import { H2CClient } from 'undici';
import { assert, clusterSecretHeader } from '../common/index.ts';
import type { ControllerRequests } from './controller-requests.ts';

export const metadataProposePath = '/internal/v1/metadata/propose';
/** Forwarded proposals in flight per controller connection (HTTP/2 streams). */
const forwardedInflightMax = 64;

export type ForwardedAnswer =
  | { readonly ok: true; readonly index: number; readonly result: unknown }
  | {
      readonly ok: false;
      readonly code: string;
      readonly message: string;
      readonly leaderId: number | null;
    };

export interface ControllerChannel {
  /**
   * Sends the command to the node at `url`. Rejects with `{code: 'ECONNREFUSED'}`-style errors
   * when it could not be sent; then the command was surely not proposed.
   */
  propose(url: string, command: unknown): Promise<ForwardedAnswer>;
  close(): Promise<void>;
}

export interface HttpControllerChannelConfig {
  readonly secret: string | null;
  readonly requestTimeoutMs: number;
  /** Controller URLs with an open connection; the voters' URLs in practice. */
  readonly connectionsMax: number;
}

export class HttpControllerChannel implements ControllerChannel, ControllerRequests {
  readonly #config: HttpControllerChannelConfig;
  readonly #clients = new Map<string, H2CClient>();

  constructor(config: HttpControllerChannelConfig) {
    assert(config.requestTimeoutMs > 0, 'requestTimeoutMs must be positive');
    assert(config.connectionsMax > 0, 'connectionsMax must be positive');
    this.#config = config;
  }

  async propose(url: string, command: unknown): Promise<ForwardedAnswer> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#config.secret !== null) headers[clusterSecretHeader] = this.#config.secret;
    const response = await this.#client(url).request({
      origin: url,
      path: metadataProposePath,
      method: 'POST',
      headers,
      body: JSON.stringify({ command }),
      headersTimeout: this.#config.requestTimeoutMs,
      bodyTimeout: this.#config.requestTimeoutMs,
      // undici 7 holds a non-idempotent request (a POST) on an HTTP/2 connection until every
      // other stream on it finished: heartbeats, admin changes and ISR changes would queue
      // behind each other. undici re-sends only requests that never left, so this is safe.
      idempotent: true,
    });
    const body = (await response.body.json()) as {
      index?: number;
      result?: unknown;
      error?: { code?: string; message?: string; leaderId?: number | null };
    };
    if (response.statusCode === 200 && typeof body.index === 'number') {
      return { ok: true, index: body.index, result: body.result };
    }
    return {
      ok: false,
      code: body.error?.code ?? `HTTP_${response.statusCode}`,
      message: body.error?.message ?? `HTTP ${response.statusCode}`,
      leaderId: typeof body.error?.leaderId === 'number' ? body.error.leaderId : null,
    };
  }

  /** One POST to an internal route of the node at `url` (heartbeats, reports). */
  async post(
    url: string,
    path: string,
    body: unknown,
    timeoutMs: number,
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#config.secret !== null) headers[clusterSecretHeader] = this.#config.secret;
    const response = await this.#client(url).request({
      origin: url,
      path,
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      idempotent: true,
    });
    return { status: response.statusCode, body: await response.body.json() };
  }

  async close(): Promise<void> {
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(clients.map((client) => client.destroy()));
  }

  #client(url: string): H2CClient {
    let client = this.#clients.get(url);
    if (client === undefined) {
      if (this.#clients.size >= this.#config.connectionsMax) {
        const [oldestUrl, oldest] = this.#clients.entries().next().value as [string, H2CClient];
        this.#clients.delete(oldestUrl);
        void oldest.destroy();
      }
      client = new H2CClient(url, {
        pipelining: forwardedInflightMax,
        headersTimeout: this.#config.requestTimeoutMs,
        bodyTimeout: this.#config.requestTimeoutMs,
      });
      this.#clients.set(url, client);
    }
    return client;
  }
}
