// Retry delays: exponential backoff with full-range jitter, as Kafka's retry.backoff.ms and
// retry.backoff.max.ms (KIP-580): base · 2^attempt, capped, then scaled by a random factor in
// [1 - jitter, 1 + jitter) so that clients that failed together do not retry together. Pure.
import { assert, type Random } from '../../common/index.ts';

export interface BackoffConfig {
  readonly backoffMs: number; // retry.backoff.ms: the first delay
  readonly backoffMaxMs: number; // retry.backoff.max.ms: the cap
  readonly jitter: number; // in [0, 1): the spread around the exponential value
}

export const defaultBackoff: BackoffConfig = { backoffMs: 100, backoffMaxMs: 1000, jitter: 0.2 };

/** The delay before retry number `attempt` (0 for the first retry). */
export function backoffDelayMs(config: BackoffConfig, attempt: number, random: Random): number {
  assert(Number.isInteger(attempt) && attempt >= 0, `attempt ${attempt} must be >= 0`);
  assert(config.jitter >= 0 && config.jitter < 1, 'jitter must be in [0, 1)');
  const exponential = Math.min(config.backoffMaxMs, config.backoffMs * 2 ** Math.min(attempt, 30));
  const steps = 1_000_000;
  const factor = 1 - config.jitter + (2 * config.jitter * random.int(steps)) / steps;
  return Math.max(0, Math.round(exponential * factor));
}
