// Bounds what HTTP/2 clients can make a node do (issue 15): every stream gets a slot that
// counts against its connection's and the node's budget until its work is released — a reset
// stream too — and an AbortSignal that fires when the stream closes, so parked fetches, reads
// and produce waits end at once. A connection that resets streams faster than a named rate is
// closed (GOAWAY ENHANCE_YOUR_CALM); request bodies must arrive within a deadline; a connection
// with no open stream is closed once idle. Node-to-node and probe routes have their own budget.
// HTTP/1.1 requests (http1.ts) take slots from the same budgets, their connection counting as a
// session, and have the same body deadline and cancellation.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants, type Http2Server, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import { Counter, Gauge, type Registry } from 'prom-client';
import { assert, type Clock } from '../../common/index.ts';
import { ApiError, errorResponse } from '../errors.ts';
import { ResetRate } from './reset-rate.ts';
import type { RillApp, RillReply, RillRequest } from './route-context.ts';

export interface StreamGuardConfig {
  /** Requests in flight on one connection (reset ones included until released). */
  readonly requestsPerSessionMax: number;
  /** Client requests (/v1 …) in flight on the node; more answer 503 BROKER_BUSY. */
  readonly clientRequestsMax: number;
  /** Node-to-node requests (/internal/v1) in flight on the node: a budget of their own. */
  readonly internalRequestsMax: number;
  /** More client resets than this within one second close the connection (GOAWAY). */
  readonly streamResetsPerSecondMax: number;
  /** A request body must have arrived in full this long after its headers (slowloris). */
  readonly requestBodyTimeoutMs: number;
  /** A connection with no open stream for this long is closed (GOAWAY NO_ERROR). */
  readonly connectionIdleTimeoutMs: number;
}

const streamGuardLimits = [
  'requestsPerSessionMax',
  'clientRequestsMax',
  'internalRequestsMax',
  'streamResetsPerSecondMax',
  'requestBodyTimeoutMs',
  'connectionIdleTimeoutMs',
] as const satisfies readonly (keyof StreamGuardConfig)[];

/** Budgets: client routes, node-to-node routes, and probes (health, metrics). */
type RequestClass = 'client' | 'internal' | 'probe';

const probePaths: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * A request answered before its body was read (a 4xx from a check on its headers) still has
 * its body read and dropped, up to this many bytes, so that the stream ends cleanly: Node would
 * reset it (RST_STREAM NO_ERROR, as HTTP/2 §8.1 allows), and some clients (curl 7.88) then lose
 * an answer they had already received. A larger body is reset at once, as before.
 */
export const unreadBodyDrainBytesMax = 1024 * 1024;

/** A connection's budget: admitted requests whose slot is not released yet. */
interface ConnectionBudget {
  inFlight: number;
}

interface SessionState extends ConnectionBudget {
  readonly session: Http2Session;
  /** Streams not yet closed at the protocol level. */
  openStreams: number;
  readonly resets: ResetRate;
  cancelIdle: (() => void) | null;
}

interface Slot {
  readonly state: ConnectionBudget;
  readonly kind: RequestClass;
  /** Aborted when the stream closes: the request's work stops. */
  readonly controller: AbortController;
  streamClosed: boolean;
  /** Route handlers of this stream still running. */
  handlers: number;
  /** Its handlers ran and settled: a close has no work left to stop (no abort, no error). */
  finished: boolean;
  released: boolean;
}

/** Why a request's signal fired: its client closed or reset the stream. */
export class StreamClosedError extends Error {
  override name = 'StreamClosedError';
}

const neverAborted = new AbortController().signal;

/**
 * Serves a long-lived node-to-node stream itself, without fastify (the Raft transport's
 * stream): its slot is held until the stream closes.
 */
export type RawStreamHandler = (
  stream: ServerHttp2Stream,
  headers: Readonly<Record<string, string | string[] | undefined>>,
) => void;

export class StreamGuard {
  readonly #config: StreamGuardConfig;
  readonly #clock: Clock;
  readonly #afterInput: (() => Promise<void>) | null;
  /** By HTTP/2 stream, or by HTTP/1 request. */
  readonly #slots = new WeakMap<object, Slot>();
  readonly #inFlight: Record<RequestClass, number> = { client: 0, internal: 0, probe: 0 };
  readonly #counts = { refused: 0, rapidResetCloses: 0, bodyTimeouts: 0, idleCloses: 0 };
  readonly #rawRoutes = new Map<string, RawStreamHandler>();

