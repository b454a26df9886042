// The console's live view as data: what one read of the node's own routes returned (a
// ConsoleReading) plus the history the feed keeps while someone watches (records in and out per
// second, each group's lag), folded by pure functions so tests drive them with plain numbers.
import type { StreamsAppView } from './console-streams.ts';
import type {
  ClusterDescriptionBody,
  GroupDescriptionBody,
  TopicDescriptionBody,
} from '../wire.ts';

/** One node's Raft state as the console sees it; status null when it did not answer. */
export interface RaftNodeView {
  readonly nodeId: number;
  readonly url: string;
  readonly status: Readonly<Record<string, unknown>> | null;
}

/** Everything one read gathers; the feed adds the history. */
export interface ConsoleReading {
  readonly nodeId: number;
  readonly consoleWrite: boolean;
  readonly cluster: ClusterDescriptionBody;
  readonly raft: readonly RaftNodeView[];
  readonly topics: readonly TopicDescriptionBody[];
  /** Topics beyond consoleTopicsMax, left out of `topics`. */
  readonly topicsLeftOut: number;
  readonly groups: readonly GroupDescriptionBody[];
  /** Groups beyond consoleGroupsMax, left out of `groups`. */
  readonly groupsLeftOut: number;
  /** Streams applications (from their `<app>-checkpoints` topics), at most consoleStreamsAppsMax. */
  readonly streams: readonly StreamsAppView[];
  readonly streamsLeftOut: number;
}

/** Time series over the last historyPointsMax reads (seconds since the epoch in `t`). */
export interface ConsoleHistory {
  readonly t: readonly number[];
  /** Records per second appended to user topics (sum of HW growth). */
  readonly inRate: readonly (number | null)[];
  /** Records per second consumed (sum of committed-offset growth of every group). */
  readonly outRate: readonly (number | null)[];
  /** Each group's total lag in records, aligned with `t` (null before it was seen). */
  readonly lag: Readonly<Record<string, readonly (number | null)[]>>;
  /** Running totals of the last read, to compute the next rates. */
  readonly last: { readonly atMs: number; readonly hw: number; readonly committed: number } | null;
}

export interface ConsoleState extends ConsoleReading {
  readonly atMs: number;
  readonly underReplicated: number;
  readonly offline: number;
  readonly history: ConsoleHistory;
}

export const emptyHistory: ConsoleHistory = { t: [], inRate: [], outRate: [], lag: {}, last: null };

/** Sums of the HWs of user topics and of every group's committed offsets. */
export function totalsOf(reading: ConsoleReading): { hw: number; committed: number } {
  let hw = 0;
  for (const topic of reading.topics) {
    if (topic.name.startsWith('__')) continue;
    for (const p of topic.partitions) hw += p.highWatermark ?? 0;
  }
  let committed = 0;
  for (const group of reading.groups) {
    for (const o of group.offsets) committed += o.committedOffset ?? 0;
  }
  return { hw, committed };
}

/** A group's lag in records: the sum over its partitions (null when none is known). */
export function groupLag(group: GroupDescriptionBody): number | null {
  let sum: number | null = null;
  for (const o of group.offsets) if (o.lag !== null) sum = (sum ?? 0) + o.lag;
  return sum;
}

/** The history after one more read at `atMs`, keeping the last `pointsMax` points. */
export function advanceHistory(
  history: ConsoleHistory,
  reading: ConsoleReading,
  atMs: number,
  pointsMax: number,
): ConsoleHistory {
  const totals = totalsOf(reading);
  const last = history.last;
  const seconds = last === null ? 0 : (atMs - last.atMs) / 1000;
  // A total that shrinks (a topic deleted, offsets reset) gives no rate rather than a negative.
  const rate = (now: number, before: number | undefined): number | null =>
    before === undefined || seconds <= 0 || now < before ? null : (now - before) / seconds;
  const keep = <T>(series: readonly T[], value: T): T[] => [...series, value].slice(-pointsMax);
  const length = Math.min(history.t.length + 1, pointsMax);
  const lag: Record<string, (number | null)[]> = {};
  for (const group of reading.groups) {
    const before = history.lag[group.group] ?? [];
    const padded = [...new Array<null>(Math.max(0, history.t.length - before.length)), ...before];
    lag[group.group] = keep(padded, groupLag(group)).slice(-length);
  }
  return {
    t: keep(history.t, atMs / 1000),
    inRate: keep(history.inRate, rate(totals.hw, last?.hw)),
    outRate: keep(history.outRate, rate(totals.committed, last?.committed)),
    lag,
    last: { atMs, ...totals },
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
