// Goal: one error catalog for server and client. Every code a node may answer has a status and a
// retriable flag; the broker, the API and the client agree on retriable for every code; the
// client knows every server code; 503 answers carry Retry-After and no 2xx/3xx status is used.
import { describe, expect, test } from 'vitest';
import {
  apiErrorCatalog,
  apiErrorCodes,
  ApiError,
  errorResponse,
  isApiErrorCode,
} from '../../../src/api/errors.ts';
import { ClientError, isBrokerErrorCode } from '../../../src/api/client/client-error.ts';
import { BrokerError, brokerErrorCatalog, brokerErrorCodes } from '../../../src/broker/errors.ts';

describe('error catalogs', () => {
  test('every broker code is an API code with the same retriable flag', () => {
    expect(brokerErrorCodes.length).toBeGreaterThan(0);
    for (const code of brokerErrorCodes) {
      expect(isApiErrorCode(code), code).toBe(true);
      expect(apiErrorCatalog[code].retriable, code).toBe(brokerErrorCatalog[code].retriable);
      expect(new BrokerError(code, 'x').retriable, code).toBe(new ApiError(code, 'x').retriable);
    }
  });

  test('every API code has an error status and the client agrees on retriable', () => {
    expect(apiErrorCodes.length).toBe(Object.keys(apiErrorCatalog).length);
    for (const code of apiErrorCodes) {
      const { status, retriable } = apiErrorCatalog[code];
      expect(Number.isInteger(status) && status >= 400 && status <= 599, code).toBe(true);
      expect(isBrokerErrorCode(code), code).toBe(true);
      expect(new ClientError(code, 'x').retriable, code).toBe(retriable);
      expect(new ApiError(code, 'x').retriable, code).toBe(retriable);
    }
  });

  test('the answers the issue found inconsistent now agree', () => {
    // 421 was non-retriable in ApiError (status < 500) but retriable in BrokerError.
    expect(new ApiError('NOT_LEADER_OR_FOLLOWER', 'x').retriable).toBe(true);
    expect(new ApiError('FENCED_LEADER_EPOCH', 'x').retriable).toBe(true);
    // A 500 is a bug on the server: retrying the same request does not help.
    expect(new ApiError('UNKNOWN_SERVER_ERROR', 'x').retriable).toBe(false);
    expect(new ClientError('UNKNOWN_SERVER_ERROR', 'x').retriable).toBe(false);
  });

  test('an error answer carries its catalog status, Retry-After only on 503', () => {
    for (const code of apiErrorCodes) {
      const response = errorResponse(new ApiError(code, 'm', { leader: 1 }));
      expect(response.status, code).toBe(apiErrorCatalog[code].status);
      expect(response.body.error, code).toEqual({ code, message: 'm', leader: 1 });
      expect('retry-after' in response.headers, code).toBe(response.status === 503);
    }
    const bug = errorResponse(new Error('boom'));
    expect(bug.status).toBe(500);
    expect(bug.body.error.code).toBe('UNKNOWN_SERVER_ERROR');
    expect(isApiErrorCode('CLIENT_TIMEOUT')).toBe(false);
  });
});
