// Goal: the request guards' pure parts — which media types and query names each route takes
// (route-inputs.ts) and how fastify's own errors become API codes (fastify-errors.ts).
// Method: direct calls; errors compared by code and status through errorResponse.
import { describe, expect, test } from 'vitest';
import { errorResponse } from '../../../src/api/errors.ts';
import { fromFastify } from '../../../src/api/server/fastify-errors.ts';
import { isPlainObject } from '../../../src/api/server/request-checks.ts';
import {
  bodyKindOf,
  checkRouteInput,
  clientRoutes,
  routeInputOf,
} from '../../../src/api/server/route-inputs.ts';

function outcome(run: () => unknown): { status: number; code: string } | 'ok' {
  try {
    run();
    return 'ok';
  } catch (error) {
    const response = errorResponse(error);
    return { status: response.status, code: response.body.error.code };
  }
}

const produce = routeInputOf('POST', '/v1/topics/:topic/partitions/:partition/records');
const configs = routeInputOf('PUT', '/v1/topics/:topic/configs');
const fetchInput = routeInputOf('GET', '/v1/topics/:topic/partitions/:partition/records');

describe('route inputs', () => {
  test('media types by their type, ignoring parameters and case', () => {
    expect(bodyKindOf('application/json; charset=utf-8')).toBe('json');
    expect(bodyKindOf(' APPLICATION/JSON ')).toBe('json');
    expect(bodyKindOf('application/vnd.rill.batch;v=1')).toBe('batch');
    expect(bodyKindOf('application/jsonx')).toBeNull();
    expect(bodyKindOf('text/plain')).toBeNull();
    expect(bodyKindOf('')).toBeNull();
  });

  test('the partition produce takes JSON and batches; PUT configs JSON only', () => {
    expect(outcome(() => checkRouteInput(produce, {}, 'application/vnd.rill.batch'))).toBe('ok');
    expect(outcome(() => checkRouteInput(produce, {}, 'application/json'))).toBe('ok');
    const batchOnConfigs = () => checkRouteInput(configs, {}, 'application/vnd.rill.batch');
    expect(outcome(batchOnConfigs)).toEqual({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    const text = () => checkRouteInput(produce, {}, 'text/plain');
    expect(outcome(text)).toEqual({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  test('a route without a body ignores JSON and batches and refuses other types', () => {
    expect(outcome(() => checkRouteInput(fetchInput, {}, 'application/json'))).toBe('ok');
    const text = () => checkRouteInput(fetchInput, {}, 'text/plain');
    expect(outcome(text)).toEqual({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  test('no content-type is left to the route', () => {
    expect(outcome(() => checkRouteInput(configs, {}, undefined))).toBe('ok');
  });

  test('only the query names a route reads', () => {
    expect(outcome(() => checkRouteInput(produce, { acks: '1', timeoutMs: '5' }, undefined))).toBe(
      'ok',
    );
    const unknown = () => checkRouteInput(produce, { offset: '0' }, undefined);
    expect(outcome(unknown)).toEqual({ status: 400, code: 'INVALID_REQUEST' });
    const proto = () => checkRouteInput(produce, JSON.parse('{"__proto__": "x"}'), undefined);
    expect(outcome(proto)).toEqual({ status: 400, code: 'INVALID_REQUEST' });
  });

  test('every client route has an entry, HEAD uses GET, internal routes take JSON only', () => {
    expect(clientRoutes.length).toBeGreaterThan(10);
    expect(routeInputOf('HEAD', '/v1/topics')).toBe(routeInputOf('GET', '/v1/topics'));
    expect(routeInputOf('POST', '/internal/v1/raft/messages')).toEqual({
      query: [],
      bodies: ['json'],
    });
    expect(() => routeInputOf('POST', '/v1/unlisted')).toThrow(/no entry/);
  });

  test('a binary body is not a JSON object', () => {
    expect(isPlainObject(Buffer.from('{}'))).toBe(false);
    expect(isPlainObject(new Uint8Array(2))).toBe(false);
    expect(isPlainObject({})).toBe(true);
  });
});

describe('fastify errors in API terms', () => {
  function fastifyError(code: string, statusCode: number): Error {
    return Object.assign(new Error(`${code} happened`), { code, statusCode });
  }

  test.each([
    ['FST_ERR_CTP_BODY_TOO_LARGE', 413, 413, 'RECORD_LIST_TOO_LARGE'],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 415, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400, 400, 'INVALID_REQUEST'],
    ['FST_ERR_CTP_EMPTY_JSON_BODY', 400, 400, 'INVALID_REQUEST'],
    ['FST_ERR_BAD_URL', 400, 400, 'INVALID_REQUEST'],
    ['FST_ERR_NOT_FOUND', 404, 404, 'NOT_FOUND'],
    ['FST_ERR_SOMETHING_NEW', 405, 404, 'NOT_FOUND'],
    ['FST_ERR_SOMETHING_NEW', 414, 400, 'INVALID_REQUEST'],
    ['FST_ERR_SOMETHING_NEW', 503, 503, 'BROKER_NOT_READY'],
    ['FST_ERR_REP_ALREADY_SENT', 500, 500, 'UNKNOWN_SERVER_ERROR'],
  ])('%s (%i) answers %i %s', (code, statusCode, status, apiCode) => {
    const response = errorResponse(fromFastify(fastifyError(code, statusCode)));
    expect({ status: response.status, code: response.body.error.code }).toEqual({
      status,
      code: apiCode,
    });
  });

  test('a JSON syntax error fastify marked 400 is INVALID_REQUEST', () => {
    const syntax = Object.assign(new SyntaxError('Unexpected token'), { statusCode: 400 });
    expect(errorResponse(fromFastify(syntax)).body.error.code).toBe('INVALID_REQUEST');
  });

  test('an error without a status stays a bug', () => {
    expect(errorResponse(fromFastify(new TypeError('x'))).status).toBe(500);
  });
});
