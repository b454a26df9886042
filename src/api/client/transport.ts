// The client's network port and its HTTP/2 implementation: one undici H2CClient (one h2c
// connection) per broker URL, with enlarged flow-control windows, a bound on concurrent
// streams, and a byte bound on every response body (undici's maxResponseSize covers HTTP/1
// only, so the body is counted here). Broker error bodies become ClientErrors.
import { H2CClient, errors as undiciErrors, type Client } from 'undici';
import { assert } from '../../common/index.ts';
import type { HttpExchangeRequest, HttpExchangeResponse } from '../wire.ts';
import { ClientError, isBrokerErrorCode } from './client-error.ts';

/** What the client sends: the node-to-node exchange's request (wire.ts). */
export type TransportRequest = HttpExchangeRequest;

export interface TransportResponse extends HttpExchangeResponse {
  /**
   * The body as it arrived (HTTP/2 DATA frames), when the transport kept it so: a decoder that
   * reads chunks (decodeBatchChunks) skips the copy that joining them into `body` costs.
   */
  readonly chunks?: readonly Buffer[];
}

/** The port the producer, consumer and admin speak through; tests substitute a fake. */
export interface Transport {
  /** Resolves with any HTTP status; rejects with CLIENT_CONNECTION, CLIENT_TIMEOUT, … */
  request(url: string, request: TransportRequest): Promise<TransportResponse>;
  close(): Promise<void>;
}

export interface H2TransportConfig {
  readonly connectionsMax: number; // distinct broker URLs kept open
  readonly streamsPerConnectionMax: number; // concurrent HTTP/2 streams per broker
  readonly streamWindowBytes: number; // HTTP/2 initial stream window
  readonly connectionWindowBytes: number; // HTTP/2 connection window
}

// Measured on this kind of machine: 16 MiB / 64 MiB windows move ~4x the bytes of the defaults.
export const defaultH2TransportConfig: H2TransportConfig = {
  connectionsMax: 64,
  streamsPerConnectionMax: 100,
  streamWindowBytes: 16 * 1024 * 1024,
  connectionWindowBytes: 64 * 1024 * 1024,
};

export class H2Transport implements Transport {
  readonly #config: H2TransportConfig;
  /** origin → client; insertion order is the eviction order once connectionsMax is reached. */
  readonly #clients = new Map<string, H2CClient>();
  #closed = false;

