// Kafka's key hash: the Java client's `Utils.murmur2` (MurmurHash2, seed 0x9747b28c) over the
// key bytes, and `toPositive(hash) % numPartitions` for the partition, so a key lands on the
// same partition as with any Kafka client. Pure; 32-bit arithmetic through Math.imul and `| 0`.
import { assert } from '../common/index.ts';

const seed = 0x9747b28c;
const m = 0x5bd1e995;
const r = 24;

/** The signed 32-bit murmur2 hash Kafka's Java client computes for `data`. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (seed ^ length) | 0;
  const blockEnd = length & ~3;
  for (let i = 0; i < blockEnd; i += 4) {
    let k =
      (data[i] as number) |
      ((data[i + 1] as number) << 8) |
      ((data[i + 2] as number) << 16) |
      ((data[i + 3] as number) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  // The Java switch falls through: three trailing bytes fold in all three, then multiply.
  const tail = length & 3;
  if (tail === 3) h ^= (data[blockEnd + 2] as number) << 16;
  if (tail >= 2) h ^= (data[blockEnd + 1] as number) << 8;
  if (tail >= 1) h = Math.imul(h ^ (data[blockEnd] as number), m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not Math.abs, which overflows at -2^31). */
export function toPositive(hash: number): number {
  return hash & 0x7fffffff;
}

/** The partition Kafka's built-in partitioner picks for a non-null key. */
export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  assert(Number.isInteger(partitionCount) && partitionCount > 0, 'partitionCount must be > 0');
  return toPositive(murmur2(key)) % partitionCount;
}

/** Kafka's internal topic of committed offsets and group records (DESIGN.md §6). */
export const consumerOffsetsTopic = '__consumer_offsets';

/**
 * The `__consumer_offsets` partition whose leader coordinates `group`: murmur2 of the group
 * id's UTF-8 bytes, made positive, modulo the topic's partition count (server and client agree).
 */
export function coordinatorPartition(group: string, partitionCount: number): number {
  return partitionForKey(new TextEncoder().encode(group), partitionCount);
}
