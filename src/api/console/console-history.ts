// What every node remembers for the console while nobody watches: its own totals of records
// produced and served to consumers, and the lag of the groups it coordinates, sampled every
// nodeSampleIntervalMs (on wall-clock boundaries, so every node's samples share times) into a
// ring of nodeHistoryPointsMax. A console opening asks each node for its ring and draws the
// last minutes at once. The pure functions turn totals into cluster rates: a node's counter
// that went down (it restarted) or a node that did not answer adds nothing, so no rate spikes.

/** A node's totals since it started. */
export interface NodeTotals {
  readonly producedRecords: number;
  readonly consumedRecords: number;
}

/** A node's ring of samples: `t` in seconds since the epoch, totals aligned with it. */
export interface NodeHistory {
  readonly t: readonly number[];
  readonly producedRecords: readonly number[];
  readonly consumedRecords: readonly number[];
  /** Each group coordinated here at the last sample: its lag in records, aligned with `t`. */
  readonly lag?: Readonly<Record<string, readonly (number | null)[]>>;
  /** Groups coordinated here that the last sample left out (lagSampledGroupsMax and co). */
  readonly lagGroupsLeftOut?: number;
}

/** One sample of lag (console-lag.ts): each group's total lag, null when none is known. */
export interface GroupLagSample {
  readonly lags: Readonly<Record<string, number | null>>;
  /** Groups coordinated here but not sampled (a bound was reached). */
  readonly groupsLeftOut: number;
}

/** How often every node samples its totals, whether or not a console is open. */
export const nodeSampleIntervalMs = 10_000;
/** Samples a node keeps: 10 minutes at nodeSampleIntervalMs. */
export const nodeHistoryPointsMax = 60;

export const emptyNodeHistory: NodeHistory = { t: [], producedRecords: [], consumedRecords: [] };

/**
 * The ring after one more sample, keeping the last `pointsMax`. `lags` null (not read this
 * time) carries every group on with a gap; otherwise a group no longer coordinated here (it
 * moved or was deleted) is dropped.
 */
export function addSample(
  history: NodeHistory,
  atMs: number,
  totals: NodeTotals,
  pointsMax: number,
  lags: GroupLagSample | null = null,
): NodeHistory {
  const keep = <T>(series: readonly T[], value: T): T[] => [...series, value].slice(-pointsMax);
  const t = keep(history.t, atMs / 1000);
  const before = history.lag ?? {};
  const values: Readonly<Record<string, number | null>> =
    lags?.lags ?? Object.fromEntries(Object.keys(before).map((g) => [g, null]));
  const lag: Record<string, (number | null)[]> = {};
  for (const [group, value] of Object.entries(values)) {
    const series = before[group] ?? [];
    const gap = new Array<null>(Math.max(0, history.t.length - series.length)).fill(null);
    lag[group] = keep([...gap, ...series], value).slice(-t.length);
  }
  return {
    t,
    producedRecords: keep(history.producedRecords, totals.producedRecords),
    consumedRecords: keep(history.consumedRecords, totals.consumedRecords),
    lag,
    lagGroupsLeftOut: lags?.groupsLeftOut ?? history.lagGroupsLeftOut ?? 0,
  };
}

/**
 * Each group's sampled lag by grid slot, over the nodes' rings. A group that moved between
 * coordinators may appear in two rings: a known value wins over an unknown one.
 */
export function lagsBySlot(
  histories: readonly NodeHistory[],
  intervalMs: number,
): Map<number, Map<string, number | null>> {
  const slots = new Map<number, Map<string, number | null>>();
  for (const h of histories) {
    for (const [group, series] of Object.entries(h.lag ?? {})) {
      // The series ends with the ring's last sample (older points may have been cut).
      const offset = h.t.length - series.length;
      series.forEach((value, i) => {
        const slot = Math.round(((h.t[offset + i] ?? 0) * 1000) / intervalMs);
        const at = slots.get(slot) ?? new Map<string, number | null>();
        if (value !== null || !at.has(group)) at.set(group, value);
        slots.set(slot, at);
      });
    }
  }
  return slots;
}

