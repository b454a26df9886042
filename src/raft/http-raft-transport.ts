// RaftTransport over the nodes' HTTP/2 (h2c) ports. Outbound: one bounded queue per peer
// (drop-oldest when full, counted), drained by up to `inflightRequestCountMax` pipelined
// `POST /internal/v1/raft/messages` requests on one undici H2CClient connection; every request
// coalesces whatever queued while the previous ones were in flight. Inbound: `handleRequest` is
// framework-agnostic (body + headers in, status + JSON body out) for the API layer to mount.
// Piggyback: small messages this node queued for the sender while handling its request (the
// answer to a heartbeat or append, produced synchronously when nothing had to be synced) go
// back in the response body, so an idle heartbeat costs one request, not two.
// Streams: once a peer accepts it, one long-lived `POST /internal/v1/raft/stream` per peer
// carries every later batch as a length-prefixed frame (no request, headers or framework per
// message: an idle heartbeat costs a node a fraction of a request); requests carry the batches
// while the stream opens, and always to a peer that does not serve it. The stream's end is a
// definite sign the peer's process is gone (reported to onPeerUnreachable) unless we closed it.
// Wire format: ./raft-message-codec.ts. Cluster secret: header `x-rill-cluster-secret`.
import {
  connect,
  constants,
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type ServerHttp2Stream,
} from 'node:http2';
import { H2CClient } from 'undici';
import {
  assert,
  BoundedQueue,
  clusterSecretCheck,
  clusterSecretHeader,
  type Clock,
  FrameTooLargeError,
  lengthFrame,
  LengthFrameSplitter,
} from '../common/index.ts';
import {
  assertOutgoing,
  decodeRaftMessages,
  encodeRaftMessages,
  estimateMessageBytes,
  raftMessagesBody,
  RaftWireError,
} from './raft-message-codec.ts';
import type { RaftGroupTiming, RaftTransport } from './raft-transport.ts';
import type { RaftMessage, RaftNodeId } from './types.ts';

export const raftMessagesPath = '/internal/v1/raft/messages';
export const raftStreamPath = '/internal/v1/raft/stream';
const frameContentType = 'application/vnd.rill.raft-frames';

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
  /**
   * Estimated bytes of answers piggybacked on one response (0 turns piggybacking off); keep it
   * well under the 64 KiB a response may have.
   */
  readonly piggybackBytesMax: number;
  /** Largest frame accepted on an inbound stream (a batch of up to batchBytesMax, or one big message). */
  readonly frameBytesMax: number;
  /** After a peer refused the stream (404, 403), requests only, for this long. */
  readonly streamRefusedBackoffMs: number;
}

export interface HttpRaftTransportDeps {
  readonly clock: Clock;
  /** Called with a peer's id when a request to it is refused or reset (its process is gone). */
  readonly onPeerUnreachable?: (nodeId: RaftNodeId) => void;
}

/** Bounds of the transport: per-peer queue, batching and pipelining. */
export const httpRaftTransportDefaults = {
  queueCountMax: 4_096,
  queueBytesMax: 64 << 20,
  batchCountMax: 512,
  batchBytesMax: 4 << 20,
  inflightRequestCountMax: 4,
  piggybackBytesMax: 32 * 1024,
  frameBytesMax: 64 << 20,
  streamRefusedBackoffMs: 30_000,
} as const;

/**
 * The transport of one group member: every other member is a peer; peers run the same bounds,
 * so one request may carry a full queue; timeouts and back-off follow the Raft timing.
 */
export function httpRaftTransportConfig(
  group: RaftGroupTiming,
  secret: string | null,
  bounds: {
    readonly [K in keyof typeof httpRaftTransportDefaults]: number;
  } = httpRaftTransportDefaults,
): HttpRaftTransportConfig {
  const peers = new Map([...group.voters, ...group.observers]);
  peers.delete(group.nodeId);
  return {
    ...bounds,
    nodeId: group.nodeId,
    peers,
    secret,
    inboundMessageCountMax: Math.max(bounds.batchCountMax, bounds.queueCountMax),
    requestTimeoutMs: 10 * group.electionTimeoutTicks * group.tickMs,
    // One tick: a restarted peer is reached again within a tick, whatever the heartbeat.
    retryBackoffMs: group.tickMs,
  };
}

