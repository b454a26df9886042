// The log cleaner's key map: key → the last offset that wrote it, in a fixed buffer sized by
// `log.cleaner.dedupe.buffer.size`, as Kafka's SkimpyOffsetMap. Keys are stored as their MD5
// (16 bytes) beside the offset (8 bytes): 24 bytes a slot, open addressing with linear probing,
// filled to at most 90% so probes stay short. Two keys with one digest would be taken for one
// key (Kafka accepts the same ~2^-64 risk); the map never grows past its buffer.
import { createHash } from 'node:crypto';
import { assert } from '../common/index.ts';

const HASH_BYTES = 16;
/** One slot: the key's digest, then its offset as a float64 (offsets are safe integers). */
export const OFFSET_MAP_SLOT_BYTES = HASH_BYTES + 8;
/** Slots filled at most, of all: beyond it `put` refuses (the clean stops at that batch). */
const LOAD_FACTOR_MAX = 0.9;
const EMPTY = -1;

export class OffsetMap {
  readonly #slots: Buffer;
  readonly #slotCount: number;
  /** Distinct keys the map takes at most: ⌊slots × 0.9⌋. */
  readonly entriesMax: number;
  #entries = 0;

  /** `bufferBytes` is log.cleaner.dedupe.buffer.size: room for at least one key. */
  constructor(bufferBytes: number) {
    assert(Number.isSafeInteger(bufferBytes), 'bufferBytes must be an integer');
    this.#slotCount = Math.floor(bufferBytes / OFFSET_MAP_SLOT_BYTES);
    this.entriesMax = Math.floor(this.#slotCount * LOAD_FACTOR_MAX);
    assert(this.entriesMax >= 1, `a dedupe buffer of ${bufferBytes} bytes holds no key`);
    this.#slots = Buffer.alloc(this.#slotCount * OFFSET_MAP_SLOT_BYTES);
    this.clear();
  }

  get size(): number {
    return this.#entries;
  }

  /** Keys that may still be added. */
  get free(): number {
    return this.entriesMax - this.#entries;
  }

  clear(): void {
    for (let slot = 0; slot < this.#slotCount; slot += 1) {
      this.#slots.writeDoubleBE(EMPTY, slot * OFFSET_MAP_SLOT_BYTES + HASH_BYTES);
    }
    this.#entries = 0;
  }

  /** Records that `key` was written at `offset` (offsets rise); false when the map is full. */
  put(key: Uint8Array, offset: number): boolean {
    assert(Number.isSafeInteger(offset) && offset >= 0, `bad offset ${offset}`);
    const digest = digestOf(key);
    const slot = this.#find(digest);
    const at = slot * OFFSET_MAP_SLOT_BYTES;
    const stored = this.#slots.readDoubleBE(at + HASH_BYTES);
    if (stored === EMPTY) {
      if (this.#entries >= this.entriesMax) return false;
      digest.copy(this.#slots, at);
      this.#entries += 1;
    }
    this.#slots.writeDoubleBE(Math.max(stored, offset), at + HASH_BYTES);
    return true;
  }

  /** The last offset recorded for `key`, or -1. */
  get(key: Uint8Array): number {
    const digest = digestOf(key);
    return this.#slots.readDoubleBE(this.#find(digest) * OFFSET_MAP_SLOT_BYTES + HASH_BYTES);
  }

  /** The slot holding `digest`, or the empty slot where it would go. */
  #find(digest: Buffer): number {
    let slot = digest.readUInt32BE(0) % this.#slotCount;
    for (let probes = 0; probes < this.#slotCount; probes += 1) {
      const at = slot * OFFSET_MAP_SLOT_BYTES;
      if (this.#slots.readDoubleBE(at + HASH_BYTES) === EMPTY) return slot;
      if (this.#slots.compare(digest, 0, HASH_BYTES, at, at + HASH_BYTES) === 0) return slot;
      slot = slot + 1 === this.#slotCount ? 0 : slot + 1;
    }
    // At most 90% of the slots are ever filled, so an empty one exists.
    assert(false, 'offset map has no empty slot');
  }
}

function digestOf(key: Uint8Array): Buffer {
  return createHash('md5').update(key).digest();
}
