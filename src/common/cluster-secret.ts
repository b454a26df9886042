// The cluster secret nodes send each other on every node-to-node request (/internal/v1): one
// header name and one constant-time check for every layer (the API server, the Raft transport,
// the controller channel, the replica transport). A null secret disables the check.
import { createHash, timingSafeEqual } from 'node:crypto';

export const clusterSecretHeader = 'x-rill-cluster-secret';

/**
 * A check of an incoming header value against `secret`, in time independent of where they
 * differ (both sides are hashed first, so their lengths are equal too).
 */
export function clusterSecretCheck(secret: string | null): (given: unknown) => boolean {
  if (secret === null) return () => true;
  const expected = digest(secret);
  return (given) => typeof given === 'string' && timingSafeEqual(digest(given), expected);
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}
