// The node's HTTP/2 server: fastify 5 over h2c with enlarged flow-control windows (the default
// 64 KiB windows cap a connection near a quarter of the transport's ceiling), a bound on
// concurrent streams and on body size. Client routes live under /v1, node-to-node routes
// under /internal/v1 behind the cluster secret. Every failure answers API.md's error shape.
// The stream guard (stream-guard.ts) bounds work per connection and per node, cancels the work
// of reset streams and closes rapid-reset, slowloris and idle connections. HTTP/1.1 clients
// (probes, Prometheus, curl) are served on the same port through the same routes (http1.ts).
import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import type {
  Http2Server,
  Http2ServerRequest,
  Http2ServerResponse,
  Http2Session,
} from 'node:http2';
import fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import {
  GroupCoordinator,
  defaultGroupCoordinatorConfig,
  type Broker,
  type GroupCoordinatorConfig,
} from '../../broker/index.ts';
import type { SyncTimings } from '../../log/index.ts';
import {
  assert,
  clusterSecretCheck,
  clusterSecretHeader,
  SeededRandom,
  type Clock,
  type Random,
  type WallClock,
} from '../../common/index.ts';
import { registerConsole } from '../console/console-routes.ts';
import { ApiError } from '../errors.ts';
import { coordinatorPartition } from '../murmur2.ts';
import { batchContentType, type HttpExchange } from '../wire.ts';
import {
  frameworkErrorsHandler,
  fromFastify,
  registerRequestGuards,
  requestLoggerFactory,
  sendError,
} from './fastify-errors.ts';
import type { RillApp, RillRequest, RouteContext } from './route-context.ts';
import { registerClusterRoutes } from './routes/cluster-routes.ts';
import { registerGroupRoutes } from './routes/group-routes.ts';
import { registerProducerRoutes } from './routes/producer-routes.ts';
import { registerRecordRoutes } from './routes/record-routes.ts';
import { registerReplicaRoutes } from './routes/replica-routes.ts';
import { registerTopicProduceRoute } from './routes/topic-produce-route.ts';
import { registerTopicRoutes } from './routes/topic-routes.ts';
import { serveHttp1 } from './http1.ts';
import { defaultKafkaConfig, KafkaListener, type KafkaConfig } from '../kafka/index.ts';
import { ServerMetrics } from './server-metrics.ts';
import { readSlices } from './slice-sender.ts';
import {
  isHttp2,
  type RawStreamHandler,
  StreamGuard,
  type StreamGuardConfig,
} from './stream-guard.ts';

/** DATA frames on closed streams tolerated per session before nghttp2 sends GOAWAY. */
const invalidFramesMax = 8192;

export interface ServerConfig extends StreamGuardConfig {
  /** Largest request body (JSON or binary); larger answers 413 RECORD_LIST_TOO_LARGE. */
  readonly bodyBytesMax: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection. */
  readonly streamsPerSessionMax: number;
  /** Per-stream flow-control window (SETTINGS_INITIAL_WINDOW_SIZE). */
  readonly streamWindowBytes: number;
  /** Per-connection receive window. */
  readonly sessionWindowBytes: number;
  /** An idle HTTP/2 session is closed after this long. */
  readonly sessionIdleTimeoutMs: number;
  /** Largest maxBytes a fetch may ask for. */
  readonly fetchBytesMax: number;
  /** Longest maxWaitMs a fetch may ask for, and timeoutMs a produce may ask for. */
  readonly waitMsMax: number;
  /** Required on /internal/v1 requests when not null. */
  readonly clusterSecret: string | null;
  /** The Kafka listener on the same port (docs/kafka.md); defaultKafkaConfig when absent. */
  readonly kafka?: KafkaConfig;
}

/** A node-to-node route, framework-agnostic (e.g. the Raft transport's handleRequest). */
export interface InternalRoute {
  readonly method: 'GET' | 'POST';
  /** Must start with /internal/v1/. */
  readonly path: string;
  handle(
    body: unknown,
    headers: Readonly<Record<string, string | string[] | undefined>>,
  ): { status: number; body: unknown } | Promise<{ status: number; body: unknown }>;
}

/** A long-lived node-to-node stream served without fastify (the Raft transport's stream). */
export interface InternalStreamRoute {
  /** Must start with /internal/v1/; served for POST over HTTP/2. */
  readonly path: string;
  accept: RawStreamHandler;
}