  /**
   * `afterInput` resolves once the I/O already received has been handled (setImmediate);
   * client handlers start after it. Without it they start at once.
   */
  constructor(
    config: StreamGuardConfig,
    deps: { readonly clock: Clock; readonly afterInput?: () => Promise<void> },
  ) {
    for (const name of streamGuardLimits) {
      assert(Number.isInteger(config[name]), `${name} must be an integer`);
      assert(config[name] > 0, `${name} must be positive`);
    }
    this.#config = config;
    this.#clock = deps.clock;
    this.#afterInput = deps.afterInput ?? null;
  }

  /** Requests in flight by budget (admitted and not yet released). */
  get inFlight(): Readonly<Record<RequestClass, number>> {
    return this.#inFlight;
  }

  /** Serves `POST path` (an /internal/v1 route) with `handler` instead of fastify. */
  serveRaw(path: string, handler: RawStreamHandler): void {
    assert(classify(path) === 'internal', `raw route ${path} must be node-to-node`);
    this.#rawRoutes.set(path, handler);
  }

  /** Watches every session of `server`; call before it accepts connections. */
  attach(server: Http2Server): void {
    server.on('session', (session: Http2Session) => this.#onSession(session));
  }

  /**
   * Installs the fastify side: skipping a stream reset before its handler, the body
   * deadline, and the wrap of every route handler that keeps a slot until the handler
   * settles. Call before any route is registered.
   */
  install(app: RillApp): void {
    app.addHook('onRequest', (request, reply, done) => {
      const slot = this.#slots.get(slotKeyOf(request));
      if (slot === undefined) return done();
      if (slot.controller.signal.aborted) {
        // Reset before we began: nothing will read an answer, so no work starts.
        reply.hijack();
        return done();
      }
      if (isHttp2(request)) this.#armBodyDeadline(request);
      else this.#armHttp1BodyDeadline(request, reply);
      done();
    });
    app.addHook('onRoute', (route) => {
      route.handler = this.#wrap(route.handler as Handler) as typeof route.handler;
    });
    app.addHook('onSend', (request, _reply, payload, done) => {
      if (isHttp2(request)) drainUnreadBody(request);
      done(null, payload);
    });
  }

  /** Fires when the request's stream closes before its work is done; never for inject(). */
  signalOf(request: RillRequest): AbortSignal {
    return this.#slots.get(slotKeyOf(request))?.controller.signal ?? neverAborted;
  }

  /**
   * Admits an HTTP/1 request on `connection` (null) or returns the refusal to answer. Its slot
   * is released once its response has closed and its handlers have settled.
   */
  admitHttp1(
    connection: ConnectionBudget,
    request: IncomingMessage,
    response: ServerResponse,
  ): ApiError | null {
    const kind = classify(request.url ?? '');
    if (!this.#admits(connection, kind)) {
      this.#counts.refused += 1;
      return this.#busy(connection, kind);
    }
    const slot = this.#newSlot(connection, kind);
    this.#slots.set(request, slot);
    response.once('close', () => {
      slot.streamClosed = true;
      stopWork(slot, 'the connection closed');
      this.#maybeRelease(slot);
    });
    return null;
  }

  #newSlot(state: ConnectionBudget, kind: RequestClass): Slot {
    const controller = new AbortController();
    const slot: Slot = {
      state,
      kind,
      controller,
      streamClosed: false,
      handlers: 0,
      finished: false,
      released: false,
    };
    state.inFlight += 1;
    this.#inFlight[kind] += 1;
    return slot;
  }

  registerMetrics(registry: Registry): void {
    const registers = [registry];
    const inFlight = this.#inFlight;
    new Gauge({
      name: 'rill_requests_in_flight',
      help: 'Requests admitted and not yet released, by budget (client, internal, probe).',
      labelNames: ['class'],
      registers,
      collect() {
        for (const [kind, count] of Object.entries(inFlight)) this.set({ class: kind }, count);
      },
    });
    const counter = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    const counts = this.#counts;
    counter('rill_requests_refused_total', 'Requests refused: a budget was full.', () => {
      return counts.refused;
    });
    counter('rill_rapid_reset_closes_total', 'Connections closed for resetting too fast.', () => {
      return counts.rapidResetCloses;
    });
    counter('rill_request_body_timeouts_total', 'Request bodies cut at their deadline.', () => {
      return counts.bodyTimeouts;
    });
    counter('rill_idle_connections_closed_total', 'Connections closed as idle.', () => {
      return counts.idleCloses;
    });
  }

