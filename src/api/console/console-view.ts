// The console's live view as data: what one read of the node's own routes returned (a
// ConsoleReading) plus the history the feed keeps while someone watches (records in and out per
// second, each group's lag), folded by pure functions so tests drive them with plain numbers.
import {
  lagsBySlot,
  rateBetween,
  ratesFromHistories,
  sumRates,
  type NodeHistory,
  type NodeTotals,
} from './console-history.ts';
import type { StreamsAppView } from './console-streams.ts';
import type {
  ClusterDescriptionBody,
  GroupDescriptionBody,
  TopicDescriptionBody,
} from '../wire.ts';

/** One node's Raft state and totals as the console sees it; null when it did not answer. */
export interface RaftNodeView {
  readonly nodeId: number;
  readonly url: string;
  readonly status: Readonly<Record<string, unknown>> | null;
  readonly totals: NodeTotals | null;
}

/** Everything one read gathers; the feed adds the history. */
export interface ConsoleReading {
  readonly nodeId: number;
  readonly consoleWrite: boolean;
  readonly cluster: ClusterDescriptionBody;
  readonly raft: readonly RaftNodeView[];
  readonly topics: readonly TopicDescriptionBody[];
  /** Topics beyond consoleTopicsMax (and not watched), left out of `topics`. */
  readonly topicsLeftOut: number;
  /** Topics the open streams asked for by name (`?topic=`), described wherever they sort. */
  readonly watchedTopics?: readonly string[];
  readonly groups: readonly GroupDescriptionBody[];
  /** Groups beyond consoleGroupsMax, left out of `groups`. */
  readonly groupsLeftOut: number;
  /** Streams applications (`<app>-checkpoints` topics), at most consoleStreamsAppsMax. */
  readonly streams: readonly StreamsAppView[];
  readonly streamsLeftOut: number;
  /** The nodes' sample rings, when the read asked for them (the first read of a console). */
  readonly histories?: readonly NodeHistory[];
}

/** Time series over the last historyPointsMax points (seconds since the epoch in `t`). */
export interface ConsoleHistory {
  readonly t: readonly number[];
  /** Records per second appended by produce, summed over the nodes. */
  readonly inRate: readonly (number | null)[];
  /** Records per second served to consumers by fetch, summed over the nodes. */
  readonly outRate: readonly (number | null)[];
  /** Each group's total lag in records, aligned with `t` (null before it was seen). */
  readonly lag: Readonly<Record<string, readonly (number | null)[]>>;
  /** Leading points that came from the nodes' own samples, before this watch began. */
  readonly sampledPoints: number;
  /** Each node's totals at the last read, to compute the next rates. */
  readonly last: {
    readonly atMs: number;
    readonly nodes: Readonly<Record<string, NodeTotals>>;
  } | null;
}

export interface ConsoleState extends Omit<ConsoleReading, 'histories'> {
  readonly atMs: number;
  readonly underReplicated: number;
  readonly offline: number;
  readonly history: ConsoleHistory;
}

export const emptyHistory: ConsoleHistory = {
  t: [],
  inRate: [],
  outRate: [],
  lag: {},
  sampledPoints: 0,
  last: null,
};

/**
 * A history that starts with the minutes the nodes sampled before anyone watched: the rates
 * from their totals and each group's lag from its coordinator, on one time grid.
 */
export function seededHistory(
  histories: readonly NodeHistory[],
  intervalMs: number,
): ConsoleHistory {
  const rates = ratesFromHistories(histories, intervalMs);
  const lags = lagsBySlot(histories, intervalMs);
  const slotOf = (t: number) => Math.round((t * 1000) / intervalMs);
  const rateAt = new Map(rates.t.map((t, i) => [slotOf(t), i]));
  const slots = [...new Set([...rateAt.keys(), ...lags.keys()])].sort((a, b) => a - b);
  const groups = new Set([...lags.values()].flatMap((at) => [...at.keys()]));
  const lag: Record<string, (number | null)[]> = {};
  for (const group of groups) lag[group] = slots.map((s) => lags.get(s)?.get(group) ?? null);
  const rate = (series: readonly (number | null)[], slot: number) => {
    const i = rateAt.get(slot);
    return i === undefined ? null : (series[i] ?? null);
  };
  return {
    t: slots.map((slot) => (slot * intervalMs) / 1000),
    inRate: slots.map((slot) => rate(rates.inRate, slot)),
    outRate: slots.map((slot) => rate(rates.outRate, slot)),
    lag,
    sampledPoints: slots.length,
    last: null,
  };
}

/** A group's lag in records: the sum over its partitions (null when none is known). */
export function groupLag(group: GroupDescriptionBody): number | null {
  let sum: number | null = null;
  for (const o of group.offsets) if (o.lag !== null) sum = (sum ?? 0) + o.lag;
  return sum;
}

/** The cluster's rates since the last read: each answering node's counters, summed. */
function ratesSince(
  last: ConsoleHistory['last'],
  reading: ConsoleReading,
  atMs: number,
): { inRate: number | null; outRate: number | null } {
  const seconds = last === null ? 0 : (atMs - last.atMs) / 1000;
  const ins: (number | null)[] = [];
  const outs: (number | null)[] = [];
  for (const node of reading.raft) {
    const before = last?.nodes[String(node.nodeId)];
    if (node.totals === null || before === undefined) continue;
    ins.push(rateBetween(node.totals.producedRecords, before.producedRecords, seconds));
    outs.push(rateBetween(node.totals.consumedRecords, before.consumedRecords, seconds));
  }
  return { inRate: sumRates(ins), outRate: sumRates(outs) };
}

/** The history after one more read at `atMs`, keeping the last `pointsMax` points. */
export function advanceHistory(
  history: ConsoleHistory,
  reading: ConsoleReading,
  atMs: number,
  pointsMax: number,
): ConsoleHistory {
  const { inRate, outRate } = ratesSince(history.last, reading, atMs);
  const keep = <T>(series: readonly T[], value: T): T[] => [...series, value].slice(-pointsMax);
  const length = Math.min(history.t.length + 1, pointsMax);
  const lag: Record<string, (number | null)[]> = {};
  for (const group of reading.groups) {
    const before = history.lag[group.group] ?? [];
    const padded = [...new Array<null>(Math.max(0, history.t.length - before.length)), ...before];
    lag[group.group] = keep(padded, groupLag(group)).slice(-length);
  }
  const nodes: Record<string, NodeTotals> = {};
  for (const node of reading.raft)
    if (node.totals !== null) nodes[String(node.nodeId)] = node.totals;
  return {
    t: keep(history.t, atMs / 1000),
    inRate: keep(history.inRate, inRate),
    outRate: keep(history.outRate, outRate),
    lag,
    sampledPoints: Math.max(
      0,
      history.sampledPoints - Math.max(0, history.t.length + 1 - pointsMax),
    ),
    last: { atMs, nodes },
  };
}

/** Partitions whose ISR is smaller than their replicas, and those without a leader. */
export function partitionHealth(reading: ConsoleReading): {
  underReplicated: number;
  offline: number;
} {
  let underReplicated = 0;
  let offline = 0;
  for (const topic of reading.topics) {
    for (const p of topic.partitions) {
      if (p.leader === null) offline += 1;
      else if (p.isr.length < p.replicas.length) underReplicated += 1;
    }
  }
  return { underReplicated, offline };
}