/** Records per second from two totals `seconds` apart; null when it cannot be told. */
export function rateBetween(now: number, before: number, seconds: number): number | null {
  return seconds > 0 && now >= before ? (now - before) / seconds : null;
}

/** The sum of the nodes' rates (null when no node gives one). */
export function sumRates(rates: readonly (number | null)[]): number | null {
  let sum: number | null = null;
  for (const r of rates) if (r !== null) sum = (sum ?? 0) + r;
  return sum;
}

/**
 * The cluster's rates in and out over the nodes' rings: for each sample time, the sum over
 * nodes of the rate since that node's previous sample. Times are matched to the sampling
 * grid (a node's sample taken a little late still lands on its slot).
 */
export function ratesFromHistories(
  histories: readonly NodeHistory[],
  intervalMs: number,
): { t: number[]; inRate: (number | null)[]; outRate: (number | null)[] } {
  const slots = new Map<number, { in: (number | null)[]; out: (number | null)[] }>();
  const slotOf = (t: number) => Math.round((t * 1000) / intervalMs);
  for (const h of histories) {
    for (let i = 1; i < h.t.length; i += 1) {
      const seconds = (h.t[i] ?? 0) - (h.t[i - 1] ?? 0);
      const slot = slots.get(slotOf(h.t[i] ?? 0)) ?? { in: [], out: [] };
      const at = (series: readonly number[], j: number) => series[j] ?? 0;
      slot.in.push(rateBetween(at(h.producedRecords, i), at(h.producedRecords, i - 1), seconds));
      slot.out.push(rateBetween(at(h.consumedRecords, i), at(h.consumedRecords, i - 1), seconds));
      slots.set(slotOf(h.t[i] ?? 0), slot);
    }
  }
  const ordered = [...slots].sort(([a], [b]) => a - b);
  return {
    t: ordered.map(([slot]) => (slot * intervalMs) / 1000),
    inRate: ordered.map(([, s]) => sumRates(s.in)),
    outRate: ordered.map(([, s]) => sumRates(s.out)),
  };
}

export interface NodeSamplerDeps {
  /** How often to sample (nodeSampleIntervalMs in production; tests sample faster). */
  readonly intervalMs: number;
  readonly schedule: (delayMs: number, run: () => void) => () => void;
  readonly wallMs: () => number;
  readonly totals: () => Promise<NodeTotals>;
  /** The lag of the groups coordinated here (absent: no lag is sampled). */
  readonly groupLags?: () => Promise<GroupLagSample>;
}

/** Samples this node's totals on a slow timer into a bounded ring (started at construction). */
export class NodeSampler {
  readonly #deps: NodeSamplerDeps;
  #history: NodeHistory = emptyNodeHistory;
  #cancel: (() => void) | null = null;
  #stopped = false;

  constructor(deps: NodeSamplerDeps) {
    this.#deps = deps;
    this.#next();
  }

  get history(): NodeHistory {
    return this.#history;
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = null;
  }

  #next(): void {
    if (this.#stopped) return;
    const wall = this.#deps.wallMs();
    const { intervalMs } = this.#deps;
    // The next grid time at least half an interval away: a timer that fires a little early
    // (just before its grid time) must not sample again right after it.
    const half = intervalMs / 2;
    const delay = intervalMs - ((wall + half) % intervalMs) + half;
    this.#cancel = this.#deps.schedule(delay, () => {
      this.#cancel = null;
      void this.#sample();
    });
  }

  async #sample(): Promise<void> {
    try {
      const [totals, lags] = await Promise.all([this.#deps.totals(), this.#lags()]);
      const atMs = this.#deps.wallMs();
      this.#history = addSample(this.#history, atMs, totals, nodeHistoryPointsMax, lags);
    } catch {
      // A failed read leaves a gap; the next sample goes on.
    }
    this.#next();
  }

  /** This sample's lags; null (a gap in every group's series) when they could not be read. */
  async #lags(): Promise<GroupLagSample | null> {
    try {
      return (await this.#deps.groupLags?.()) ?? null;
    } catch {
      return null;
    }
  }
}
