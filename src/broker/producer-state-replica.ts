// One replica's producer state with its I/O: the leader's append guard (the check runs inside
// the log's append turn, so two concurrent produces cannot both pass it), the follower's record
// of replicated batches, truncation, the rebuild at open (snapshot + replay of the log after
// it) and the periodic snapshot and expiry. Invariant: the table reflects every idempotent
// batch below `#stateEndOffset`, and a snapshot never claims more than that.
import {
  batchSize,
  lastOffsetOf,
  readBatchHeader,
  type BatchHeader,
  type LeaderAppendGuard,
  type PartitionLogApi,
} from '../log/index.ts';
import { assertNever } from '../common/index.ts';
import { BrokerError } from './errors.ts';
import {
  ProducerStateTable,
  addSequence,
  producerEpochMax,
  runRecordsMax,
  type BatchIdentity,
  type ProducerStateConfig,
  type ProducerStateSnapshot,
} from './producer-state.ts';
import type { ProducerStateFiles } from './producer-state-store.ts';

/** Bytes read per step of the replay at open. */
const replayReadBytes = 1024 * 1024;

/**
 * Produces parked per partition until an earlier request of their producer is appended
 * (sequenceGapWaitersMax): beyond it a produce is checked at once (OUT_OF_ORDER_SEQUENCE_NUMBER
 * or UNKNOWN_PRODUCER_ID if it is ahead, as without the wait).
 */
export const sequenceGapWaitersMax = 1000;

/**
 * The identity of a produce's batches, or null when none is idempotent (producerId -1). Several
 * batches are one unit: the same id and epoch, each sequence following on the one before, so the
 * produce spans the first batch's base sequence and their total record count (it is appended,
 * or found a retry, as a whole). Codes: INVALID_RECORD (idempotent and plain batches mixed, ids
 * or epochs differing, sequences not following on, a negative epoch or sequence, an id below
 * -1), UNKNOWN_PRODUCER_ID (an id no node can have issued).
 */
export function producerIdentityOf(headers: readonly BatchHeader[]): BatchIdentity | null {
  if (headers.every((header) => header.producerId === -1n)) return null;
  const first = headers[0];
  if (first === undefined) throw new BrokerError('INVALID_RECORD', 'no record batch');
  checkStamp(first);
  let produce = identity(first);
  for (const header of headers.slice(1)) {
    checkStamp(header);
    if (header.producerId !== first.producerId || header.producerEpoch !== first.producerEpoch) {
      throw new BrokerError(
        'INVALID_RECORD',
        'the batches of an idempotent produce must carry one producer id and epoch',
      );
    }
    const next = addSequence(produce.baseSequence, produce.recordCount);
    const recordCount = produce.recordCount + header.lastOffsetDelta + 1;
    if (header.baseSequence !== next || recordCount > runRecordsMax) {
      throw new BrokerError(
        'INVALID_RECORD',
        `batch sequence ${header.baseSequence} does not follow on the batch before (${next})`,
      );
    }
    produce = { ...produce, recordCount };
  }
  return produce;
}

/** A stamped batch header's own checks (INVALID_RECORD, UNKNOWN_PRODUCER_ID). */
function checkStamp(header: BatchHeader): void {
  if (header.producerId < 0n) {
    throw new BrokerError('INVALID_RECORD', `producer id ${header.producerId} is negative`);
  }
  if (header.producerId > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new BrokerError(
      'UNKNOWN_PRODUCER_ID',
      `producer id ${header.producerId} was never issued`,
    );
  }
  if (header.producerEpoch < 0) {
    throw new BrokerError('INVALID_RECORD', `producer epoch ${header.producerEpoch} is negative`);
  }
  if (header.baseSequence < 0) {
    throw new BrokerError('INVALID_RECORD', `base sequence ${header.baseSequence} is negative`);
  }
}

function identity(header: BatchHeader): BatchIdentity {
  return {
    producerId: Number(header.producerId),
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    recordCount: header.lastOffsetDelta + 1,
  };
}

