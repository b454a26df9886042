// Summaries for `npm run bench`: min/median/max of a figure over its rounds, per-round ratios to
// a baseline measured in the same round, and CPU time of a process read from /proc/<pid>/stat
// (utime + stime in clock ticks), so idle CPU is measured from outside the process.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';

/** A figure over its rounds: this machine is shared and noisy, so the spread is reported. */
export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
  readonly rounds: number;
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Min/median/max of `values` (the lower median for an even count); null when empty. */
export function spreadOf(values: readonly number[], digits = 2): Spread | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (i: number): number => round(sorted[i] ?? Number.NaN, digits);
  return {
    min: at(0),
    median: at(Math.floor((sorted.length - 1) / 2)),
    max: at(sorted.length - 1),
    rounds: sorted.length,
  };
}

/** Round i's figure over round i's baseline, for every round both were measured in. */
export function ratiosOf(figures: readonly number[], baselines: readonly number[]): number[] {
  const count = Math.min(figures.length, baselines.length);
  const out: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const baseline = baselines[i] ?? 0;
    if (baseline > 0) out.push((figures[i] ?? 0) / baseline);
  }
  return out;
}

/**
 * Records over the time from the first send to the last acknowledgement: well below the fixed
 * rate, the system did not keep up and its percentiles measure a growing queue.
 */
export function completedRate(records: number, startMs: number): { completedPerSecond: number } {
  return { completedPerSecond: Math.round(records / ((performance.now() - startMs) / 1000)) };
}

export function formatSpread(spread: Spread | null, unit = ''): string {
  if (spread === null) return 'n/a';
  const { min, median, max } = spread;
  return `${median}${unit} (min ${min}, max ${max}, ${spread.rounds} rounds)`;
}

export function loadAverage(): { readonly m1: number; readonly m5: number; readonly m15: number } {
  const [m1 = 0, m5 = 0, m15 = 0] = loadavg();
  return { m1: round(m1, 2), m5: round(m5, 2), m15: round(m15, 2) };
}

let clockTicksPerSecond: number | null = null;

function ticksPerSecond(): number {
  if (clockTicksPerSecond === null) {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    const parsed = Number(text);
    clockTicksPerSecond = Number.isFinite(parsed) && parsed > 0 ? parsed : 100;
  }
  return clockTicksPerSecond;
}

/** CPU seconds (user + system) the process `pid` has used so far. */
export async function cpuSecondsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: state is
  // field 3, utime field 14 and stime field 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / ticksPerSecond();
}

/** Each pid's CPU use over the next `windowMs`, as a percentage of one core. */
export async function sampleCpuPercent(
  pids: readonly number[],
  windowMs: number,
): Promise<number[]> {
  const before = await Promise.all(pids.map((pid) => cpuSecondsOf(pid)));
  const startMs = performance.now();
  await new Promise((done) => setTimeout(done, windowMs));
  const after = await Promise.all(pids.map((pid) => cpuSecondsOf(pid)));
  const seconds = (performance.now() - startMs) / 1000;
  return pids.map((_, i) => (100 * ((after[i] ?? 0) - (before[i] ?? 0))) / seconds);
}
