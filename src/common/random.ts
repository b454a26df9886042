// A seeded random port. Cores take `Random`, never Math.random, so a simulator replays any run
// from its seed. The generator is pure-rand's xoroshiro128+.
import { xoroshiro128plus, unsafeUniformIntDistribution } from 'pure-rand';
import { assert } from './assert.ts';

export interface Random {
  /** A uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
}

export class SeededRandom implements Random {
  readonly #rng;
  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), `seed ${seed} must be a safe integer`);
    this.#rng = xoroshiro128plus(seed | 0);
  }
  int(maxExclusive: number): number {
    assert(Number.isInteger(maxExclusive) && maxExclusive > 0, 'maxExclusive must be positive');
    return unsafeUniformIntDistribution(0, maxExclusive - 1, this.#rng);
  }
  /** A float in [0, 1) with 2^-30 resolution, for probabilities. */
  chance(probability: number): boolean {
    return this.int(1 << 30) < probability * (1 << 30);
  }
}

/** 128 random bits as 32 hex digits (topic ids, cluster ids, incarnations). */
export function randomId(random: Random): string {
  let id = '';
  for (let i = 0; i < 8; i += 1) id += random.int(0x10000).toString(16).padStart(4, '0');
  return id;
}
