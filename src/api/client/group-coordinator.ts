// The way to one consumer group's coordinator: `GET /v1/groups/{group}/coordinator` on any node
// names it; requests then go straight to it, follow 421 NOT_COORDINATOR (to the node the answer
// names, else a new look-up) and wait out 503 COORDINATOR_NOT_AVAILABLE / _LOAD_IN_PROGRESS and
// lost connections with backoff, all within one deadline (coordinatorRetryMs) per request.
import type { Clock, Random } from '../../common/index.ts';
import { backoffDelayMs, type BackoffConfig } from './backoff.ts';
import { ClientError } from './client-error.ts';
import type { MetadataCache } from './metadata-cache.ts';
import { jsonBody, responseError, type Transport, type TransportResponse } from './transport.ts';

export interface GroupCoordinatorConfig {
  readonly groupId: string;
  readonly retryBackoff: BackoffConfig;
  readonly requestTimeoutMs: number; // one HTTP request
  readonly coordinatorRetryMs: number; // all attempts of one request, look-ups included
  readonly responseBytesMax: number; // bound on one answer (a describe of a large group)
}

export interface GroupCoordinatorDeps {
  readonly transport: Transport;
  readonly metadata: MetadataCache;
  readonly clock: Clock;
  readonly random: Random;
}

export interface CoordinatorAddress {
  readonly id: number;
  readonly url: string;
}

/** Codes after which the same request is sent again, to the coordinator found anew. */
const coordinatorRetryCodes = new Set<string>([
  'NOT_COORDINATOR',
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'CLIENT_CONNECTION',
  'CLIENT_TIMEOUT',
]);

export class GroupCoordinator {
  readonly #config: GroupCoordinatorConfig;
  readonly #deps: GroupCoordinatorDeps;
  #coordinator: CoordinatorAddress | null = null;

  constructor(config: GroupCoordinatorConfig, deps: GroupCoordinatorDeps) {
    this.#config = config;
    this.#deps = deps;
  }

  /** The coordinator last found, if any. */
  get coordinator(): CoordinatorAddress | null {
    return this.#coordinator;
  }

  /**
   * Sends `method path` (path below /v1/groups/{group}) to the coordinator and returns the 2xx
   * answer's JSON (null for 204). Throws the answer's ClientError otherwise, or the last
   * retriable one once coordinatorRetryMs has passed; CLIENT_CLOSED when `signal` aborts.
   */
  async request(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<unknown> {
    const deadlineMs = this.#deps.clock.nowMs() + this.#config.coordinatorRetryMs;
    const what = `${method} group ${this.#config.groupId}${path}`;
    for (let attempt = 0; ; attempt += 1) {
      let error: ClientError;
      try {
        const response = await this.#send(method, path, body, signal);
        if (response.status >= 200 && response.status < 300) {
          return response.status === 204 ? null : jsonBody(response, what);
        }
        error = responseError(response, what);
      } catch (raw) {
        if (!(raw instanceof ClientError)) throw raw;
        error = raw;
      }
      if (signal?.aborted === true) throw new ClientError('CLIENT_CLOSED', `${what}: cancelled`);
      if (!coordinatorRetryCodes.has(error.code)) throw error;
      this.#onRetriable(error);
      const delayMs = backoffDelayMs(this.#config.retryBackoff, attempt, this.#deps.random);
      // A 421 that names the coordinator is followed at once, the first time.
      const waitMs = error.code === 'NOT_COORDINATOR' && attempt === 0 ? 0 : delayMs;
      if (this.#deps.clock.nowMs() + waitMs > deadlineMs) throw error;
      await sleep(this.#deps.clock, waitMs, signal);
    }
  }

  /** Forgets the coordinator: the next request looks it up again. */
  invalidate(): void {
    this.#coordinator = null;
  }

  async #send(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<TransportResponse> {
    const coordinator = this.#coordinator ?? (await this.#lookup());
    const request = {
      method,
      path: `${groupPath(this.#config.groupId)}${path}`,
      responseBytesMax: this.#config.responseBytesMax,
      timeoutMs: this.#config.requestTimeoutMs,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      ...(signal === undefined ? {} : { signal }),
    };
    return this.#deps.transport.request(coordinator.url, request);
  }

  /** COORDINATOR_NOT_AVAILABLE while __consumer_offsets is created or leaderless. */
  async #lookup(): Promise<CoordinatorAddress> {
    const path = `${groupPath(this.#config.groupId)}/coordinator`;
    const response = await this.#deps.metadata.requestAny({ method: 'GET', path });
    const what = `find the coordinator of group ${this.#config.groupId}`;
    if (response.status !== 200) throw responseError(response, what);
    const found = parseAddress((jsonBody(response, what) as { coordinator?: unknown }).coordinator);
    if (found === null) throw new ClientError('CLIENT_BAD_RESPONSE', `${what}: no coordinator`);
    this.#coordinator = found;
    return found;
  }

  #onRetriable(error: ClientError): void {
    const named = parseAddress(error.details['coordinator']);
    this.#coordinator = error.code === 'NOT_COORDINATOR' ? named : null;
    if (error.code === 'CLIENT_CONNECTION') void this.#deps.metadata.refreshCluster().catch(noop);
  }
}

/** `/v1/groups/{group}`, the group id escaped. */
export function groupPath(groupId: string): string {
  return `/v1/groups/${encodeURIComponent(groupId)}`;
}

function parseAddress(raw: unknown): CoordinatorAddress | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const { id, url } = raw as { id?: unknown; url?: unknown };
  if (typeof id !== 'number' || typeof url !== 'string') return null;
  return { id, url };
}

/** Waits `ms` on the injected clock; resolves early (without error) when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const cancel = clock.schedule(ms, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function noop(): void {}
