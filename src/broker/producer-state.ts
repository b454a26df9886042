// One partition's idempotent-producer state (Kafka's ProducerStateManager): per producer id its
// epoch and the sequence ranges and offsets of its last five runs — a run is one or more batches
// written back to back (sequences and offsets both dense), e.g. one produce of several batches.
// Pure: the leader checks a produce with check() inside the log's append turn (atomically with
// offset assignment) and records it with record(); a follower records the batches it replicates
// (which join into the same runs), so the state moves with leadership. Sequences are int32 and
// wrap from 2^31-1 to 0, as Kafka's do. Invariant: every entry's runs are in offset order, at
// most batchesPerProducer, each dense (as many sequences as offsets, at most runRecordsMax).
import { assert } from '../common/index.ts';

/**
 * Runs remembered per producer (Kafka's NUM_BATCHES_TO_RETAIN, of batches there): the client's
 * in-flight max. Each produce adds at most one run, so a retry of any of the last five produces
 * is recognised whatever their batch counts.
 */
export const batchesPerProducer = 5;
/** Most sequences one run spans (half the sequence space, so a run never wraps onto itself). */
export const runRecordsMax = 0x40000000;
/** Largest sequence number; the next one is 0 (Kafka's DefaultRecordBatch.incrementSequence). */
export const sequenceMax = 0x7fffffff;
/** Largest producer epoch (int16); init-producer then hands out a new id. */
export const producerEpochMax = 0x7fff;

/** The identity a batch header carries (producerId ≥ 0 only: -1 means "not idempotent"). */
export interface BatchIdentity {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  /**
   * Records in the batch (lastOffsetDelta + 1): the batch spans that many sequences. For a
   * produce of several batches, their total (their sequences must follow on one another).
   */
  readonly recordCount: number;
}

/** A run: sequences firstSequence … lastSequence (wrapping) at offsets baseOffset … lastOffset. */
export interface ProducerBatchEntry {
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

export interface ProducerEntry {
  readonly producerId: number;
  readonly producerEpoch: number;
  /** Runs, oldest first; at most batchesPerProducer (the name is the snapshot format's). */
  readonly batches: readonly ProducerBatchEntry[];
  /** Wall time of the last batch this replica recorded: expiry counts from here. */
  readonly lastAppendMs: number;
}

export type ProducerCheck =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly baseOffset: number; readonly lastOffset: number }
  | {
      readonly kind: 'refused';
      readonly code:
        'OUT_OF_ORDER_SEQUENCE_NUMBER' | 'INVALID_PRODUCER_EPOCH' | 'UNKNOWN_PRODUCER_ID';
      readonly message: string;
    };

export interface ProducerStateConfig {
  /** Producers remembered per partition; a new one evicts the longest idle (Kafka has none). */
  readonly producersMax: number;
  /** producer.id.expiration.ms: a producer idle this long is forgotten. */
  readonly expirationMs: number;
}

export const defaultProducerStateConfig: ProducerStateConfig = {
  producersMax: 10_000,
  expirationMs: 86_400_000,
};

/** The sequence `increment` after `sequence`, wrapping at sequenceMax. */
export function addSequence(sequence: number, increment: number): number {
  return sequence > sequenceMax - increment
    ? increment - (sequenceMax - sequence) - 1
    : sequence + increment;
}

/** Snapshot form: the state of every batch below `endOffset`, as plain JSON. */
export interface ProducerStateSnapshot {
  readonly version: 1;
  readonly endOffset: number;
  readonly producers: readonly ProducerEntry[];
}

export class ProducerStateTable {
  readonly #config: ProducerStateConfig;
  /** By producer id; Map order is least recently appended first (re-inserted on each append). */
  readonly #entries = new Map<number, ProducerEntry>();

  constructor(config: ProducerStateConfig = defaultProducerStateConfig) {
    assert(Number.isInteger(config.producersMax) && config.producersMax > 0, 'producersMax > 0');
    assert(Number.isSafeInteger(config.expirationMs) && config.expirationMs > 0, 'expiration > 0');
    this.#config = config;
  }

  get size(): number {
    return this.#entries.size;
  }

  entry(producerId: number): ProducerEntry | undefined {
    return this.#entries.get(producerId);
  }

