// The history checker (issue 10): from a History of produces and fetches it decides, per
// partition, whether the guarantees of DESIGN.md §7 held, and names the few operations that
// show each violation. Checks: acknowledged acks=all writes not lost; no value at two offsets
// (duplicates); an offset never read as two values; read-your-writes (a fetch that begins after
// an acks=all ack at offset o answers a HW above o and, where its records reach o, the acked
// value); monotonic reads per consumer process (HW and log start never go back); nothing read
// at or above the HW it came with; dense offsets within and across reads; no phantom (a value
// never produced, or refused before append); per-producer order of sequential acked sends.
// `lossAllowed` (log.flush=never, unclean election) keeps only the checks loss cannot excuse.
import { describeOp, type FetchOp, type History, type Op, type ProduceOp } from './history.ts';

export type AnomalyKind =
  | 'lost-write'
  | 'duplicate'
  | 'changed-record'
  | 'read-your-writes'
  | 'monotonic-reads'
  | 'read-above-hw'
  | 'gap'
  | 'phantom'
  | 'order'
  | 'not-delivered'
  | 'delivered-wrong';

export interface Anomaly {
  readonly kind: AnomalyKind;
  readonly partition: string;
  readonly message: string;
  /** The operations that show it, fewest possible, in history order. */
  readonly ops: readonly Op[];
}

export interface CheckOptions {
  /** Acknowledged writes may be lost (flush=never, unclean election): loss checks are off. */
  readonly lossAllowed?: boolean;
  /** Retries without idempotence may store one value twice. */
  readonly duplicatesAllowed?: boolean;
  /** Compaction or retention explains gaps in offsets. */
  readonly gapsAllowed?: boolean;
  /** Anomalies reported per kind and partition at most (the first ones). */
  readonly perKindMax?: number;
}

export interface CheckStats {
  produces: number;
  ackedAll: number;
  ackedOne: number;
  fetches: number;
  recordsRead: number;
  /** acks=all writes no read got far enough to confirm or refute. */
  undecided: number;
}

export interface CheckResult {
  readonly anomalies: readonly Anomaly[];
  /** Every anomaly found per kind, including those left out of `anomalies` by perKindMax. */
  readonly counts: ReadonlyMap<AnomalyKind, number>;
  readonly stats: CheckStats;
}

interface Observation {
  readonly value: string;
  readonly op: FetchOp;
}

type OkFetch = FetchOp & { outcome: Extract<FetchOp['outcome'], { kind: 'ok' }> };
type AckedProduce = ProduceOp & { outcome: Extract<ProduceOp['outcome'], { kind: 'ok' }> };

class Findings {
  readonly anomalies: Anomaly[] = [];
  readonly #counts = new Map<string, number>();
  readonly totals = new Map<AnomalyKind, number>();
  readonly perKindMax: number;
  constructor(perKindMax: number) {
    this.perKindMax = perKindMax;
  }

  add(kind: AnomalyKind, partition: string, message: string, ops: readonly Op[]): void {
    const key = `${kind} ${partition}`;
    const count = this.#counts.get(key) ?? 0;
    this.#counts.set(key, count + 1);
    this.totals.set(kind, (this.totals.get(kind) ?? 0) + 1);
    if (count >= this.perKindMax) return;
    const sorted = [...new Set(ops)].sort((a, b) => a.index - b.index);
    this.anomalies.push({ kind, partition, message, ops: sorted });
  }
}

export function checkHistory(history: History, options: CheckOptions = {}): CheckResult {
  const findings = new Findings(options.perKindMax ?? 5);
  const stats: CheckStats = {
    produces: 0,
    ackedAll: 0,
    ackedOne: 0,
    fetches: 0,
    recordsRead: 0,
    undecided: 0,
  };
  const byPartition = new Map<string, Op[]>();
  for (const op of history.ops) {
    const ops = byPartition.get(op.partition) ?? [];
    ops.push(op);
    byPartition.set(op.partition, ops);
  }
  for (const [partition, ops] of byPartition) {
    checkPartition(partition, ops, options, findings, stats);
  }
  return { anomalies: findings.anomalies, counts: findings.totals, stats };
}