export interface ServerDeps {
  readonly broker: Broker;
  readonly logger: FastifyBaseLogger;
  readonly wallClock: WallClock;
  /** Timers of the stream guard (body deadlines, idle connections) and its reset rate. */
  readonly clock: Clock;
  /** Resolves after the I/O already received (setImmediate): client handlers start then. */
  readonly afterInput?: () => Promise<void>;
  readonly internalRoutes?: readonly InternalRoute[];
  readonly internalStreams?: readonly InternalStreamRoute[];
  /** The partition logs' fsync durations, for rill_log_flush_duration_seconds. */
  readonly logSyncs?: SyncTimings;
  /** Forwards produce requests to leaders (the client's H2Transport); closed with the server. */
  readonly forwarder: HttpExchange;
  /** Member ids of the group coordinator; a crypto-seeded generator when left out. */
  readonly random?: Random;
  /** The group coordinator's settings over defaultGroupCoordinatorConfig. */
  readonly groups?: Partial<GroupCoordinatorConfig>;
  /** --console-write: the web console may change the cluster (docs/console.md). */
  readonly consoleWrite?: boolean;
  /** How often the console's per-node samples are taken (tests; default 10 s). */
  readonly consoleSampleIntervalMs?: number;
}

export type { RillApp, RillReply, RillRequest, RouteContext } from './route-context.ts';
export { sendError } from './fastify-errors.ts';

export async function buildServer(config: ServerConfig, deps: ServerDeps): Promise<RillApp> {
  assert(
    config.sessionIdleTimeoutMs > config.waitMsMax,
    'a parked request would outlive its session',
  );
  // fastify hands `http` to http2.createServer for h2c, though its types only allow HTTP/1's.
  const http2Options: object = {
    http: {
      settings: {
        initialWindowSize: config.streamWindowBytes,
        maxConcurrentStreams: config.streamsPerSessionMax,
      },
      // A request refused early (413) leaves up to a stream window of DATA in flight, which
      // nghttp2 counts as invalid frames; the default 1000 would close the whole session.
      maxSessionInvalidFrames: invalidFramesMax,
      // nghttp2 refuses new streams (ENHANCE_YOUR_CALM) while a session holds more than this
      // many MiB; unread request data counts, and the windows allow sessionWindowBytes of it.
      maxSessionMemory: Math.ceil((2 * config.sessionWindowBytes) / (1024 * 1024)),
    },
  };
  const metrics = new ServerMetrics(deps.broker);
  deps.logSyncs?.subscribe((seconds) => metrics.logSyncSeconds.observe(seconds));
  const app: RillApp = fastify<Http2Server, Http2ServerRequest, Http2ServerResponse>({
    ...http2Options,
    http2: true,
    forceCloseConnections: true,
    http2SessionTimeout: config.sessionIdleTimeoutMs,
    bodyLimit: config.bodyBytesMax,
    // Above the 249-character topic limit, so long names reach our check and its message.
    routerOptions: { maxParamLength: 4096 },
    loggerInstance: deps.logger,
    // One log line per request would dominate the log; errors are logged by sendError.
    logController: new LogController({ disableRequestLogging: true }),
    // fastify's own 503 and bad-URL bodies are not API.md's: registerRequestGuards answers
    // BROKER_NOT_READY while closing, and frameworkErrors maps a bad URL.
    return503OnClosing: false,
    frameworkErrors: frameworkErrorsHandler(metrics),
    childLoggerFactory: requestLoggerFactory,
  });
  // Small responses must not wait for Nagle's algorithm (40 ms with delayed ACKs).
  app.server.on('connection', (socket: Socket) => socket.setNoDelay(true));
  app.server.on('session', (session: Http2Session) => {
    session.setLocalWindowSize(config.sessionWindowBytes);
  });
  // Bodies are JSON or batches only: any other type (text/plain too) answers 415.
  app.removeContentTypeParser('text/plain');
  const guard = new StreamGuard(config, {
    clock: deps.clock,
    ...(deps.afterInput === undefined ? {} : { afterInput: deps.afterInput }),
  });
  guard.attach(app.server);
  for (const route of deps.internalStreams ?? []) guard.serveRaw(route.path, route.accept);
  guard.install(app);
  guard.registerMetrics(metrics.registry);
  let kafka: KafkaListener | null = null;
  serveHttp1(
    app,
    {
      headersTimeoutMs: config.requestBodyTimeoutMs,
      keepAliveTimeoutMs: config.connectionIdleTimeoutMs,
      firstBytesTimeoutMs: config.requestBodyTimeoutMs,
    },
    {
      clock: deps.clock,
      admit: (connection, request, response) => guard.admitHttp1(connection, request, response),
      onKafka: (socket) => (kafka === null ? socket.destroy() : kafka.accept(socket)),
    },
  );
  app.addContentTypeParser(batchContentType, { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, body);
  });
  app.setErrorHandler((error, request, reply) =>
    sendError(metrics, request, reply, fromFastify(error)),
  );
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError('NOT_FOUND', `no route ${request.method}`);
    return sendError(metrics, request, reply, error);
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    // fastify asks HTTP/1 to close the connection after a body it could not parse; on HTTP/2
    // Node turns that header into a GOAWAY for the whole session and every stream on it.
    if (isHttp2(request)) reply.removeHeader('connection');
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestSeconds.observe(
      { route, method: request.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    metrics.observeProduce(route, request.query, reply.elapsedTime / 1000);
    done();
  });
  registerInternalRoutes(app, config, metrics, deps.internalRoutes ?? []);
  registerRequestGuards(app, metrics);
  const { broker, wallClock, forwarder } = deps;
  const signalOf = (request: RillRequest): AbortSignal => guard.signalOf(request);
  const context: RouteContext = { broker, config, metrics, wallClock, forwarder, signalOf };
  registerClusterRoutes(app, context);
  registerTopicRoutes(app, context);
  registerRecordRoutes(app, context);
  registerReplicaRoutes(app, context);
  registerTopicProduceRoute(app, context);
  const groups = buildGroupCoordinator(deps);
  registerGroupRoutes(app, context, groups);
  app.addHook('onClose', async () => groups.stop());
  groups.start();
  const kafkaConfig = config.kafka ?? defaultKafkaConfig;
  const logger = deps.logger.child({ module: 'kafka' });
  kafka = new KafkaListener({ ...context, groups, config: kafkaConfig, clock: deps.clock, logger });
  const listener = kafka;
  app.addHook('preClose', (done) => {
    listener.close();
    done();
  });
  registerProducerRoutes(app, context);
  const consoleDeps = { clock: deps.clock, wallClock, forwarder, metrics };
  const nodeId = (): number => broker.nodeId;
  const brokerUrls = (): string[] => broker.describeCluster().brokers.map((b) => b.url);
  const consoleOptions = {
    write: deps.consoleWrite === true,
    ...(deps.consoleSampleIntervalMs === undefined
      ? {}
      : { sampleIntervalMs: deps.consoleSampleIntervalMs }),
  };
  registerConsole(app, consoleOptions, { ...consoleDeps, nodeId, brokerUrls });
  await app.ready();
  return app;
}

