// HTTP/1.1 on the h2c port: the first bytes of each connection say its protocol. The HTTP/2
// connection preface starts `PRI * HTTP/2.0`, which no HTTP/1 request does; such a connection
// goes to the HTTP/2 server with the bytes read so far unshifted (nghttp2 then reads the socket
// itself, so no chunk is copied after the first), a Kafka request frame to the Kafka listener
// (src/api/kafka), any other to an http.Server whose requests run through the same fastify
// routes, hooks, error shape and stream-guard budgets.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Http2Server } from 'node:http2';
import type { Socket } from 'node:net';
import { assert, type Clock } from '../../common/index.ts';
import { ApiError, errorResponse } from '../errors.ts';
import { isKafkaFrameStart } from '../kafka/index.ts';
import type { RillApp } from './route-context.ts';

/** The first bytes of the HTTP/2 connection preface (RFC 9113 §3.4) that decide the protocol. */
const prefacePrefix = Buffer.from('PRI ', 'latin1');

export interface Http1Config {
  /** The request line and headers must arrive within this long (slowloris). */
  readonly headersTimeoutMs: number;
  /** A connection idle between requests is closed after this long. */
  readonly keepAliveTimeoutMs: number;
  /** A new connection must send its first bytes within this long. */
  readonly firstBytesTimeoutMs: number;
}

/** Budget of one HTTP/1 connection: its requests in flight (pipelined ones count). */
export interface Http1Connection {
  inFlight: number;
}

export interface Http1Deps {
  readonly clock: Clock;
  /**
   * Admits a request against the node's budgets (null) or refuses it with the error to answer.
   * Called before fastify sees the request.
   */
  readonly admit: (
    connection: Http1Connection,
    request: IncomingMessage,
    response: ServerResponse,
  ) => ApiError | null;
  /** Takes a connection whose first bytes are a Kafka request frame (src/api/kafka). */
  readonly onKafka?: (socket: Socket) => void;
}

/** Which protocol bytes received so far speak: undefined while too few bytes have come. */
export function protocolOf(head: Buffer): 'h2c' | 'http1' | undefined {
  const length = Math.min(head.length, prefacePrefix.length);
  if (!head.subarray(0, length).equals(prefacePrefix.subarray(0, length))) return 'http1';
  return head.length >= prefacePrefix.length ? 'h2c' : undefined;
}

/**
 * Serves HTTP/1.1 beside h2c on `app.server`: takes over its 'connection' listeners (call
 * before it listens) and returns the HTTP/1 server, closed with the app.
 */
export function serveHttp1(app: RillApp, config: Http1Config, deps: Http1Deps): Server {
  for (const name of ['headersTimeoutMs', 'keepAliveTimeoutMs', 'firstBytesTimeoutMs'] as const) {
    assert(Number.isInteger(config[name]) && config[name] > 0, `${name} must be positive`);
  }
  const http1 = createServer({
    headersTimeout: config.headersTimeoutMs,
    // The body has its own deadline (the stream guard's); 0 leaves it to that one.
    requestTimeout: 0,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(
      100,
      Math.min(1000, Math.floor(config.headersTimeoutMs / 4)),
    ),
  });
  const connections = new WeakMap<Socket, Http1Connection>();
  http1.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const connection = connections.get(request.socket) ?? { inFlight: 0 };
    connections.set(request.socket, connection);
    const refusal = deps.admit(connection, request, response);
    if (refusal !== null) return answer(response, refusal);
    // fastify types its handler for the HTTP/2 compat objects; it reads only what both have.
    Reflect.apply(app.routing, app, [request, response]);
  });
  http1.on('clientError', onClientError);
  // The timers of headersTimeout start with 'listening'; this server never listens itself.
  http1.emit('listening');
  takeOverConnections(app.server, config.firstBytesTimeoutMs, deps, (socket) => {
    socket.setNoDelay(true);
    // As http.Server's own sockets: a client that half-closes still gets its answers.
    socket.allowHalfOpen = true;
    http1.emit('connection', socket);
    socket.resume();
  });
  let isClosing = false;
  app.addHook('onRequest', (request, reply, done) => {
    // Answers sent while the node closes end their HTTP/1 connection (fastify adds the header
    // to requests that arrive after close began; this covers those already running).
    if (isClosing && request.raw.httpVersionMajor !== 2) reply.header('connection', 'close');
    done();
  });
  app.addHook('preClose', (done) => {
    isClosing = true;
    http1.closeIdleConnections();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    http1.closeAllConnections();
    // Stops the headers-timeout timer; the server never listened, so close reports that.
    http1.close(() => done());
  });
  return http1;
}

/**
 * Replaces the HTTP/2 server's 'connection' listeners by a sniffer: once the first bytes show
 * the HTTP/2 preface the listeners run as before; otherwise `onHttp1` takes the socket.
 */
function takeOverConnections(
  server: Http2Server,
  firstBytesTimeoutMs: number,
  deps: Pick<Http1Deps, 'clock' | 'onKafka'>,
  onHttp1: (socket: Socket) => void,
): void {
  const { clock, onKafka } = deps;
  const forward = server.listeners('connection');
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    let head: Buffer = Buffer.alloc(0);
    const cancel = clock.schedule(firstBytesTimeoutMs, () => socket.destroy());
    const onError = (): void => {
      cancel();
      socket.destroy();
    };
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const isKafka = onKafka === undefined ? false : isKafkaFrameStart(head);
      if (isKafka === undefined) return;
      const protocol = isKafka ? 'kafka' : protocolOf(head);
      if (protocol === undefined) return;
      cancel();
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      socket.unshift(head);
      // HTTP/2 reads what was unshifted itself (Http2Session reads a socket's buffered data).
      if (protocol === 'h2c')
        for (const listener of forward) Reflect.apply(listener, server, [socket]);
      else if (protocol === 'kafka') onKafka?.(socket);
      else onHttp1(socket);
    };
    socket.on('error', onError);
    socket.on('data', onData);
    socket.once('close', cancel);
  });
}

/** Answers on an HTTP/1 response in the API's error shape and closes the connection after. */
function answer(response: ServerResponse, error: ApiError): void {
  const { status, headers, body } = errorResponse(error);
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    connection: 'close',
  });
  response.end(text);
}

/** http.Server's errors before a request exists (malformed, headers too slow or too large). */
function onClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  const refusal =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new ApiError('REQUEST_BODY_TIMEOUT', 'the request headers did not arrive in time')
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? new ApiError('INVALID_REQUEST', 'the request headers are too large')
        : new ApiError('INVALID_REQUEST', `malformed HTTP/1.1 request (${error.code ?? 'error'})`);
  const { status, headers, body } = errorResponse(refusal);
  const text = JSON.stringify(body);
  const lines = [`HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : 'Bad Request'}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  lines.push('content-type: application/json', `content-length: ${Buffer.byteLength(text)}`);
  lines.push('connection: close', '', text);
  socket.end(lines.join('\r\n'), () => socket.destroy());
}
