// The web console on the node's port: GET / (the page), GET /console/* (its fixed list of
// static files, with ETag and cache headers, gzip when accepted), GET /v1/console/events (the
// live view as server-sent events, docs/console.md) and the write gate: a mutation sent by a
// browser (it carries an Origin header, or the console's x-rill-console header) is refused with
// 403 CONSOLE_WRITE_DISABLED unless the node runs with --console-write, and even then a browser
// mutation must carry x-rill-console, which a page of another origin cannot send without a
// CORS preflight that this node never grants. Other clients (curl, the rill client) are unaffected.
import type { Clock, WallClock } from '../../common/index.ts';
import { ApiError } from '../errors.ts';
import type { HttpExchange } from '../wire.ts';
import { sendError } from '../server/fastify-errors.ts';
import { enumQuery, topicParam, type Query } from '../server/request-checks.ts';
import type { RillApp, RillReply, RillRequest } from '../server/route-context.ts';
import type { ServerMetrics } from '../server/server-metrics.ts';
import { ConsoleAssets } from './console-assets.ts';
import { ConsoleFeed, defaultConsoleFeedConfig, type ConsoleFeedConfig } from './console-feed.ts';
import { NodeSampler, nodeSampleIntervalMs, type NodeTotals } from './console-history.ts';
import { sampleGroupLags } from './console-lag.ts';
import { getOwn, readConsole, type ConsoleNodeBody } from './console-reader.ts';
import { CheckpointWatcher } from './console-streams.ts';

/** The header the console's own fetches carry. */
export const consoleHeader = 'x-rill-console';

export interface ConsoleOptions {
  /** --console-write: mutations from the console are served. */
  readonly write: boolean;
  readonly feed?: Partial<ConsoleFeedConfig>;
  /** How often every node samples its totals for the charts (default nodeSampleIntervalMs). */
  readonly sampleIntervalMs?: number;
}

export interface ConsoleDeps {
  readonly clock: Clock;
  readonly wallClock: WallClock;
  readonly forwarder: HttpExchange;
  readonly metrics: ServerMetrics;
  readonly nodeId: () => number;
  /** The cluster's broker URLs: the only origins whose pages may read this node's GETs. */
  readonly brokerUrls: () => readonly string[];
}

const mutatingMethods = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

/** Why a request is refused by the console write gate, or null when it may pass. */
export function consoleWriteRefusal(
  method: string,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  write: boolean,
): string | null {
  if (!mutatingMethods.has(method)) return null;
  const fromConsole = headers[consoleHeader] !== undefined;
  const fromBrowser = fromConsole || headers['origin'] !== undefined;
  if (!fromBrowser) return null;
  if (!write) return 'this node serves the console read-only (start it with --console-write)';
  if (!fromConsole) return `a browser's change must come from the console (${consoleHeader})`;
  return null;
}