  #onSession(session: Http2Session): void {
    const state: SessionState = {
      session,
      inFlight: 0,
      openStreams: 0,
      resets: new ResetRate({ resetsMax: this.#config.streamResetsPerSecondMax, windowMs: 1000 }),
      cancelIdle: null,
    };
    this.#armIdle(state);
    session.once('close', () => state.cancelIdle?.());
    // The server's own listener hands every stream to fastify (compat request, routing, hooks):
    // it now runs only for streams that are admitted and still open, so a reset or refused
    // stream costs no more than its frames.
    const forward = session.listeners('stream');
    session.removeAllListeners('stream');
    session.on('stream', (stream: ServerHttp2Stream, headers, ...rest: unknown[]) => {
      const path = String(headers[':path'] ?? '');
      if (!this.#onStream(state, stream, path)) return;
      const raw = headers[':method'] === 'POST' ? this.#rawRoutes.get(path) : undefined;
      if (raw !== undefined) return raw(stream, headers);
      for (const listener of forward) Reflect.apply(listener, session, [stream, headers, ...rest]);
    });
  }

  /** Admits the stream (true: fastify serves it), or answers or drops it here. */
  #onStream(state: SessionState, stream: ServerHttp2Stream, path: string): boolean {
    if (stream.destroyed) {
      // HEADERS and RST_STREAM in one read: the stream closed before anyone saw it. A reset
      // code other than CANCEL is emitted as an 'error' next: nobody else listens now.
      stream.on('error', () => undefined);
      this.#onReset(state);
      return false;
    }
    const kind = classify(path);
    if (!this.#admits(state, kind)) {
      this.#counts.refused += 1;
      refuse(stream, this.#busy(state, kind));
      return false;
    }
    const slot = this.#newSlot(state, kind);
    this.#slots.set(stream, slot);
    state.openStreams += 1;
    state.cancelIdle?.();
    state.cancelIdle = null;
    stream.once('aborted', () => this.#onReset(state));
    stream.once('close', () => {
      slot.streamClosed = true;
      stopWork(slot, 'the stream closed');
      state.openStreams -= 1;
      if (state.openStreams === 0) this.#armIdle(state);
      this.#maybeRelease(slot);
    });
    return true;
  }

  #admits(state: ConnectionBudget, kind: RequestClass): boolean {
    if (state.inFlight >= this.#config.requestsPerSessionMax) return false;
    switch (kind) {
      case 'client':
        return this.#inFlight.client < this.#config.clientRequestsMax;
      case 'internal':
        return this.#inFlight.internal < this.#config.internalRequestsMax;
      case 'probe':
        return true; // Cheap and answered at once; bounded by the session's budget.
    }
  }

  #busy(state: ConnectionBudget, kind: RequestClass): ApiError {
    if (state.inFlight >= this.#config.requestsPerSessionMax) {
      const max = this.#config.requestsPerSessionMax;
      return new ApiError('BROKER_BUSY', `more than ${max} requests in flight on this connection`);
    }
    const { internalRequestsMax, clientRequestsMax } = this.#config;
    const max = kind === 'internal' ? internalRequestsMax : clientRequestsMax;
    return new ApiError('BROKER_BUSY', `more than ${max} ${kind} requests in flight on this node`);
  }

  /** A client reset (or a session torn down): too many in a second closes the connection. */
  #onReset(state: SessionState): void {
    const { session } = state;
    // A closing socket cancels every open stream: that is no client's reset.
    if (session.destroyed || session.closed || session.socket?.destroyed === true) return;
    if (!state.resets.onReset(this.#clock.nowMs())) return;
    this.#counts.rapidResetCloses += 1;
    // Every stream of the session closes, so their signals fire and their work is released.
    const error = new Error(`more than ${this.#config.streamResetsPerSecondMax} resets a second`);
    session.destroy(error, constants.NGHTTP2_ENHANCE_YOUR_CALM);
  }

  #armIdle(state: SessionState): void {
    state.cancelIdle?.();
    state.cancelIdle = this.#clock.schedule(this.#config.connectionIdleTimeoutMs, () => {
      state.cancelIdle = null;
      const { session } = state;
      if (state.openStreams > 0 || session.closed || session.destroyed) return;
      this.#counts.idleCloses += 1;
      session.close();
    });
  }

