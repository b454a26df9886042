// Keeps fastify's own answers out of the API: its errors (bad URL, body parsing, limits, content
// length) become src/api/errors.ts codes, and the request guards answer before a body is read —
// unknown route 404 NOT_FOUND, a node closing 503 BROKER_NOT_READY, a query parameter or media
// type the route does not take 400/415 (route-inputs.ts). Every answer has API.md's error shape.
import type { FastifyBaseLogger } from 'fastify';
import { ApiError, errorResponse, isApiErrorCode, type ApiErrorCode } from '../errors.ts';
import type { RillApp, RillReply, RillRequest } from './route-context.ts';
import { checkRouteInput, routeInputOf } from './route-inputs.ts';
import type { ServerMetrics } from './server-metrics.ts';

/** Sends the API error shape; counts it; logs what is a bug. */
export function sendError(
  metrics: ServerMetrics,
  request: RillRequest,
  reply: RillReply,
  error: unknown,
): RillReply {
  const response = errorResponse(error);
  if (response.body.error.code === 'UNKNOWN_SERVER_ERROR') {
    request.log.error({ err: error, url: request.url }, 'request failed with an unexpected error');
  }
  metrics.errors.inc({ code: response.body.error.code });
  return reply.code(response.status).headers(response.headers).send(response.body);
}

/** fastify codes whose HTTP status alone would not say which API code fits. */
const codeByFastifyCode: Readonly<Record<string, ApiErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'RECORD_LIST_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_REQUEST',
  FST_ERR_BAD_URL: 'INVALID_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'INVALID_REQUEST',
};

/** The API code for a client-side (4xx) status fastify or its parsers chose. */
function codeOfClientStatus(status: number): ApiErrorCode {
  if (status === 413) return 'RECORD_LIST_TOO_LARGE';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  if (status === 404 || status === 405) return 'NOT_FOUND';
  return 'INVALID_REQUEST';
}

/**
 * fastify's own failures in API terms: a known FST_ERR_* code, or any error carrying a 4xx
 * statusCode (malformed JSON, a bad header), is the client's fault; a 503 while closing is
 * BROKER_NOT_READY. Anything else stays as it is (a typed error, or a bug → 500).
 */
export function fromFastify(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  if (isApiErrorCode(code)) return error;
  const message = error.message.slice(0, 500);
  if (typeof code === 'string' && Object.hasOwn(codeByFastifyCode, code)) {
    return new ApiError(codeByFastifyCode[code] as ApiErrorCode, message);
  }
  if (typeof statusCode !== 'number') return error;
  if (statusCode >= 400 && statusCode < 500) {
    return new ApiError(codeOfClientStatus(statusCode), message);
  }
  if (statusCode === 503) return new ApiError('BROKER_NOT_READY', message);
  return error;
}

/** fastify's `frameworkErrors` option: a bad URL or an over-long parameter, in our shape. */
export function frameworkErrorsHandler(metrics: ServerMetrics) {
  return (error: Error, request: RillRequest, reply: RillReply): void => {
    const code = (error as { code?: unknown }).code;
    const path = pathOf(request.url);
    const refusal =
      code === 'FST_ERR_BAD_URL'
        ? new ApiError('INVALID_REQUEST', `the path ${path} is not valid percent-encoded UTF-8`)
        : code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new ApiError('INVALID_REQUEST', `a path segment of ${path} is too long`)
          : fromFastify(error);
    void sendError(metrics, request, reply, refusal);
  };
}

/**
 * Installs the guards every request passes before its body is read (after the cluster-secret
 * check): an unmatched route, a node that is closing, or input its route does not take is
 * answered at once. Asserts that every route registered later has an entry in route-inputs.ts.
 */
export function registerRequestGuards(app: RillApp, metrics: ServerMetrics): void {
  let isClosing = false;
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routeInputOf(method, route.url); // asserts an entry
  });
  app.addHook('preClose', (done) => {
    isClosing = true;
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    const url = request.routeOptions.url;
    const input = url === undefined ? undefined : routeInputOf(request.method, url);
    let refusal: ApiError | null = null;
    if (isClosing) refusal = new ApiError('BROKER_NOT_READY', 'the node is shutting down');
    else if (input === undefined) {
      refusal = new ApiError('NOT_FOUND', `no route ${request.method} ${pathOf(request.url)}`);
    } else {
      try {
        checkRouteInput(input, request.query as Record<string, unknown>, contentTypeOf(request));
      } catch (error) {
        refusal = error as ApiError;
      }
    }
    if (refusal === null) return done();
    void sendError(metrics, request, reply, refusal);
  });
}

function contentTypeOf(request: RillRequest): string | undefined {
  const value = request.headers['content-type'];
  return typeof value === 'string' ? value : undefined;
}

/** The path of a URL for a message: bounded, without the query string. */
function pathOf(url: string): string {
  const path = url.split('?')[0] ?? '';
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

/** The methods some route serves; any other is always 404 NOT_FOUND. */
const servedMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE']);

/**
 * fastify's `childLoggerFactory`: a request with a method no route serves logs errors only.
 * fastify answers a method outside its own list through a fallback that logs two warnings and
 * its whole route tree per request — a log flood any client could start.
 */
export function requestLoggerFactory(
  logger: FastifyBaseLogger,
  bindings: Record<string, unknown>,
  options: object,
  rawRequest: { readonly method?: string | undefined },
): FastifyBaseLogger {
  const isServed = servedMethods.has(rawRequest.method ?? '');
  return logger.child(bindings, isServed ? options : { ...options, level: 'error' });
}
