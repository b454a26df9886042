// RaftTransport over the nodes' HTTP/2 (h2c) ports. Outbound: one bounded queue per peer
// (drop-oldest when full, counted), drained by up to `inflightRequestCountMax` pipelined
// `POST /internal/v1/raft/messages` requests on one undici H2CClient connection; every request
// coalesces whatever queued while the previous ones were in flight. Inbound: `handleRequest` is
// framework-agnostic (body + headers in, status + JSON body out) for the API layer to mount.
// Wire format: ./raft-message-codec.ts. Cluster secret: header `x-rill-cluster-secret`.
import { createHash, timingSafeEqual } from 'node:crypto';
import { H2CClient } from 'undici';
import { assert, BoundedQueue, clusterSecretHeader, type Clock } from '../common/index.ts';
import {
  assertOutgoing,
  decodeRaftMessages,
  encodeRaftMessages,
  estimateMessageBytes,
  RaftWireError,
} from './raft-message-codec.ts';
import type { RaftTransport } from './raft-transport.ts';
import type { RaftMessage, RaftNodeId } from './types.ts';

export const raftMessagesPath = '/internal/v1/raft/messages';

export interface HttpRaftTransportConfig {
  readonly nodeId: RaftNodeId;
  /** Base URL (`http://host:port`) of every other node this one talks to. */
  readonly peers: ReadonlyMap<RaftNodeId, string>;
  /** Sent with every request and required on every inbound one; null disables the check. */
  readonly secret: string | null;
  /** Messages waiting per peer; past it the oldest is dropped. */
  readonly queueCountMax: number;
  /** Estimated bytes waiting per peer; past it the oldest are dropped (the newest always fits). */
  readonly queueBytesMax: number;
  /** Messages per request. */
  readonly batchCountMax: number;
  /** Estimated body bytes per request (a single larger message still goes alone). */
  readonly batchBytesMax: number;
  /** Requests in flight per peer (HTTP/2 streams on one connection). */
  readonly inflightRequestCountMax: number;
  /** Messages accepted in one inbound request. */
  readonly inboundMessageCountMax: number;
  readonly requestTimeoutMs: number;
  /** Pause after a failed request before the next one to that peer. */
  readonly retryBackoffMs: number;
}

export interface HttpRaftTransportDeps {
  readonly clock: Clock;
}

/** Counters for metrics; they only grow. */
export interface RaftTransportCounters {
  sentMessages: number;
  sentRequests: number;
  droppedMessages: number;
  failedRequests: number;
  receivedMessages: number;
  refusedRequests: number;
}

export interface RaftHttpResponse {
  readonly status: number;
  readonly body: unknown;
}

export type RaftRequestHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

interface PeerLink {
  readonly nodeId: RaftNodeId;
  url: string;
  client: H2CClient | null;
  readonly queue: BoundedQueue<RaftMessage>;
  /** Sum of estimateMessageBytes over the queue. */
  queuedBytes: number;
  inflightRequestCount: number;
  retryAtMs: number;
  cancelRetry: (() => void) | null;
  flushScheduled: boolean;
  lastError: string | null;
}

export class HttpRaftTransport implements RaftTransport {
  readonly counters: RaftTransportCounters = {
    sentMessages: 0,
    sentRequests: 0,
    droppedMessages: 0,
    failedRequests: 0,
    receivedMessages: 0,
    refusedRequests: 0,
  };
  readonly #config: HttpRaftTransportConfig;
  readonly #deps: HttpRaftTransportDeps;
  readonly #peers = new Map<RaftNodeId, PeerLink>();
  readonly #secretDigest: Buffer | null;
  #handler: ((message: RaftMessage) => void) | null = null;
  #closed = false;

  constructor(config: HttpRaftTransportConfig, deps: HttpRaftTransportDeps) {
    for (const key of ['queueCountMax', 'batchCountMax', 'inflightRequestCountMax'] as const) {
      assert(Number.isInteger(config[key]) && config[key] > 0, `${key} must be a positive integer`);
    }
    assert(config.batchBytesMax > 0, 'batchBytesMax must be positive');
    assert(config.queueBytesMax > 0, 'queueBytesMax must be positive');
    assert(config.inboundMessageCountMax > 0, 'inboundMessageCountMax must be positive');
    this.#config = config;
    this.#deps = deps;
    this.#secretDigest = config.secret === null ? null : digest(config.secret);
    for (const [nodeId, url] of config.peers) this.setPeer(nodeId, url);
  }