function checkPartition(
  partition: string,
  ops: readonly Op[],
  options: CheckOptions,
  findings: Findings,
  stats: CheckStats,
): void {
  const produces = ops.filter((op): op is ProduceOp => op.type === 'produce');
  const fetches = ops.filter(
    (op): op is OkFetch => op.type === 'fetch' && op.outcome?.kind === 'ok',
  );
  stats.produces += produces.length;
  stats.fetches += fetches.length;
  const acked = produces.filter((op): op is AckedProduce => op.outcome.kind === 'ok');
  stats.ackedAll += acked.filter((op) => op.acks === 'all').length;
  stats.ackedOne += acked.filter((op) => op.acks === '1').length;
  const observed = checkReads(partition, fetches, options, findings, stats);
  const producedBy = new Map(produces.map((op) => [op.value, op]));
  checkValues(partition, observed, producedBy, options, findings);
  if (!options.lossAllowed) {
    checkAcked(partition, acked, observed, findings, stats);
    checkReadYourWrites(partition, acked, fetches, findings);
  }
  checkMonotonic(partition, fetches, options, findings);
  if (!options.lossAllowed) checkShrunkBelowRead(partition, ops, findings);
  // An acks=1 write may be lost and its offset reused: order counts only writes that stayed.
  const stayed = acked.filter(
    (op) => op.acks === 'all' || observed.get(op.outcome.offset)?.value === op.value,
  );
  checkOrder(partition, stayed, findings);
}

/** Per read: nothing at or above its HW, no gap; across reads: an offset keeps its value. */
function checkReads(
  partition: string,
  fetches: readonly OkFetch[],
  options: CheckOptions,
  findings: Findings,
  stats: CheckStats,
): Map<number, Observation> {
  const observed = new Map<number, Observation>();
  for (const op of fetches) {
    const { records, highWatermark } = op.outcome;
    let expected = op.fromOffset;
    for (const record of records) {
      stats.recordsRead += 1;
      if (record.offset >= highWatermark) {
        findings.add(
          'read-above-hw',
          partition,
          `offset ${record.offset} read with HW ${highWatermark}`,
          [op],
        );
      }
      if (!options.gapsAllowed && record.offset !== expected) {
        findings.add(
          'gap',
          partition,
          `read from ${op.fromOffset} went ${expected - 1} → ${record.offset}`,
          [op],
        );
      }
      expected = record.offset + 1;
      const first = observed.get(record.offset);
      if (first === undefined) {
        observed.set(record.offset, { value: record.value, op });
      } else if (first.value !== record.value && !options.lossAllowed) {
        const message = `offset ${record.offset} read as ${JSON.stringify(first.value)}, later ${JSON.stringify(record.value)}`;
        findings.add('changed-record', partition, message, [first.op, op]);
      }
    }
  }
  return observed;
}

/** Every value read was produced and not refused; no value sits at two offsets. */
function checkValues(
  partition: string,
  observed: ReadonlyMap<number, Observation>,
  producedBy: ReadonlyMap<string, ProduceOp>,
  options: CheckOptions,
  findings: Findings,
): void {
  const offsetOf = new Map<string, { offset: number; op: FetchOp }>();
  for (const [offset, { value, op }] of observed) {
    const producer = producedBy.get(value);
    if (producer === undefined) {
      findings.add(
        'phantom',
        partition,
        `offset ${offset} holds ${JSON.stringify(value)}, never produced`,
        [op],
      );
    } else if (producer.outcome.kind === 'refused') {
      const message = `offset ${offset} holds ${JSON.stringify(value)}, refused before append (${producer.outcome.code})`;
      findings.add('phantom', partition, message, [producer, op]);
    }
    const other = offsetOf.get(value);
    if (other !== undefined && !options.duplicatesAllowed) {
      const message = `${JSON.stringify(value)} stored at offsets ${other.offset} and ${offset}`;
      findings.add('duplicate', partition, message, [
        ...(producer ? [producer] : []),
        other.op,
        op,
      ]);
    }
    offsetOf.set(value, { offset, op });
  }
}

/** An acked acks=all write is read back at its offset by any read that got past it. */
function checkAcked(
  partition: string,
  acked: readonly AckedProduce[],
  observed: ReadonlyMap<number, Observation>,
  findings: Findings,
  stats: CheckStats,
): void {
  let readEnd = 0;
  for (const offset of observed.keys()) readEnd = Math.max(readEnd, offset + 1);
  for (const op of acked) {
    if (op.acks !== 'all') continue;
    const offset = op.outcome.offset;
    const seen = observed.get(offset);
    if (seen === undefined) {
      if (offset >= readEnd) stats.undecided += 1;
      else
        findings.add('lost-write', partition, `acked at ${offset}, reads passed it without it`, [
          op,
        ]);
    } else if (seen.value !== op.value) {
      const message = `acked ${JSON.stringify(op.value)} at ${offset}, read ${JSON.stringify(seen.value)} there`;
      findings.add('lost-write', partition, message, [op, seen.op]);
    }
  }
}

/**
 * A fetch begun after an acks=all ack at o answers HW > o, and the acked value where it reaches
 * o. A fetch from an older leader epoch than the ack's is a deposed leader that has not yet
 * heard of its successor: not current, so not held to it. Linear in fetches per distinct ack
 * epoch (suffix minima of HW) plus the records read, so long histories check quickly.
 */