/** Registers the console's routes and gate; returns the feed (stopped when the app closes). */
export function registerConsole(
  app: RillApp,
  options: ConsoleOptions,
  deps: ConsoleDeps,
): ConsoleFeed {
  app.addHook('onRequest', (request, reply, done) => {
    const refusal = consoleWriteRefusal(request.method, request.headers, options.write);
    if (refusal === null) return done();
    void sendError(deps.metrics, request, reply, new ApiError('CONSOLE_WRITE_DISABLED', refusal));
  });
  // The console on one node reads records from the partition's leader on another: a GET from
  // a page served by one of the cluster's own nodes may read the answer (CORS), nothing else.
  app.addHook('onSend', (request, reply, payload, done) => {
    const origin = request.headers['origin'];
    const isRead = request.method === 'GET' || request.method === 'HEAD';
    if (isRead && typeof origin === 'string' && deps.brokerUrls().includes(origin)) {
      reply.header('access-control-allow-origin', origin).header('vary', 'origin');
    }
    done(null, payload);
  });
  const assets = new ConsoleAssets();
  const serveAsset = async (request: RillRequest, reply: RillReply, path: string) => {
    if (!assets.has(path)) throw new ApiError('NOT_FOUND', `no console file ${path.slice(0, 200)}`);
    const asset = await assets.get(path);
    reply.header('etag', asset.etag).header('cache-control', asset.cacheControl);
    reply.header('vary', 'accept-encoding').type(asset.type);
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    const accepts = String(request.headers['accept-encoding'] ?? '').includes('gzip');
    if (accepts) reply.header('content-encoding', 'gzip');
    return reply.send(accepts ? asset.gzip : asset.body);
  };
  app.get('/', (request, reply) => serveAsset(request, reply, '/'));
  app.get('/console/*', (request, reply) =>
    serveAsset(request, reply, request.url.split('?')[0] ?? ''),
  );
  const sampleIntervalMs = options.sampleIntervalMs ?? nodeSampleIntervalMs;
  const checkpoints = new CheckpointWatcher({
    app,
    forwarder: deps.forwarder,
    nodeId: deps.nodeId,
  });
  const feed = new ConsoleFeed(
    { ...defaultConsoleFeedConfig, ...options.feed },
    {
      sampleIntervalMs,
      clock: deps.clock,
      wallClock: deps.wallClock,
      read: (withHistory, watched) =>
        readConsole(
          {
            app,
            forwarder: deps.forwarder,
            nodeId: deps.nodeId,
            consoleWrite: options.write,
            checkpoints,
          },
          withHistory,
          watched,
        ),
      onReadError: (error) => app.log.warn({ err: error }, 'console read failed'),
      onIdle: () => checkpoints.clear(),
    },
  );
  app.get<{ Querystring: Query }>('/v1/console/events', (request, reply) =>
    streamEvents(feed, request, reply),
  );
  const totals = async (): Promise<NodeTotals> => ({
    producedRecords: await counterValue(deps.metrics.produceRecords),
    consumedRecords: await counterValue(deps.metrics.consumerFetchRecords),
  });
  const sampler = new NodeSampler({
    intervalMs: sampleIntervalMs,
    schedule: (delayMs, run) => deps.clock.schedule(delayMs, run),
    wallMs: () => deps.wallClock.wallMs(),
    totals,
    groupLags: () => sampleGroupLags(app),
  });
  app.get<{ Querystring: Query }>('/v1/console/node', async (request): Promise<ConsoleNodeBody> => {
    const history = enumQuery(request.query, 'history', ['true', 'false'] as const, 'false');
    return {
      nodeId: deps.nodeId(),
      raft: await getOwn<Record<string, unknown>>(app, '/v1/raft'),
      totals: await totals(),
      ...(history === 'true' ? { history: sampler.history } : {}),
    };
  });
  // Before the server waits for its connections: an open stream would hold it open.
  app.addHook('preClose', (done) => {
    feed.stop();
    sampler.stop();
    done();
  });
  return feed;
}

async function counterValue(counter: ServerMetrics['produceRecords']): Promise<number> {
  return (await counter.get()).values[0]?.value ?? 0;
}

/** Holds the response open as text/event-stream until the client goes away. */
function streamEvents(
  feed: ConsoleFeed,
  request: RillRequest<{ Querystring: Query }>,
  reply: RillReply<{ Querystring: Query }>,
): Promise<void> | RillReply<{ Querystring: Query }> {
  // A topic page beyond the first consoleTopicsMax asks for its topic by name.
  const asked = request.query['topic'];
  const topic = asked === undefined ? null : topicParam(asked);
  const head = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' };
  if (request.method === 'HEAD') return reply.code(200).headers(head).send();
  feed.checkRoom();
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, head);
  // The first bytes tell the browser the stream is open even before the first read is done.
  raw.write(': rill console\n\n');
  const unsubscribe = feed.subscribe(
    {
      send: (event, data) => {
        raw.write(`event: ${event}\ndata: ${data}\n\n`);
      },
      close: () => raw.end(),
    },
    topic,
  );
  return new Promise((resolve) => {
    request.raw.once('close', () => {
      unsubscribe();
      resolve();
    });
  });
}