  send(message: RaftMessage): void {
    assertOutgoing(message, this.#config.nodeId);
    const peer = this.#peers.get(message.to);
    if (peer === undefined || this.#closed) {
      this.counters.droppedMessages += 1;
      return;
    }
    const bytes = estimateMessageBytes(message);
    // Newer messages carry newer state; Raft re-sends whatever a dropped one carried.
    while (
      peer.queue.isFull ||
      (peer.queue.length > 0 && peer.queuedBytes + bytes > this.#config.queueBytesMax)
    ) {
      this.#shift(peer);
      this.counters.droppedMessages += 1;
    }
    assert(peer.queue.tryPush(message), 'queue is full after a drop');
    peer.queuedBytes += bytes;
    if (!peer.flushScheduled) {
      peer.flushScheduled = true;
      // Every message of one Ready is queued before the first request leaves.
      queueMicrotask(() => {
        peer.flushScheduled = false;
        this.#flush(peer);
      });
    }
  }

  onMessage(handler: (message: RaftMessage) => void): void {
    assert(this.#handler === null, 'a message handler is already registered');
    this.#handler = handler;
  }

  setPeer(nodeId: RaftNodeId, url: string): void {
    assert(nodeId !== this.#config.nodeId, 'a node is not its own peer');
    const base = new URL(url);
    assert(base.protocol === 'http:', `peer ${nodeId} URL ${url} is not http (h2c)`);
    const existing = this.#peers.get(nodeId);
    if (existing !== undefined) {
      if (existing.url === base.origin) return;
      void existing.client?.destroy();
      existing.client = null;
      existing.url = base.origin;
      return;
    }
    this.#peers.set(nodeId, {
      nodeId,
      url: base.origin,
      client: null,
      queue: new BoundedQueue<RaftMessage>(this.#config.queueCountMax),
      queuedBytes: 0,
      inflightRequestCount: 0,
      retryAtMs: 0,
      cancelRetry: null,
      flushScheduled: false,
      lastError: null,
    });
  }

  /** The last delivery error per peer, for status pages and logs. */
  peerErrors(): ReadonlyMap<RaftNodeId, string | null> {
    return new Map([...this.#peers.values()].map((peer) => [peer.nodeId, peer.lastError]));
  }

  async close(): Promise<void> {
    this.#closed = true;
    const clients: H2CClient[] = [];
    for (const peer of this.#peers.values()) {
      peer.cancelRetry?.();
      peer.cancelRetry = null;
      while (this.#shift(peer) !== undefined) this.counters.droppedMessages += 1;
      if (peer.client !== null) clients.push(peer.client);
      peer.client = null;
    }
    await Promise.all(clients.map((client) => client.destroy()));
  }

  /**
   * Serves one inbound `POST /internal/v1/raft/messages`. `body` is the raw text or bytes, or
   * the object a framework already parsed from JSON. Answers 200 {accepted}, 400
   * INVALID_REQUEST or 403 CLUSTER_AUTHORIZATION_FAILED, in the API's error shape.
   */
  handleRequest(body: unknown, headers: RaftRequestHeaders): RaftHttpResponse {
    if (!this.#isAuthorized(headers[clusterSecretHeader])) {
      this.counters.refusedRequests += 1;
      return errorResponse(403, 'CLUSTER_AUTHORIZATION_FAILED', 'missing or wrong cluster secret');
    }
    let messages: RaftMessage[];
    try {
      messages = decodeRaftMessages(body, this.#config.inboundMessageCountMax);
    } catch (error) {
      if (!(error instanceof RaftWireError)) throw error;
      this.counters.refusedRequests += 1;
      return errorResponse(400, 'INVALID_REQUEST', error.message);
    }
    let accepted = 0;
    for (const message of messages) {
      // A message for another node id was routed with a stale address: drop it, as a network would.
      if (message.to !== this.#config.nodeId || this.#handler === null || this.#closed) continue;
      accepted += 1;
      this.#handler(message);
    }
    this.counters.receivedMessages += accepted;
    return { status: 200, body: { accepted } };
  }

  #isAuthorized(header: string | readonly string[] | undefined): boolean {
    if (this.#secretDigest === null) return true;
    if (typeof header !== 'string') return false;
    return timingSafeEqual(digest(header), this.#secretDigest);
  }

  #flush(peer: PeerLink): void {
    while (!this.#closed && peer.queue.length > 0) {
      if (peer.inflightRequestCount >= this.#config.inflightRequestCountMax) return;
      const waitMs = peer.retryAtMs - this.#deps.clock.nowMs();
      if (waitMs > 0) {
        peer.cancelRetry ??= this.#deps.clock.schedule(waitMs, () => {
          peer.cancelRetry = null;
          this.#flush(peer);
        });
        return;
      }
      const batch = this.#takeBatch(peer);
      peer.inflightRequestCount += 1;
      void this.#post(peer, batch);
    }
  }

  #takeBatch(peer: PeerLink): RaftMessage[] {
    const batch: RaftMessage[] = [];
    let bytes = 0;
    for (let next = peer.queue.peek(); next !== undefined; next = peer.queue.peek()) {
      const nextBytes = estimateMessageBytes(next);
      if (batch.length >= this.#config.batchCountMax) break;
      if (batch.length > 0 && bytes + nextBytes > this.#config.batchBytesMax) break;
      batch.push(next);
      bytes += nextBytes;
      this.#shift(peer);
    }
    return batch;
  }

  #shift(peer: PeerLink): RaftMessage | undefined {
    const message = peer.queue.shift();
    if (message !== undefined) peer.queuedBytes -= estimateMessageBytes(message);
    return message;
  }

  /** Never rejects: a failed request drops its batch and pauses the peer. */
  async #post(peer: PeerLink, batch: RaftMessage[]): Promise<void> {
    try {
      const response = await this.#client(peer).request({
        origin: peer.url,
        path: raftMessagesPath,
        method: 'POST',
        headers: this.#headers(),
        body: encodeRaftMessages(batch),
        headersTimeout: this.#config.requestTimeoutMs,
        bodyTimeout: this.#config.requestTimeoutMs,
        // undici 7 holds a non-idempotent request (a POST) on an HTTP/2 connection until every
        // other stream on it has finished, which would allow one batch in flight per peer.
        // Raft messages are safe to deliver twice (the core ignores stale and duplicate ones).
        idempotent: true,
        blocking: false,
      });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}: ${text}`);
      this.counters.sentRequests += 1;
      this.counters.sentMessages += batch.length;
      peer.lastError = null;
    } catch (error) {
      // Safe to drop: Raft re-sends from its own state (heartbeats, retries, snapshots).
      this.counters.failedRequests += 1;
      this.counters.droppedMessages += batch.length;
      peer.lastError = error instanceof Error ? error.message : String(error);
      peer.retryAtMs = this.#deps.clock.nowMs() + this.#config.retryBackoffMs;
    } finally {
      peer.inflightRequestCount -= 1;
      this.#flush(peer);
    }
  }

  #client(peer: PeerLink): H2CClient {
    peer.client ??= new H2CClient(peer.url, {
      pipelining: this.#config.inflightRequestCountMax,
      maxConcurrentStreams: Math.max(100, this.#config.inflightRequestCountMax),
      connectTimeout: this.#config.requestTimeoutMs,
      headersTimeout: this.#config.requestTimeoutMs,
      bodyTimeout: this.#config.requestTimeoutMs,
      maxResponseSize: 64 * 1024,
    });
    return peer.client;
  }

  #headers(): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#config.secret !== null) headers[clusterSecretHeader] = this.#config.secret;
    return headers;
  }
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

function errorResponse(status: number, code: string, message: string): RaftHttpResponse {
  return { status, body: { error: { code, message } } };
}