function checkReadYourWrites(
  partition: string,
  acked: readonly AckedProduce[],
  fetches: readonly OkFetch[],
  findings: Findings,
): void {
  const byStart = [...fetches].sort((a, b) => a.startMs - b.startMs);
  const starts = byStart.map((f) => f.startMs);
  const current = (fetch: OkFetch, epoch: number | undefined): boolean =>
    epoch === undefined ||
    fetch.outcome.leaderEpoch === undefined ||
    fetch.outcome.leaderEpoch >= epoch;
  const suffixMin = new Map<number | undefined, Float64Array>();
  const minimaFor = (epoch: number | undefined): Float64Array => {
    let minima = suffixMin.get(epoch);
    if (minima !== undefined) return minima;
    minima = new Float64Array(byStart.length + 1).fill(Infinity);
    for (let i = byStart.length - 1; i >= 0; i -= 1) {
      const fetch = byStart[i] as OkFetch;
      const hw = current(fetch, epoch) ? fetch.outcome.highWatermark : Infinity;
      minima[i] = Math.min(hw, minima[i + 1] as number);
    }
    suffixMin.set(epoch, minima);
    return minima;
  };
  const allAcked = acked.filter((op) => op.acks === 'all' && op.endMs !== null);
  const reported = new Set<AckedProduce>();
  for (const op of allAcked) {
    const { offset, leaderEpoch } = op.outcome;
    const first = firstAfter(starts, op.endMs as number);
    if ((minimaFor(leaderEpoch)[first] as number) > offset) continue;
    const fetch = byStart
      .slice(first)
      .find((f) => current(f, leaderEpoch) && f.outcome.highWatermark <= offset);
    if (fetch === undefined) continue;
    const message = `acked at ${offset}, a later read answered HW ${fetch.outcome.highWatermark}`;
    findings.add('read-your-writes', partition, message, [op, fetch]);
    reported.add(op);
  }
  const ackAt = new Map(allAcked.map((op) => [op.outcome.offset, op]));
  for (const fetch of byStart) {
    for (const record of fetch.outcome.records) {
      const op = ackAt.get(record.offset);
      if (op === undefined || reported.has(op) || record.value === op.value) continue;
      if (fetch.startMs <= (op.endMs as number) || !current(fetch, op.outcome.leaderEpoch))
        continue;
      const message = `acked ${JSON.stringify(op.value)} at ${record.offset}, a later read got ${JSON.stringify(record.value)}`;
      findings.add('read-your-writes', partition, message, [op, fetch]);
      reported.add(op);
    }
  }
}