/** Error codes of a connection the peer refused or reset: a definite sign it is down. */
const unreachableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET']);

function isUnreachable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && unreachableCodes.has(code)) return true;
    e = e.cause;
  }
  return false;
}

/** Counters for metrics; they only grow. */
export interface RaftTransportCounters {
  sentMessages: number;
  sentRequests: number;
  droppedMessages: number;
  failedRequests: number;
  receivedMessages: number;
  refusedRequests: number;
  /** Batches written as frames on a peer's stream (not counted in sentRequests). */
  sentFrames: number;
  /** Outbound streams opened (accepted by the peer). */
  openedStreams: number;
}

/** The long-lived outbound stream to one peer. */
interface StreamLink {
  readonly session: ClientHttp2Session;
  readonly stream: ClientHttp2Stream;
  /** The peer answered 200: frames may be written. */
  open: boolean;
  /** A write returned false: wait for 'drain'. */
  blocked: boolean;
  /**
   * We ended it (close, a new address), or the peer closed the connection with GOAWAY (idle
   * for its session timeout, or shutting down): its end says nothing about the peer's process.
   */
  ours: boolean;
  ended: boolean;
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
  link: StreamLink | null;
  /** No stream is opened before this time (after a failure or a refusal). */
  streamRetryAtMs: number;
}

export class HttpRaftTransport implements RaftTransport {
  readonly counters: RaftTransportCounters = {
    sentMessages: 0,
    sentRequests: 0,
    droppedMessages: 0,
    failedRequests: 0,
    receivedMessages: 0,
    refusedRequests: 0,
    sentFrames: 0,
    openedStreams: 0,
  };
  readonly #config: HttpRaftTransportConfig;
  readonly #deps: HttpRaftTransportDeps;
  readonly #peers = new Map<RaftNodeId, PeerLink>();
  readonly #isAuthorized: (given: unknown) => boolean;
  #handler: ((message: RaftMessage) => void) | null = null;
  readonly #unreachableListeners: ((nodeId: RaftNodeId) => void)[] = [];
  #closed = false;

  constructor(config: HttpRaftTransportConfig, deps: HttpRaftTransportDeps) {
    for (const key of ['queueCountMax', 'batchCountMax', 'inflightRequestCountMax'] as const) {
      assert(Number.isInteger(config[key]) && config[key] > 0, `${key} must be a positive integer`);
    }
    assert(config.batchBytesMax > 0, 'batchBytesMax must be positive');
    assert(config.queueBytesMax > 0, 'queueBytesMax must be positive');
    assert(config.inboundMessageCountMax > 0, 'inboundMessageCountMax must be positive');
    assert(config.piggybackBytesMax >= 0, 'piggybackBytesMax must not be negative');
    this.#config = config;
    this.#deps = deps;
    this.#isAuthorized = clusterSecretCheck(config.secret);
    for (const [nodeId, url] of config.peers) this.setPeer(nodeId, url);
    if (deps.onPeerUnreachable !== undefined)
      this.#unreachableListeners.push(deps.onPeerUnreachable);
  }

  /** Adds a listener for refused or reset requests to a peer (see the deps callback). */
  onPeerUnreachable(listener: (nodeId: RaftNodeId) => void): void {
    this.#unreachableListeners.push(listener);
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
      this.#endLink(existing);
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
      link: null,
      streamRetryAtMs: 0,
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
      this.#endLink(peer);
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
    const accepted = this.#deliver(messages);
    const sender = messages[0] === undefined ? undefined : this.#peers.get(messages[0].from);
    const replies = sender === undefined || accepted === 0 ? [] : this.#takePiggyback(sender);
    if (replies.length === 0) return { status: 200, body: { accepted } };
    this.counters.sentMessages += replies.length;
    return { status: 200, body: { accepted, ...raftMessagesBody(replies) } };
  }

