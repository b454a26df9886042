// What each route accepts before any work is done: the query parameter names it reads and the
// body media types it parses. A name not listed answers 400 INVALID_REQUEST, a content type not
// listed 415 UNSUPPORTED_MEDIA_TYPE, both from an onRequest hook (the body is never read).
// Every route must have an entry (checked when it is registered); parameter values are checked
// by the route itself through request-checks.ts, also before any work.
import { assert } from '../../common/index.ts';
import { ApiError } from '../errors.ts';
import { batchContentType } from '../wire.ts';
import { invalid, type Query } from './request-checks.ts';

export type BodyKind = 'json' | 'batch';

export interface RouteInput {
  /** Query parameter names the route reads; any other name is refused. */
  readonly query: readonly string[];
  /** Media types of the body; empty for a route that reads none (a JSON or batch one is ignored). */
  readonly bodies: readonly BodyKind[];
}

const none: RouteInput = { query: [], bodies: [] };
const json: RouteInput = { query: [], bodies: ['json'] };
const produceQuery = ['acks', 'timeoutMs', 'encoding'];

/** Client routes by `METHOD url-pattern`; HEAD uses its GET's entry. */
const routeInputs: Readonly<Record<string, RouteInput>> = {
  'GET /v1/cluster': none,
  'GET /v1/raft': none,
  'GET /healthz': none,
  'GET /readyz': none,
  'GET /metrics': none,
  'POST /v1/topics': json,
  'GET /v1/topics': none,
  'GET /v1/topics/:topic': { query: ['local'], bodies: [] },
  'DELETE /v1/topics/:topic': none,
  'PUT /v1/topics/:topic/configs': json,
  'POST /v1/topics/:topic/partitions/:partition/reassignment': json,
  'POST /v1/topics/:topic/partitions/:partition/records': {
    query: produceQuery,
    bodies: ['json', 'batch'],
  },
  'GET /v1/topics/:topic/partitions/:partition/records': {
    query: ['offset', 'maxBytes', 'maxWaitMs', 'encoding', 'valueFormat'],
    bodies: [],
  },
  'DELETE /v1/topics/:topic/partitions/:partition/records': { query: ['before'], bodies: [] },
  'GET /v1/topics/:topic/partitions/:partition/offsets': { query: ['timestamp'], bodies: [] },
  'POST /v1/topics/:topic/records': { query: produceQuery, bodies: ['json'] },
  'GET /v1/groups': { query: ['local'], bodies: [] },
  'GET /v1/groups/:group': none,
  'DELETE /v1/groups/:group': none,
  'GET /v1/groups/:group/coordinator': none,
  'POST /v1/groups/:group/heartbeat': json,
  'POST /v1/groups/:group/offsets': json,
  'GET /v1/groups/:group/offsets': { query: ['topic'], bodies: [] },
  'POST /v1/groups/:group/offsets/reset': json,
  'POST /v1/producers': json,
  'GET /': none,
  'GET /console/*': none,
  'GET /v1/console/events': { query: ['topic'], bodies: [] },
  'GET /v1/console/node': { query: ['history'], bodies: [] },
};

/** Every client route as `METHOD url-pattern` (tests walk them; docs/api.md lists them). */
export const clientRoutes: readonly string[] = Object.keys(routeInputs);

/** Client routes whose answer never ends by itself (server-sent events): held open by design. */
export const streamRoutes: readonly string[] = ['GET /v1/console/events'];

/** Node-to-node routes (registered by other modules) all take a JSON body and no query. */
const internalInput: RouteInput = json;

/** The entry of a registered route; asserts that a client route has one. */
export function routeInputOf(method: string, url: string): RouteInput {
  if (url.startsWith('/internal/')) return internalInput;
  const key = `${method === 'HEAD' ? 'GET' : method} ${url}`;
  const input = routeInputs[key];
  assert(input !== undefined, `route ${key} has no entry in route-inputs.ts`);
  return input;
}

/** The body kind of a content-type header, or null for any other media type. */
export function bodyKindOf(contentType: string): BodyKind | null {
  const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (mediaType === 'application/json') return 'json';
  if (mediaType === batchContentType) return 'batch';
  return null;
}

/**
 * Refuses a request the route cannot take: INVALID_REQUEST for a query parameter it does not
 * read, UNSUPPORTED_MEDIA_TYPE for a body of a type it does not parse (a route reading none
 * ignores a JSON or batch body and refuses any other). A request without a content-type header
 * is left to the route (an absent body is its INVALID_REQUEST).
 */
export function checkRouteInput(
  input: RouteInput,
  query: Query,
  contentType: string | undefined,
): void {
  for (const name of Object.keys(query)) {
    if (!input.query.includes(name)) {
      const known = input.query.length === 0 ? 'none' : input.query.join(', ');
      throw invalid(`unknown query parameter '${name}' (this route reads: ${known})`);
    }
  }
  if (contentType === undefined) return;
  const kind = bodyKindOf(contentType);
  const bodies: readonly BodyKind[] = input.bodies.length === 0 ? ['json', 'batch'] : input.bodies;
  if (kind === null || !bodies.includes(kind)) {
    const accepted = bodies
      .map((body) => (body === 'json' ? 'application/json' : batchContentType))
      .join(' or ');
    throw new ApiError(
      'UNSUPPORTED_MEDIA_TYPE',
      `content-type '${contentType.slice(0, 100)}' is not accepted here; send ${accepted}`,
    );
  }
}
