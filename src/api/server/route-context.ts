// What every route module of the server is given: the fastify types of the h2c app and the
// RouteContext (broker, limits, metrics, clock, forwarding port). Its own module so that routes
// and server.ts do not import each other.
import type { Http2Server, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RouteGenericInterface,
} from 'fastify';
import type { Broker } from '../../broker/index.ts';
import type { WallClock } from '../../common/index.ts';
import type { HttpExchange } from '../wire.ts';
import type { ServerMetrics } from './server-metrics.ts';

export type RillApp = FastifyInstance<
  Http2Server,
  Http2ServerRequest,
  Http2ServerResponse,
  FastifyBaseLogger
>;
export type RillRequest<R extends RouteGenericInterface = RouteGenericInterface> = FastifyRequest<
  R,
  Http2Server,
  Http2ServerRequest
>;
export type RillReply<R extends RouteGenericInterface = RouteGenericInterface> = FastifyReply<
  R,
  Http2Server,
  Http2ServerRequest,
  Http2ServerResponse
>;

/** The request bounds routes check (a subset of ServerConfig). */
export interface RouteLimits {
  /** Largest maxBytes a fetch may ask for. */
  readonly fetchBytesMax: number;
  /** Longest maxWaitMs a fetch may ask for, and timeoutMs a produce may ask for. */
  readonly waitMsMax: number;
}

export interface RouteContext {
  readonly broker: Broker;
  readonly config: RouteLimits;
  readonly metrics: ServerMetrics;
  readonly wallClock: WallClock;
  /** Sends a produce to the partition's leader; the server closes it when it closes. */
  readonly forwarder: HttpExchange;
  /** Aborts once the request's stream closes before its work is done (stream-guard.ts). */
  readonly signalOf: (request: RillRequest) => AbortSignal;
}