  /**
   * Serves one inbound `POST /internal/v1/raft/stream` (see the file comment): answers 200 at
   * once, then delivers every frame's batch until the peer ends it. A wrong secret answers 403
   * in the API's error shape; a frame too large or not a batch resets the stream.
   */
  acceptStream(stream: ServerHttp2Stream, headers: RaftRequestHeaders): void {
    stream.on('error', () => undefined); // A peer gone mid-stream: nothing to answer.
    if (!this.#isAuthorized(headers[clusterSecretHeader])) {
      this.counters.refusedRequests += 1;
      const refusal = errorResponse(
        403,
        'CLUSTER_AUTHORIZATION_FAILED',
        'missing or wrong cluster secret',
      );
      stream.respond({ ':status': refusal.status, 'content-type': 'application/json' });
      stream.end(JSON.stringify(refusal.body));
      return;
    }
    stream.respond({ ':status': 200, 'content-type': frameContentType });
    const splitter = new LengthFrameSplitter(this.#config.frameBytesMax);
    stream.on('data', (chunk: Buffer) => {
      try {
        for (const frame of splitter.push(chunk)) {
          this.#deliver(
            decodeRaftMessages(frame.toString('utf8'), this.#config.inboundMessageCountMax),
          );
        }
      } catch (error) {
        if (!(
          error instanceof RaftWireError ||
          error instanceof FrameTooLargeError ||
          error instanceof SyntaxError
        ))
          throw error;
        this.counters.refusedRequests += 1;
        stream.close(constants.NGHTTP2_PROTOCOL_ERROR);
      }
    });
    // The peer ends its side when it closes; end ours so the stream is released.
    stream.on('end', () => stream.end());
  }

  /** Hands inbound messages addressed to this node to the handler; returns how many. */
  #deliver(messages: readonly RaftMessage[]): number {
    let accepted = 0;
    for (const message of messages) {
      // A message for another node id was routed with a stale address: drop it, as a network would.
      if (message.to !== this.#config.nodeId || this.#handler === null || this.#closed) continue;
      accepted += 1;
      this.#handler(message);
    }
    this.counters.receivedMessages += accepted;
    return accepted;
  }

  /** Small queued messages for `peer`, oldest first, to ride on the response to its request. */
  #takePiggyback(peer: PeerLink): RaftMessage[] {
    const taken: RaftMessage[] = [];
    let bytes = 0;
    for (let next = peer.queue.peek(); next !== undefined; next = peer.queue.peek()) {
      const nextBytes = estimateMessageBytes(next);
      if (
        taken.length >= this.#config.batchCountMax ||
        bytes + nextBytes > this.#config.piggybackBytesMax
      )
        break;
      taken.push(next);
      bytes += nextBytes;
      this.#shift(peer);
    }
    return taken;
  }

  /** Delivers the messages a peer piggybacked on its response (older peers send none). */
  #receivePiggyback(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    if ((parsed as { messages?: unknown } | null)?.messages === undefined) return;
    let messages: RaftMessage[];
    try {
      messages = decodeRaftMessages(parsed, this.#config.inboundMessageCountMax);
    } catch (error) {
      if (!(error instanceof RaftWireError)) throw error;
      this.counters.refusedRequests += 1;
      return;
    }
    this.#deliver(messages);
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
      const link = this.#linkOf(peer);
      if (link !== null) {
        if (link.blocked) return;
        this.#write(peer, link, this.#takeBatch(peer));
        continue;
      }
      // While the stream opens, and to a peer that refused it: one request per batch.
      if (peer.inflightRequestCount >= this.#config.inflightRequestCountMax) return;
      const batch = this.#takeBatch(peer);
      peer.inflightRequestCount += 1;
      void this.#post(peer, batch);
    }
  }

