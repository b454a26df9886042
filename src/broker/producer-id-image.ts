// The producer ids part of the metadata image (DESIGN.md §5): the next id never handed out, and
// named producers (name → id, epoch). Applied by every node in log order, so blocks never
// overlap across controller failovers and every partition leader can tell a forged id (never
// issued) or a fenced epoch from a current one. Snapshot form: {nextProducerId, names: [[name,
// id, epoch], …]}, oldest started first. Blocks need no reclaiming: the image holds one counter
// for all of them (a node's unused rest of a block is simply never issued), the names are
// bounded by producerNamesMax, and ids run out only after 2^53 (refused, never wrapped).
import { assert } from '../common/index.ts';
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import { producerEpochMax } from './producer-state.ts';

/** Limits every node enforces identically at apply time. */
export const producerIdLimits = {
  /** Ids per allocate-producer-ids block (Kafka's PRODUCER_ID_BLOCK_SIZE). */
  blockSizeMax: 1000,
  /** Named producers remembered; a new name beyond it drops the one started longest ago. */
  producerNamesMax: 10_000,
  producerNameCharsMax: 255,
  /** Ids stay exact in JSON and in a double: 2^53. */
  producerIdMax: Number.MAX_SAFE_INTEGER,
} as const;

export interface NamedProducer {
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface ProducerIdSnapshot {
  readonly nextProducerId: number;
  readonly names: readonly (readonly [string, number, number])[];
}

/** What a partition leader asks of the image about a batch's producer id and epoch. */
export type ProducerIdVerdict =
  | { readonly kind: 'current' }
  | { readonly kind: 'unknown'; readonly message: string }
  | { readonly kind: 'fenced'; readonly message: string };

type Refusal = Extract<MetadataResult, { ok: false }>;

export class ProducerIdImage {
  #nextProducerId = 0;
  /** By name; Map order is the order of the latest init-producer (oldest first). */
  readonly #names = new Map<string, NamedProducer>();
  /**
   * Named producers by id: their current epoch, which only init-producer raises. An anonymous
   * id's epoch is the producer's own: it may raise it itself (KIP-360's client-side bump, which
   * librdkafka makes after UNKNOWN_PRODUCER_ID), and the partition's state orders its epochs.
   */
  readonly #epochById = new Map<number, { name: string; epoch: number }>();

  get nextProducerId(): number {
    return this.#nextProducerId;
  }
  get namedCount(): number {
    return this.#names.size;
  }
  named(name: string): NamedProducer | undefined {
    return this.#names.get(name);
  }

  /** Is (id, epoch) the current identity of an issued producer id? */
  verdict(producerId: number, producerEpoch: number): ProducerIdVerdict {
    if (producerId >= this.#nextProducerId) {
      return { kind: 'unknown', message: `producer id ${producerId} was never issued` };
    }
    const named = this.#epochById.get(producerId);
    if (named === undefined) return { kind: 'current' };
    const epoch = named.epoch;
    if (producerEpoch < epoch) {
      return {
        kind: 'fenced',
        message: `producer ${producerId} epoch ${producerEpoch} was fenced by epoch ${epoch}`,
      };
    }
    if (producerEpoch > epoch) {
      return {
        kind: 'unknown',
        message: `producer ${producerId} epoch ${producerEpoch} was never issued (latest ${epoch})`,
      };
    }
    return { kind: 'current' };
  }

  allocate(c: Extract<MetadataCommand, { type: 'allocate-producer-ids' }>): MetadataResult {
    if (!Number.isSafeInteger(c.nodeId) || c.nodeId < 0) return invalid('nodeId');
    const count = c.count;
    if (!Number.isInteger(count) || count < 1 || count > producerIdLimits.blockSizeMax) {
      return invalid(`count must be in [1, ${producerIdLimits.blockSizeMax}]`);
    }
    const first = this.#nextProducerId;
    if (first + count > producerIdLimits.producerIdMax) return invalid('producer ids exhausted');
    this.#nextProducerId = first + count;
    return { ok: true, producerId: first };
  }

  initProducer(c: Extract<MetadataCommand, { type: 'init-producer' }>): MetadataResult {
    const name = c.name;
    if (typeof name !== 'string' || name.length === 0) return invalid('name');
    if (name.length > producerIdLimits.producerNameCharsMax) return invalid('name too long');
    const previous = this.#names.get(name);
    let next: NamedProducer;
    if (previous !== undefined && previous.producerEpoch < producerEpochMax) {
      next = { producerId: previous.producerId, producerEpoch: previous.producerEpoch + 1 };
    } else {
      // A new name, or the epoch is spent: a fresh id (Kafka does the same at Short.MAX_VALUE).
      if (this.#nextProducerId + 1 > producerIdLimits.producerIdMax) {
        return invalid('producer ids exhausted');
      }
      next = { producerId: this.#nextProducerId, producerEpoch: 0 };
      this.#nextProducerId += 1;
    }
    if (previous !== undefined) this.#forget(name);
    if (this.#names.size >= producerIdLimits.producerNamesMax) {
      const oldest = this.#names.keys().next();
      if (oldest.done !== true) this.#forget(oldest.value);
    }
    this.#names.set(name, next);
    this.#epochById.set(next.producerId, { name, epoch: next.producerEpoch });
    return { ok: true, ...next };
  }

  #forget(name: string): void {
    const known = this.#names.get(name);
    if (known === undefined) return;
    this.#names.delete(name);
    // Memory stays bounded: a name dropped at producerNamesMax leaves its id at epoch 0 again
    // (an instance at a later epoch then answers UNKNOWN_PRODUCER_ID and re-initialises).
    this.#epochById.delete(known.producerId);
  }

  snapshot(): ProducerIdSnapshot {
    const names = [...this.#names].map(
      ([name, p]) => [name, p.producerId, p.producerEpoch] as const,
    );
    return { nextProducerId: this.#nextProducerId, names };
  }

  /** Older snapshots have no producer ids: undefined starts from id 0. */
  restore(snapshot: ProducerIdSnapshot | undefined): void {
    this.#nextProducerId = snapshot?.nextProducerId ?? 0;
    this.#names.clear();
    this.#epochById.clear();
    for (const [name, producerId, producerEpoch] of snapshot?.names ?? []) {
      this.#names.set(name, { producerId, producerEpoch });
      this.#epochById.set(producerId, { name, epoch: producerEpoch });
    }
    this.checkInvariants();
  }

  checkInvariants(): void {
    assert(Number.isSafeInteger(this.#nextProducerId), 'next producer id is an integer');
    assert(this.#names.size <= producerIdLimits.producerNamesMax, 'names bounded');
    assert(this.#epochById.size === this.#names.size, 'one epoch entry per name');
    for (const named of this.#names.values()) {
      assert(named.producerId < this.#nextProducerId, 'a named id was issued');
    }
  }
}

function invalid(what: string): Refusal {
  return { ok: false, code: 'INVALID_COMMAND', message: `producer ids: bad ${what}` };
}