  /** Cuts a body still arriving at its deadline: 408 REQUEST_BODY_TIMEOUT, then the stream. */
  #armBodyDeadline(request: RillRequest): void {
    const raw = request.raw;
    const stream = raw.stream;
    if (stream.endAfterHeaders || raw.complete) return;
    const timeoutMs = this.#config.requestBodyTimeoutMs;
    const cancel = this.#clock.schedule(timeoutMs, () => {
      if (raw.complete) return;
      this.#counts.bodyTimeouts += 1;
      // fastify's body reader sees the error and answers it through the error handler.
      raw.destroy(new ApiError('REQUEST_BODY_TIMEOUT', `the body took over ${timeoutMs} ms`));
      // HTTP/2 §8.1: after a complete answer, RST_STREAM NO_ERROR stops the upload.
      const stop = (): void => {
        if (!stream.closed) stream.close(constants.NGHTTP2_NO_ERROR);
      };
      if (stream.writableFinished) stop();
      else stream.once('finish', stop);
    });
    raw.once('end', cancel);
    stream.once('close', cancel);
  }

  /**
   * The HTTP/1 body deadline: fastify's body reader gets the error and answers 408 in the API's
   * shape; the connection closes after it, which stops the upload.
   */
  #armHttp1BodyDeadline(request: RillRequest, reply: RillReply): void {
    const raw = request.raw as unknown as IncomingMessage;
    const { headers } = raw;
    // HTTP/1.1 §6.3: without either header a request has no body.
    const hasBody =
      headers['transfer-encoding'] !== undefined || headers['content-length'] !== undefined;
    if (raw.complete || !hasBody) return;
    const timeoutMs = this.#config.requestBodyTimeoutMs;
    const cancel = this.#clock.schedule(timeoutMs, () => {
      if (raw.complete || reply.sent) return;
      this.#counts.bodyTimeouts += 1;
      reply.raw.setHeader('connection', 'close');
      // Not destroy(): an unfinished IncomingMessage destroys its socket, and the answer with it.
      raw.emit('error', new ApiError('REQUEST_BODY_TIMEOUT', `the body took over ${timeoutMs} ms`));
    });
    raw.once('end', cancel);
    reply.raw.once('close', cancel);
  }

  #wrap(handler: Handler): Handler {
    const slots = this.#slots;
    const release = (slot: Slot): void => {
      slot.handlers -= 1;
      if (slot.handlers === 0) slot.finished = true;
      this.#maybeRelease(slot);
    };
    const run = (slot: Slot, self: unknown, request: RillRequest, reply: RillReply): unknown => {
      if (slot.controller.signal.aborted) return skip(reply);
      slot.handlers += 1;
      settleWithStream(reply, slot.controller.signal);
      let result: unknown;
      try {
        result = handler.call(self, request, reply);
      } catch (error) {
        release(slot);
        if (slot.controller.signal.aborted) return skip(reply);
        throw error;
      }
      if (!isThenable(result)) {
        release(slot);
        return result;
      }
      return result.then(
        (value) => {
          release(slot);
          return value;
        },
        (error: unknown) => {
          release(slot);
          // The client is gone: its request failed because we stopped it; nobody reads this.
          if (slot.controller.signal.aborted) return skip(reply);
          throw error;
        },
      );
    };
    const afterInput = this.#afterInput;
    return function guarded(this: unknown, request, reply) {
      const slot = slots.get(slotKeyOf(request));
      if (slot === undefined) return handler.call(this, request, reply);
      if (slot.kind !== 'client' || afterInput === null) return run(slot, this, request, reply);
      // HEADERS and their RST_STREAM may come in different reads: let the input already
      // received be read first, so that a reset cancels the request before any work.
      slot.handlers += 1;
      return afterInput().then(() => {
        const result = run(slot, this, request, reply);
        release(slot);
        return result;
      });
    };
  }

  #maybeRelease(slot: Slot): void {
    if (slot.released || !slot.streamClosed || slot.handlers > 0) return;
    slot.released = true;
    slot.state.inFlight -= 1;
    this.#inFlight[slot.kind] -= 1;
    assert(slot.state.inFlight >= 0, 'session in-flight count below zero');
    assert(this.#inFlight[slot.kind] >= 0, 'node in-flight count below zero');
  }
}