  /**
   * Decides a batch (or a produce's batches) of a known producer id (the image vouched for the
   * id and epoch): append, answer its offsets when its sequences lie within a remembered run (a
   * retry), or refuse — OUT_OF_ORDER_SEQUENCE_NUMBER (a gap, an overlap, or a new epoch not
   * starting at 0), INVALID_PRODUCER_EPOCH (older than this partition saw), UNKNOWN_PRODUCER_ID
   * (no state here, expired or evicted, and the sequence is not 0).
   */
  check(batch: BatchIdentity, nowMs: number): ProducerCheck {
    assertIdentity(batch);
    const entry = this.#live(batch.producerId, nowMs);
    if (entry === undefined) {
      if (batch.baseSequence === 0) return { kind: 'append' };
      return refused(
        'UNKNOWN_PRODUCER_ID',
        `producer ${batch.producerId} has no state on this partition (expired or never ` +
          `written) and sequence ${batch.baseSequence} is not 0: re-initialise the producer`,
      );
    }
    if (batch.producerEpoch < entry.producerEpoch) {
      return refused(
        'INVALID_PRODUCER_EPOCH',
        `producer ${batch.producerId} epoch ${batch.producerEpoch} is older than ` +
          `${entry.producerEpoch}: a newer instance fenced it`,
      );
    }
    if (batch.producerEpoch > entry.producerEpoch) {
      if (batch.baseSequence === 0) return { kind: 'append' };
      return refused(
        'OUT_OF_ORDER_SEQUENCE_NUMBER',
        `producer ${batch.producerId} epoch ${batch.producerEpoch} must start at sequence 0, ` +
          `not ${batch.baseSequence}`,
      );
    }
    for (const run of entry.batches) {
      const at = sequenceDistance(run.firstSequence, batch.baseSequence);
      if (at + batch.recordCount <= run.lastOffset - run.baseOffset + 1) {
        const baseOffset = run.baseOffset + at;
        return { kind: 'duplicate', baseOffset, lastOffset: baseOffset + batch.recordCount - 1 };
      }
    }
    const last = entry.batches.at(-1);
    const expected = last === undefined ? 0 : addSequence(last.lastSequence, 1);
    if (batch.baseSequence === expected) return { kind: 'append' };
    return refused(
      'OUT_OF_ORDER_SEQUENCE_NUMBER',
      `producer ${batch.producerId} epoch ${batch.producerEpoch}: expected sequence ` +
        `${expected}, got ${batch.baseSequence}`,
    );
  }

  /**
   * Does the batch lie ahead of its producer's next sequence here — a gap after the last run
   * at the same epoch, or (no state here) a sequence other than 0? Such a batch most likely
   * overtook an earlier request of the same producer; a retry or an older epoch is not ahead.
   */
  isAhead(batch: BatchIdentity, nowMs: number): boolean {
    assertIdentity(batch);
    const entry = this.#live(batch.producerId, nowMs);
    if (entry === undefined) return batch.baseSequence !== 0;
    const last = entry.batches.at(-1);
    if (batch.producerEpoch !== entry.producerEpoch || last === undefined) return false;
    const ahead = sequenceDistance(addSequence(last.lastSequence, 1), batch.baseSequence);
    return ahead > 0 && ahead < runRecordsMax;
  }