  #write(peer: PeerLink, link: StreamLink, batch: RaftMessage[]): void {
    const flowing = link.stream.write(lengthFrame(Buffer.from(encodeRaftMessages(batch))));
    this.counters.sentFrames += 1;
    this.counters.sentMessages += batch.length;
    if (flowing) return;
    link.blocked = true;
    link.stream.once('drain', () => {
      link.blocked = false;
      this.#flush(peer);
    });
  }

  /** The peer's open stream; opens one when none is opening (null until it is accepted). */
  #linkOf(peer: PeerLink): StreamLink | null {
    if (peer.link !== null) return peer.link.open ? peer.link : null;
    if (this.#deps.clock.nowMs() < peer.streamRetryAtMs) return null;
    const session = connect(peer.url);
    const headers: Record<string, string> = {
      ':method': 'POST',
      ':path': raftStreamPath,
      'content-type': frameContentType,
    };
    if (this.#config.secret !== null) headers[clusterSecretHeader] = this.#config.secret;
    const stream = session.request(headers, { endStream: false });
    const link: StreamLink = {
      session,
      stream,
      open: false,
      blocked: false,
      ours: false,
      ended: false,
    };
    peer.link = link;
    let failure: Error | null = null;
    session.on('error', (error: Error) => (failure ??= error));
    // A graceful close waits for open streams: ours never ends by itself, so end it now.
    session.once('goaway', () => {
      link.ours = true;
      session.destroy();
    });
    stream.on('error', (error: Error) => (failure ??= error));
    stream.once('response', (answer) => {
      if (answer[':status'] === 200) {
        link.open = true;
        this.counters.openedStreams += 1;
        this.#flush(peer);
        return;
      }
      // An older peer or a wrong secret: requests carry the batches (and report the error).
      peer.streamRetryAtMs = this.#deps.clock.nowMs() + this.#config.streamRefusedBackoffMs;
      this.#endLink(peer);
    });
    stream.resume(); // The answer's body carries nothing; read it so the window stays open.
    // A peer that takes a connection but never answers (a paused process): try again later.
    const cancelOpen = this.#deps.clock.schedule(this.#config.requestTimeoutMs, () => {
      if (!link.open && !link.ended) session.destroy();
    });
    const ended = (): void => {
      if (link.ended) return;
      link.ended = true;
      cancelOpen();
      if (peer.link === link) peer.link = null;
      if (!link.ours) session.destroy();
      if (link.ours || this.#closed) return;
      peer.streamRetryAtMs = Math.max(
        peer.streamRetryAtMs,
        this.#deps.clock.nowMs() + this.#config.retryBackoffMs,
      );
      // A stream the peer accepted ended without us: its process is gone (or going).
      if (link.open || isUnreachable(failure)) {
        peer.lastError = failure?.message ?? 'the raft stream ended';
        for (const listener of this.#unreachableListeners) listener(peer.nodeId);
      }
      if (peer.queue.length > 0) this.#flush(peer);
    };
    stream.once('close', ended);
    session.once('close', ended);
    return null;
  }

  /** Ends the peer's stream on our side (close, a new address, a refusal). */
  #endLink(peer: PeerLink): void {
    const link = peer.link;
    if (link === null) return;
    peer.link = null;
    link.ours = true;
    link.session.destroy();
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
      this.#receivePiggyback(text);
    } catch (error) {
      // Safe to drop: Raft re-sends from its own state (heartbeats, retries, snapshots).
      this.counters.failedRequests += 1;
      this.counters.droppedMessages += batch.length;
      peer.lastError = error instanceof Error ? error.message : String(error);
      peer.retryAtMs = this.#deps.clock.nowMs() + this.#config.retryBackoffMs;
      if (!this.#closed && isUnreachable(error)) {
        for (const listener of this.#unreachableListeners) listener(peer.nodeId);
      }
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

function errorResponse(status: number, code: string, message: string): RaftHttpResponse {
  return { status, body: { error: { code, message } } };
}