  constructor(config: Partial<H2TransportConfig> = {}) {
    this.#config = { ...defaultH2TransportConfig, ...config };
    assert(this.#config.connectionsMax > 0, 'connectionsMax must be > 0');
  }

  async request(url: string, request: TransportRequest): Promise<TransportResponse> {
    if (this.#closed) throw new ClientError('CLIENT_CLOSED', 'the transport is closed');
    const client = this.#clientFor(url);
    const timeoutMs = Math.max(1, Math.ceil(request.timeoutMs));
    // One controller aborted by the timeout or the caller's signal: AbortSignal.any and
    // AbortSignal.timeout cost ~0.2 ms per request in profiles of catch-up consume.
    const controller = new AbortController();
    const signal = controller.signal;
    const abort = (): void => controller.abort();
    const timer = setTimeout(abort, timeoutMs);
    timer.unref();
    if (request.signal?.aborted === true) controller.abort();
    request.signal?.addEventListener('abort', abort, { once: true });
    try {
      const response = await client.request({
        method: request.method,
        path: request.path,
        headers: request.headers ?? {},
        body: request.body ?? null,
        signal,
        // undici holds a non-idempotent request (a POST) until every other stream on the
        // connection finished, and a blocking one stalls later requests: either would put a
        // produce behind a long-polling fetch and allow one produce in flight per broker.
        // Retries are the producer's own decision, so neither protection is wanted here.
        idempotent: true,
        blocking: false,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const chunks = await readBounded(response.body, request.responseBytesMax, url);
      return chunkedResponse(response.statusCode, flatHeaders(response.headers), chunks);
    } catch (error) {
      throw toClientError(error, url, request, signal);
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', abort);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.all(clients.map((client) => client.close()));
  }

  #clientFor(url: string): H2CClient {
    const origin = new URL(url).origin;
    const existing = this.#clients.get(origin);
    if (existing !== undefined) return existing;
    if (this.#clients.size >= this.#config.connectionsMax) {
      const [oldestOrigin, oldest] = this.#clients.entries().next().value ?? [];
      if (oldestOrigin !== undefined && oldest !== undefined) {
        this.#clients.delete(oldestOrigin);
        // Closing waits for the streams in flight; nobody awaits it, so report only to stderr.
        oldest.close().catch((error: unknown) => console.error('rill client: close', error));
      }
    }
    // H2CClient passes these through to Client; its own option type does not list the windows.
    const options: H2CClient.Options &
      Pick<Client.Options, 'initialWindowSize'> &
      Pick<Client.Options, 'connectionWindowSize'> = {
      maxConcurrentStreams: this.#config.streamsPerConnectionMax,
      pipelining: this.#config.streamsPerConnectionMax,
      initialWindowSize: this.#config.streamWindowBytes,
      connectionWindowSize: this.#config.connectionWindowBytes,
    };
    const client = new H2CClient(origin, options);
    this.#clients.set(origin, client);
    return client;
  }
}

/** A response whose `body` joins the chunks only when first asked for. */
function chunkedResponse(
  status: number,
  headers: Record<string, string | undefined>,
  chunks: readonly Buffer[],
): TransportResponse {
  let joined: Buffer | null = null;
  return {
    status,
    headers,
    chunks,
    get body(): Buffer {
      joined ??= chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      return joined;
    },
  };
}

async function readBounded(
  body: AsyncIterable<Buffer> & { destroy(error?: Error): unknown },
  bytesMax: number,
  url: string,
): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > bytesMax) {
      const error = new ClientError(
        'CLIENT_RESPONSE_TOO_LARGE',
        `response from ${url} exceeds ${bytesMax} bytes`,
      );
      body.destroy(error);
      throw error;
    }
    chunks.push(chunk);
  }
  return chunks;
}

function flatHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function toClientError(
  error: unknown,
  url: string,
  request: TransportRequest,
  signal: AbortSignal,
): ClientError {
  if (error instanceof ClientError) return error;
  const where = `${request.method} ${url}${request.path}`;
  if (request.signal?.aborted === true) {
    return new ClientError('CLIENT_CLOSED', `${where} was cancelled`, { cause: error });
  }
  const timedOut =
    signal.aborted ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError;
  if (timedOut) {
    return new ClientError('CLIENT_TIMEOUT', `${where}: no answer in ${request.timeoutMs} ms`, {
      cause: error,
    });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new ClientError('CLIENT_CONNECTION', `${where}: ${reason}`, { cause: error });
}

/** The ClientError a non-2xx answer stands for, from API.md's `{error: {code, message}}`. */
export function responseError(response: TransportResponse, what: string): ClientError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(response.body.toString('utf8'));
  } catch (cause) {
    return new ClientError('UNKNOWN_SERVER_ERROR', `${what}: HTTP ${response.status}`, { cause });
  }
  const error = (parsed as { error?: unknown } | null)?.error;
  if (typeof error !== 'object' || error === null) {
    return new ClientError('UNKNOWN_SERVER_ERROR', `${what}: HTTP ${response.status}`);
  }
  const { code, message, ...details } = error as Record<string, unknown>;
  const text = `${what}: ${typeof message === 'string' ? message : `HTTP ${response.status}`}`;
  if (typeof code === 'string' && isBrokerErrorCode(code)) {
    return new ClientError(code, text, { details: { ...details, status: response.status } });
  }
  return new ClientError('UNKNOWN_SERVER_ERROR', text, {
    details: { ...details, status: response.status, code },
  });
}

/** Parses a JSON body, or fails with CLIENT_BAD_RESPONSE. */
export function jsonBody(response: TransportResponse, what: string): unknown {
  try {
    return JSON.parse(response.body.toString('utf8'));
  } catch (cause) {
    throw new ClientError('CLIENT_BAD_RESPONSE', `${what}: the answer is not JSON`, { cause });
  }
}
