// Goal: the one cluster-secret check every layer uses accepts exactly the configured secret
// (as a single header value), and accepts anything when no secret is configured.
import { expect, test } from 'vitest';
import { clusterSecretCheck, clusterSecretHeader } from '../../../src/common/index.ts';

test('the check accepts the secret and refuses anything else', () => {
  const check = clusterSecretCheck('s3cret');
  expect(check('s3cret')).toBe(true);
  for (const wrong of ['', 's3cre', 's3cret ', 'S3CRET', undefined, null, ['s3cret'], 7]) {
    expect(check(wrong), JSON.stringify(wrong)).toBe(false);
  }
});

test('without a secret every request passes', () => {
  const check = clusterSecretCheck(null);
  expect(check(undefined)).toBe(true);
  expect(check('anything')).toBe(true);
});

test('the header name is the one API.md documents', () => {
  expect(clusterSecretHeader).toBe('x-rill-cluster-secret');
});