type Handler = (this: unknown, request: RillRequest, reply: RillReply) => unknown;

/**
 * The stream closed: aborts the request's signal, so its work stops — unless its handlers
 * already settled, the common case, where an error and an abort event per request were pure
 * cost (about 5 % of a leader's CPU in profiles of acks=all produce with replication).
 */
function stopWork(slot: Slot, why: string): void {
  if (slot.finished && slot.handlers === 0) return;
  slot.controller.abort(new StreamClosedError(why));
}

/**
 * Reads and drops the body of an HTTP/2 request being answered before anyone read it (see
 * unreadBodyDrainBytesMax); the body deadline still applies. Past the bound, or when the
 * declared length is past it, the stream is reset with NO_ERROR after the answer.
 */
function drainUnreadBody(request: RillRequest): void {
  const raw = request.raw;
  const stream = raw.stream;
  if (stream.endAfterHeaders || raw.complete || raw.readableFlowing !== null) return;
  if (Number(request.headers['content-length'] ?? 0) > unreadBodyDrainBytesMax) return;
  let drained = 0;
  // The answer is on its way: a body that fails now (cut at its deadline, reset) has nobody to
  // be reported to, and its stream's close releases the request's slot.
  raw.on('error', () => undefined);
  raw.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained <= unreadBodyDrainBytesMax) return;
    raw.pause();
    const stop = (): void => {
      if (!stream.closed) stream.close(constants.NGHTTP2_NO_ERROR);
    };
    if (stream.writableFinished) stop();
    else stream.once('finish', stop);
  });
}

/** Whether a request came over HTTP/2 (else HTTP/1.1, see http1.ts). */
export function isHttp2(request: RillRequest): boolean {
  return request.raw.httpVersionMajor === 2;
}

/** The key of a request's slot: its HTTP/2 stream, or the HTTP/1 request itself. */
function slotKeyOf(request: RillRequest): object {
  return isHttp2(request) ? request.raw.stream : request.raw;
}

function classify(path: string): RequestClass {
  if (path.startsWith('/internal/')) return 'internal';
  const query = path.indexOf('?');
  return probePaths.has(query < 0 ? path : path.slice(0, query)) ? 'probe' : 'client';
}

/**
 * Answers a refused stream without fastify: 503 BROKER_BUSY in the API's error shape, then
 * RST_STREAM NO_ERROR so that no request body is uploaded for nothing (HTTP/2 §8.1).
 */
function refuse(stream: ServerHttp2Stream, error: ApiError): void {
  const { status, headers, body } = errorResponse(error);
  stream.on('error', () => undefined); // The client may reset it first: nothing to answer then.
  stream.respond({ ':status': status, 'content-type': 'application/json', ...headers });
  stream.end(JSON.stringify(body), () => {
    if (!stream.closed) stream.close(constants.NGHTTP2_NO_ERROR);
  });
}

/**
 * An async handler that returns its reply adopts fastify's reply.then, which waits for the
 * response to end; the response of a reset HTTP/2 stream never ends, so that handler would
 * never settle and its slot would never be released. Once the stream has closed (its slot's
 * signal aborted), the reply counts as done.
 */
function settleWithStream(reply: RillReply, closed: AbortSignal): void {
  const then = reply.then.bind(reply);
  reply.then = (fulfilled, rejected) => {
    let settled = false;
    const settle = (error?: Error): void => {
      if (settled) return;
      settled = true;
      closed.removeEventListener('abort', onClose);
      if (error === undefined) fulfilled();
      else rejected(error);
    };
    const onClose = (): void => settle();
    if (closed.aborted) return settle();
    closed.addEventListener('abort', onClose, { once: true });
    then(
      () => settle(),
      (error) => settle(error),
    );
  };
}

/** Ends a request whose client is gone without an answer. */
function skip(reply: RillReply): undefined {
  if (!reply.sent) reply.hijack();
  return undefined;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
