// A recorded history of client operations against one or more partitions, as a checker reads
// it: every produce and fetch with the process that issued it, when it was invoked and when its
// answer arrived (null: never), and the answer — ok, a definite failure, or unknown (a timeout
// or a dropped connection: the write may or may not have happened). Values are unique per
// produce, so a value names the write that put it. The simulator, the real-process properties
// and `npm run chaos` all record into this one shape (issue 10).

export type PartitionKey = string;

export type ProduceOutcome =
  | { readonly kind: 'ok'; readonly offset: number; readonly leaderEpoch?: number }
  /** Refused before anything was appended (e.g. NOT_ENOUGH_REPLICAS): never in the log. */
  | { readonly kind: 'refused'; readonly code: string }
  /** Failed after the append may have happened, timed out, or never answered. */
  | { readonly kind: 'unknown'; readonly code?: string };

export interface ReadRecord {
  readonly offset: number;
  readonly value: string;
}

export type FetchOutcome =
  | {
      readonly kind: 'ok';
      readonly records: readonly ReadRecord[];
      readonly highWatermark: number;
      readonly logStartOffset?: number;
      readonly leaderEpoch?: number;
    }
  | { readonly kind: 'fail'; readonly code: string };

export interface ProduceOp {
  readonly type: 'produce';
  readonly index: number;
  readonly process: string;
  readonly partition: PartitionKey;
  readonly value: string;
  readonly acks: 'all' | '1';
  readonly startMs: number;
  endMs: number | null;
  outcome: ProduceOutcome;
}

export interface FetchOp {
  readonly type: 'fetch';
  readonly index: number;
  readonly process: string;
  readonly partition: PartitionKey;
  readonly fromOffset: number;
  readonly startMs: number;
  endMs: number | null;
  outcome: FetchOutcome | null;
}

export type Op = ProduceOp | FetchOp;

/** Bound of one recorded history: a run that records more is cut short with an error. */
export const historyOpsMax = 2_000_000;

export class History {
  readonly ops: Op[] = [];

  produce(
    process: string,
    partition: PartitionKey,
    value: string,
    acks: 'all' | '1',
    startMs: number,
  ): ProduceOp {
    const op: ProduceOp = {
      type: 'produce',
      index: this.#nextIndex(),
      process,
      partition,
      value,
      acks,
      startMs,
      endMs: null,
      outcome: { kind: 'unknown' },
    };
    this.ops.push(op);
    return op;
  }

  fetch(process: string, partition: PartitionKey, fromOffset: number, startMs: number): FetchOp {
    const op: FetchOp = {
      type: 'fetch',
      index: this.#nextIndex(),
      process,
      partition,
      fromOffset,
      startMs,
      endMs: null,
      outcome: null,
    };
    this.ops.push(op);
    return op;
  }

  /** Records an answer; a second answer to the same operation is ignored (a duplicate reply). */
  complete<T extends Op>(op: T, outcome: T['outcome'], endMs: number): void {
    if (op.endMs !== null) return;
    op.endMs = endMs;
    op.outcome = outcome;
  }

  #nextIndex(): number {
    if (this.ops.length >= historyOpsMax) {
      throw new Error(`history longer than historyOpsMax (${historyOpsMax}) operations`);
    }
    return this.ops.length;
  }
}

/** One line per operation, for a failure report. */
export function describeOp(op: Op): string {
  const at = `[${op.startMs}..${op.endMs ?? '?'}ms] ${op.process} ${op.partition}`;
  if (op.type === 'produce') {
    const outcome = op.outcome;
    const result =
      outcome.kind === 'ok'
        ? `ok @${outcome.offset}${outcome.leaderEpoch === undefined ? '' : ` e${outcome.leaderEpoch}`}`
        : `${outcome.kind}${outcome.code === undefined ? '' : ` ${outcome.code}`}`;
    return `#${op.index} ${at} produce ${JSON.stringify(op.value)} acks=${op.acks} → ${result}`;
  }
  const outcome = op.outcome;
  if (outcome === null) return `#${op.index} ${at} fetch @${op.fromOffset} → no answer`;
  if (outcome.kind === 'fail')
    return `#${op.index} ${at} fetch @${op.fromOffset} → ${outcome.code}`;
  const records = outcome.records.map((r) => `${r.offset}=${JSON.stringify(r.value)}`);
  const shown = records.length > 6 ? [...records.slice(0, 6), '…'] : records;
  const epoch = outcome.leaderEpoch === undefined ? '' : ` e${outcome.leaderEpoch}`;
  return `#${op.index} ${at} fetch @${op.fromOffset} → hw ${outcome.highWatermark}${epoch} [${shown.join(' ')}]`;
}