/** A replicated batch's identity when it is a well-formed idempotent one, else null. */
function replicatedIdentity(header: BatchHeader): BatchIdentity | null {
  const id = header.producerId;
  if (id < 0n || id > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  if (header.producerEpoch < 0 || header.producerEpoch > producerEpochMax) return null;
  if (header.baseSequence < 0 || header.lastOffsetDelta < 0) return null;
  return identity(header);
}

/** See ReplicaProducerState.gapWait. */
export type GapWait =
  'in-turn' | 'busy' | { readonly promise: Promise<void>; readonly cancel: () => void };

export class ReplicaProducerState {
  readonly #table: ProducerStateTable;
  readonly #files: ProducerStateFiles | null;
  readonly #log: PartitionLogApi;
  /** The table reflects every idempotent batch below this offset. */
  #stateEndOffset: number;
  /** Batches recorded (or dropped) since the last snapshot. */
  #changes = 0;
  /**
   * By producer id: wake-ups of produces that arrived ahead of their producer's next sequence
   * (HTTP/2 streams of one client finish in any order, where Kafka's one connection keeps its
   * requests in order); at most sequenceGapWaitersMax in all.
   */
  readonly #gapWaiters = new Map<number, Set<() => void>>();
  #gapWaiterCount = 0;

  constructor(config: ProducerStateConfig, log: PartitionLogApi, files: ProducerStateFiles | null) {
    this.#table = new ProducerStateTable(config);
    this.#files = files;
    this.#log = log;
    this.#stateEndOffset = files === null ? log.logEndOffset : log.logStartOffset;
  }

  get table(): ProducerStateTable {
    return this.#table;
  }

  /**
   * For a produce ahead of its producer's next sequence here (ProducerStateTable.isAhead): a
   * promise resolved when that producer next appends here, or on truncation — the caller
   * bounds the wait and calls `cancel` after it. 'in-turn' when the produce is not ahead (any
   * more); 'busy' when sequenceGapWaitersMax produces wait already.
   */
  gapWait(batch: BatchIdentity, wallMs: number): GapWait {
    if (!this.#table.isAhead(batch, wallMs)) return 'in-turn';
    if (this.#gapWaiterCount >= sequenceGapWaitersMax) return 'busy';
    const waiters = this.#gapWaiters.get(batch.producerId) ?? new Set<() => void>();
    this.#gapWaiters.set(batch.producerId, waiters);
    let wake: () => void = () => {};
    const promise = new Promise<void>((resolve) => {
      wake = resolve;
    });
    waiters.add(wake);
    this.#gapWaiterCount += 1;
    const cancel = (): void => {
      if (!waiters.delete(wake)) return;
      this.#gapWaiterCount -= 1;
      if (waiters.size === 0 && this.#gapWaiters.get(batch.producerId) === waiters) {
        this.#gapWaiters.delete(batch.producerId);
      }
      wake();
    };
    return { promise, cancel };
  }

  /** Wakes the produces waiting for `producerId` (all of them for null). */
  #wakeGapWaiters(producerId: number | null): void {
    const sets =
      producerId === null ? [...this.#gapWaiters.values()] : [this.#gapWaiters.get(producerId)];
    if (producerId === null) this.#gapWaiters.clear();
    else this.#gapWaiters.delete(producerId);
    for (const waiters of sets) {
      if (waiters === undefined) continue;
      this.#gapWaiterCount -= waiters.size;
      for (const wake of waiters) wake();
      waiters.clear(); // A later cancel() finds nothing to remove.
    }
  }

  /** The leader's guard for one produce: the check and the record happen inside its turn. */
  guard(batch: BatchIdentity | null, wallMs: number): LeaderAppendGuard {
    return {
      beforeAppend: () => {
        if (batch === null) return null;
        const decided = this.#table.check(batch, wallMs);
        switch (decided.kind) {
          case 'append':
            return null;
          case 'duplicate':
            return { baseOffset: decided.baseOffset, lastOffset: decided.lastOffset };
          case 'refused':
            throw new BrokerError(decided.code, decided.message);
          default:
            return assertNever(decided, 'producer check');
        }
      },
      afterAppend: (baseOffset, lastOffset) => {
        if (batch !== null) {
          this.#table.record(batch, baseOffset, lastOffset, wallMs);
          this.#changes += 1;
          this.#wakeGapWaiters(batch.producerId);
        }
        this.#stateEndOffset = Math.max(this.#stateEndOffset, lastOffset + 1);
      },
    };
  }

  /** A follower appended these batches (as its leader wrote them). */
  onReplicated(batches: Uint8Array, wallMs: number): void {
    let position = 0;
    while (position < batches.length) {
      const header = readBatchHeader(batches, position);
      const batch = replicatedIdentity(header);
      if (batch !== null) {
        this.#table.record(batch, header.baseOffset, lastOffsetOf(header), wallMs);
        this.#changes += 1;
      }
      this.#stateEndOffset = Math.max(this.#stateEndOffset, lastOffsetOf(header) + 1);
      position += batchSize(header);
    }
  }

  truncateTo(offset: number): void {
    this.#wakeGapWaiters(null);
    this.#table.truncateTo(offset);
    this.#stateEndOffset = Math.min(this.#stateEndOffset, offset);
    this.#changes += 1;
  }

  truncateFullyAndStartAt(offset: number): void {
    this.#wakeGapWaiters(null);
    this.#table.clear();
    this.#stateEndOffset = offset;
    this.#changes += 1;
  }

  /**
   * Rebuilds the state at open: the snapshot (if any, and readable), cut to the log's end,
   * then every batch of the log after it. Without files there is nothing to rebuild from.
   */
  async load(wallMs: number): Promise<void> {
    const files = this.#files;
    if (files === null) return;
    const snapshot = parseSnapshot(await files.load());
    const log = this.#log;
    let from = log.logStartOffset;
    if (snapshot !== null && snapshot.endOffset >= log.logStartOffset) {
      try {
        this.#table.restore(snapshot);
        this.#table.truncateTo(log.logEndOffset);
        from = Math.min(snapshot.endOffset, log.logEndOffset);
      } catch {
        // A file that parses but breaks the table's invariants is disk input, not a bug here:
        // the full replay below rebuilds the same state without it.
        this.#table.clear();
      }
    }
    this.#stateEndOffset = from;
    while (from < log.logEndOffset) {
      const read = await log.read(from, replayReadBytes, log.logEndOffset);
      let bytes: Buffer;
      try {
        bytes = await files.readSlices(read.slices);
      } finally {
        read.release();
      }
      if (read.nextOffset <= from) break;
      this.onReplicated(bytes, wallMs);
      from = read.nextOffset;
    }
    this.#stateEndOffset = Math.max(this.#stateEndOffset, from);
  }

  /** Expires idle producers and writes a snapshot when anything changed since the last one. */
  async maintain(wallMs: number): Promise<void> {
    if (this.#table.expire(wallMs) > 0) this.#changes += 1;
    if (this.#files === null || this.#changes === 0) return;
    const changes = this.#changes;
    const endOffset = Math.min(this.#stateEndOffset, this.#log.logEndOffset);
    const snapshot = this.#table.snapshot(endOffset);
    await this.#files.save(JSON.stringify(snapshot));
    this.#changes -= changes;
  }
}

/** A snapshot file's content, or null when absent or unreadable (the replay starts over). */
function parseSnapshot(text: string | null): ProducerStateSnapshot | null {
  if (text === null) return null;
  try {
    const parsed = JSON.parse(text) as Partial<ProducerStateSnapshot>;
    if (parsed.version !== 1 || !Number.isSafeInteger(parsed.endOffset)) return null;
    if (!Array.isArray(parsed.producers)) return null;
    return parsed as ProducerStateSnapshot;
  } catch {
    return null; // A torn or foreign file: replaying the whole log rebuilds the same state.
  }
}