  /**
   * Records a batch (or a produce's batches) written at [baseOffset, lastOffset]: a leader's
   * checked append, or a batch a follower replicated. It extends the producer's last run when
   * it follows on it in both sequence and offset, else starts a run (the oldest beyond
   * batchesPerProducer dropped). A new epoch starts afresh; a new producer beyond producersMax
   * evicts the one idle longest.
   */
  record(batch: BatchIdentity, baseOffset: number, lastOffset: number, nowMs: number): void {
    assertIdentity(batch);
    assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, `bad offset ${baseOffset}`);
    assert(lastOffset >= baseOffset, 'lastOffset ≥ baseOffset');
    const previous = this.#entries.get(batch.producerId);
    const runs =
      previous === undefined || previous.producerEpoch !== batch.producerEpoch
        ? []
        : previous.batches;
    this.#entries.delete(batch.producerId);
    if (this.#entries.size >= this.#config.producersMax) {
      const idlest = this.#entries.keys().next();
      if (idlest.done !== true) this.#entries.delete(idlest.value);
    }
    this.#entries.set(batch.producerId, {
      producerId: batch.producerId,
      producerEpoch: Math.max(batch.producerEpoch, previous?.producerEpoch ?? 0),
      batches: withBatch(runs, batch, baseOffset, lastOffset),
      lastAppendMs: Math.max(nowMs, previous?.lastAppendMs ?? nowMs),
    });
  }

  /** The log lost every offset ≥ `offset` (a follower's truncation): so does the state. */
  truncateTo(offset: number): void {
    for (const [id, entry] of this.#entries) {
      if (entry.batches.every((run) => run.lastOffset < offset)) continue;
      const batches: ProducerBatchEntry[] = [];
      for (const run of entry.batches) {
        if (run.lastOffset < offset) batches.push(run);
        else if (run.baseOffset < offset) {
          // The run's records below the offset stay: a prefix of a dense run is dense.
          const lastSequence = addSequence(run.firstSequence, offset - 1 - run.baseOffset);
          batches.push({ ...run, lastSequence, lastOffset: offset - 1 });
        }
      }
      if (batches.length === 0) this.#entries.delete(id);
      else this.#entries.set(id, { ...entry, batches });
    }
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Forgets producers idle for expirationMs (Kafka's removeExpiredProducers). */
  expire(nowMs: number): number {
    let removed = 0;
    for (const [id, entry] of this.#entries) {
      if (nowMs - entry.lastAppendMs < this.#config.expirationMs) continue;
      this.#entries.delete(id);
      removed += 1;
    }
    return removed;
  }

  /** The state of the batches below `endOffset` (the caller's durable, applied end). */
  snapshot(endOffset: number): ProducerStateSnapshot {
    const copy = new ProducerStateTable(this.#config);
    for (const entry of this.#entries.values()) copy.#entries.set(entry.producerId, entry);
    copy.truncateTo(endOffset);
    return { version: 1, endOffset, producers: [...copy.#entries.values()] };
  }

  /** Replaces the state with a snapshot's (order kept: least recently appended first). */
  restore(snapshot: ProducerStateSnapshot): void {
    assert(snapshot.version === 1, `unknown producer snapshot version ${String(snapshot.version)}`);
    this.#entries.clear();
    for (const entry of snapshot.producers) this.#entries.set(entry.producerId, entry);
    this.checkInvariants();
  }

  checkInvariants(): void {
    assert(this.#entries.size <= this.#config.producersMax, 'producers bounded');
    for (const [id, entry] of this.#entries) {
      assert(id === entry.producerId, 'keyed by its id');
      assert(entry.batches.length > 0, 'a remembered producer has a batch');
      assert(entry.batches.length <= batchesPerProducer, 'batches bounded');
      for (const run of entry.batches) {
        const records = run.lastOffset - run.baseOffset + 1;
        assert(records > 0 && records <= runRecordsMax, 'a run spans 1 … runRecordsMax');
        assert(addSequence(run.firstSequence, records - 1) === run.lastSequence, 'runs dense');
      }
      for (let i = 1; i < entry.batches.length; i += 1) {
        const before = entry.batches[i - 1] as ProducerBatchEntry;
        const batch = entry.batches[i] as ProducerBatchEntry;
        // Sequences are not asserted dense: a follower records whatever its leader's log holds.
        assert(batch.baseOffset > before.lastOffset, 'batches in offset order');
      }
    }
  }

  #live(producerId: number, nowMs: number): ProducerEntry | undefined {
    const entry = this.#entries.get(producerId);
    if (entry === undefined || nowMs - entry.lastAppendMs < this.#config.expirationMs) return entry;
    this.#entries.delete(producerId);
    return undefined;
  }
}

/** How many sequences `to` lies after `from`, wrapping: in [0, 2^31). */
function sequenceDistance(from: number, to: number): number {
  return to >= from ? to - from : sequenceMax - from + 1 + to;
}

/** `runs` with the batch at [baseOffset, lastOffset] joined to the last run or appended. */
function withBatch(
  runs: readonly ProducerBatchEntry[],
  batch: BatchIdentity,
  baseOffset: number,
  lastOffset: number,
): readonly ProducerBatchEntry[] {
  const last = runs.at(-1);
  const lastSequence = addSequence(batch.baseSequence, batch.recordCount - 1);
  if (
    last !== undefined &&
    batch.baseSequence === addSequence(last.lastSequence, 1) &&
    baseOffset === last.lastOffset + 1 &&
    lastOffset - last.baseOffset + 1 <= runRecordsMax
  ) {
    return [...runs.slice(0, -1), { ...last, lastSequence, lastOffset }];
  }
  const added = { firstSequence: batch.baseSequence, lastSequence, baseOffset, lastOffset };
  return [...runs.slice(-(batchesPerProducer - 1)), added];
}

function refused(
  code: Extract<ProducerCheck, { kind: 'refused' }>['code'],
  message: string,
): ProducerCheck {
  return { kind: 'refused', code, message };
}

function assertIdentity(batch: BatchIdentity): void {
  assert(Number.isSafeInteger(batch.producerId) && batch.producerId >= 0, 'producerId ≥ 0');
  assert(batch.producerEpoch >= 0 && batch.producerEpoch <= producerEpochMax, 'epoch is int16');
  assert(batch.baseSequence >= 0 && batch.baseSequence <= sequenceMax, 'sequence is int32 ≥ 0');
  assert(batch.recordCount > 0 && batch.recordCount <= sequenceMax, 'recordCount > 0');
}