function buildGroupCoordinator(deps: ServerDeps): GroupCoordinator {
  return new GroupCoordinator(
    { ...defaultGroupCoordinatorConfig, ...deps.groups },
    {
      broker: deps.broker,
      clock: deps.clock,
      wallClock: deps.wallClock,
      random: deps.random ?? new SeededRandom(randomInt(2 ** 47)),
      logger: deps.logger.child({ module: 'groups' }),
      readBytes: (read) => readSlices(read.slices),
      partitionFor: coordinatorPartition,
    },
  );
}

function registerInternalRoutes(
  app: RillApp,
  config: ServerConfig,
  metrics: ServerMetrics,
  routes: readonly InternalRoute[],
): void {
  const isAuthorized = clusterSecretCheck(config.clusterSecret);
  app.addHook('onRequest', (request, reply, done) => {
    // The matched route, not only the raw URL: a percent-encoded path reaches the same route.
    const route = request.routeOptions.url ?? '';
    const isInternal = route.startsWith('/internal/') || request.url.startsWith('/internal/');
    if (!isInternal || isAuthorized(request.headers[clusterSecretHeader])) return done();
    const refusal = new ApiError('CLUSTER_AUTHORIZATION_FAILED', 'missing or wrong cluster secret');
    void sendError(metrics, request, reply, refusal);
  });
  for (const route of routes) {
    assert(route.path.startsWith('/internal/v1/'), `internal route ${route.path} is outside`);
    app.route({
      method: route.method,
      url: route.path,
      handler: async (request, reply) => {
        const { status, body } = await route.handle(request.body, request.headers);
        return reply.code(status).send(body);
      },
    });
  }
}
