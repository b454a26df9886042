// Chooses partitions: keyed records by Kafka's murmur2 (../murmur2.ts); null-key records stick
// to one partition per topic until its batch is full or sent, then move to another at random,
// as Kafka's sticky partitioner (KIP-480) does, so null-key traffic fills whole batches. Pure:
// the randomness comes through the Random port. At most topicsMax topics are remembered.
import { assert, type Random } from '../../common/index.ts';
import { partitionForKey } from '../wire.ts';

export class StickyPartitioner {
  readonly #random: Random;
  readonly #topicsMax: number;
  /** topic → its current sticky partition; insertion order is the eviction order. */
  readonly #sticky = new Map<string, number>();

  constructor(config: { topicsMax: number }, deps: { random: Random }) {
    assert(Number.isInteger(config.topicsMax) && config.topicsMax > 0, 'topicsMax must be > 0');
    this.#topicsMax = config.topicsMax;
    this.#random = deps.random;
  }

  /** The partition for a record without an explicit one. */
  partition(topic: string, key: Uint8Array | null, partitionCount: number): number {
    assert(Number.isInteger(partitionCount) && partitionCount > 0, 'partitionCount must be > 0');
    if (key !== null) return partitionForKey(key, partitionCount);
    const current = this.#sticky.get(topic);
    if (current !== undefined && current < partitionCount) return current;
    return this.#choose(topic, partitionCount, -1);
  }

  /** A batch of `topic`/`partition` is full or sent: if it was the sticky one, stick elsewhere. */
  onBatchComplete(topic: string, partition: number, partitionCount: number): void {
    if (this.#sticky.get(topic) !== partition) return;
    this.#choose(topic, partitionCount, partition);
  }

  #choose(topic: string, partitionCount: number, previous: number): number {
    let next = this.#random.int(partitionCount);
    // Never the partition just left, when there is another: that is the point of switching.
    if (partitionCount > 1 && next === previous) next = (next + 1) % partitionCount;
    this.#sticky.delete(topic);
    if (this.#sticky.size >= this.#topicsMax) {
      const oldest = this.#sticky.keys().next();
      if (oldest.done !== true) this.#sticky.delete(oldest.value);
    }
    this.#sticky.set(topic, next);
    return next;
  }
}