/** The index of the first start strictly after `ms` in ascending `starts`. */
function firstAfter(starts: readonly number[], ms: number): number {
  let low = 0;
  let high = starts.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((starts[mid] as number) <= ms) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** Per consumer process: HW and log start offset never go back. */
function checkMonotonic(
  partition: string,
  fetches: readonly OkFetch[],
  options: CheckOptions,
  findings: Findings,
): void {
  const last = new Map<string, OkFetch>();
  for (const op of [...fetches].sort((a, b) => a.startMs - b.startMs || a.index - b.index)) {
    const previous = last.get(op.process);
    last.set(op.process, op);
    if (previous === undefined) continue;
    const before = previous.outcome;
    const now = op.outcome;
    if (!options.lossAllowed && now.highWatermark < before.highWatermark) {
      findings.add(
        'monotonic-reads',
        partition,
        `${op.process} saw HW ${before.highWatermark}, then ${now.highWatermark}`,
        [previous, op],
      );
    }
    const startBefore = before.logStartOffset ?? 0;
    const startNow = now.logStartOffset ?? startBefore;
    if (!options.lossAllowed && startNow < startBefore) {
      findings.add(
        'monotonic-reads',
        partition,
        `${op.process} saw log start ${startBefore}, then ${startNow}`,
        [previous, op],
      );
    }
  }
}

/**
 * Per consumer process: OFFSET_OUT_OF_RANGE at an offset at or below a HW it was answered
 * before (and not below a log start it saw) means the log lost records it had exposed.
 */
function checkShrunkBelowRead(partition: string, ops: readonly Op[], findings: Findings): void {
  const seen = new Map<string, { hw: number; start: number; op: FetchOp }>();
  const reported = new Set<string>();
  for (const op of [...ops].sort((a, b) => a.startMs - b.startMs || a.index - b.index)) {
    if (op.type !== 'fetch' || op.outcome === null) continue;
    const before = seen.get(op.process);
    const outcome = op.outcome;
    if (outcome.kind === 'ok') {
      const hw = Math.max(before?.hw ?? 0, outcome.highWatermark);
      const start = Math.max(before?.start ?? 0, outcome.logStartOffset ?? 0);
      seen.set(op.process, {
        hw,
        start,
        op: hw === outcome.highWatermark ? op : (before?.op ?? op),
      });
      continue;
    }
    if (before === undefined || outcome.code !== 'OFFSET_OUT_OF_RANGE') continue;
    const key = `${op.process} ${op.fromOffset}`;
    if (op.fromOffset <= before.hw && op.fromOffset >= before.start && !reported.has(key)) {
      reported.add(key);
      const message = `${op.process} was answered HW ${before.hw}, then ${op.fromOffset} was out of range`;
      findings.add('monotonic-reads', partition, message, [before.op, op]);
    }
  }
}

/** Per producer process: a send begun after another's (surviving) ack lands higher. */
function checkOrder(partition: string, acked: readonly AckedProduce[], findings: Findings): void {
  const byProcess = new Map<string, AckedProduce[]>();
  for (const op of acked) byProcess.set(op.process, [...(byProcess.get(op.process) ?? []), op]);
  for (const ops of byProcess.values()) {
    const byEnd = [...ops].sort((a, b) => (a.endMs ?? 0) - (b.endMs ?? 0));
    const byStart = [...ops].sort((a, b) => a.startMs - b.startMs);
    let ended = 0;
    let highest: AckedProduce | null = null;
    for (const op of byStart) {
      while (ended < byEnd.length && (byEnd[ended]?.endMs ?? Infinity) < op.startMs) {
        const done = byEnd[ended] as AckedProduce;
        if (highest === null || done.outcome.offset > highest.outcome.offset) highest = done;
        ended += 1;
      }
      if (highest !== null && op.outcome.offset <= highest.outcome.offset) {
        const message = `sent after ${highest.outcome.offset} was acked, acked at ${op.outcome.offset}`;
        findings.add('order', partition, message, [highest, op]);
      }
    }
  }
}

/** A report: one paragraph per anomaly, each with its operations. */
export function formatAnomalies(anomalies: readonly Anomaly[]): string {
  return anomalies
    .map(
      (a) =>
        `${a.kind} on ${a.partition}: ${a.message}\n${a.ops.map((op) => `  ${describeOp(op)}`).join('\n')}`,
    )
    .join('\n');
}

/** A record a consumer group member's handler received. */
export interface Delivery {
  readonly member: string;
  readonly partition: string;
  readonly offset: number;
  readonly value: string;
  readonly atMs: number;
}

/**
 * At-least-once through a consumer group that started at the earliest offset and was drained
 * to the end: every acknowledged acks=all write was delivered to some member, at its offset
 * ('not-delivered' otherwise: a commit ran ahead of processing, or a rebalance skipped
 * records); and every delivery holds the value the final reader (process `final`) found at
 * its offset ('delivered-wrong': the group was handed a record that later vanished or changed).
 */
export function checkAtLeastOnce(
  history: History,
  deliveries: readonly Delivery[],
  perKindMax = 5,
): { readonly anomalies: readonly Anomaly[]; readonly counts: ReadonlyMap<AnomalyKind, number> } {
  const findings = new Findings(perKindMax);
  const delivered = new Map<string, Delivery>();
  for (const d of deliveries) delivered.set(`${d.partition}@${d.offset}`, d);
  const finalValues = new Map<string, { value: string; op: FetchOp }>();
  for (const op of history.ops) {
    if (op.type === 'fetch' && op.process === 'final' && op.outcome?.kind === 'ok') {
      for (const r of op.outcome.records)
        finalValues.set(`${op.partition}@${r.offset}`, { value: r.value, op });
    }
  }
  for (const op of history.ops) {
    if (op.type !== 'produce' || op.acks !== 'all' || op.outcome.kind !== 'ok') continue;
    const key = `${op.partition}@${op.outcome.offset}`;
    if (!delivered.has(key)) {
      findings.add(
        'not-delivered',
        op.partition,
        `acked at ${op.outcome.offset}, never delivered to the group`,
        [op],
      );
    }
  }
  for (const d of deliveries) {
    const final = finalValues.get(`${d.partition}@${d.offset}`);
    if (final !== undefined && final.value === d.value) continue;
    const found = final === undefined ? 'nothing' : JSON.stringify(final.value);
    const message = `${d.member} got ${JSON.stringify(d.value)} at ${d.offset} (${d.atMs} ms); the final read found ${found}`;
    findings.add('delivered-wrong', d.partition, message, final === undefined ? [] : [final.op]);
  }
  return { anomalies: findings.anomalies, counts: findings.totals };
}
