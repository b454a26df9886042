// The bench's record of a run: every measurement is a number appended to a named series (one
// value per round), with the full result object kept beside it; a figure is a series shown
// beside its same-run baseline series, with the per-round ratio's min/median/max. Progress goes
// to stderr; the final JSON line (stdout) holds every series, figure and detail.
import { formatSpread, ratiosOf, spreadOf, type Spread } from './stats.ts';

export interface Figure {
  readonly name: string;
  readonly series: string;
  readonly unit: string;
  readonly value: Spread | null;
  readonly baselineName: string | null;
  readonly baseline: Spread | null;
  /** value / baseline, round by round. */
  readonly ratio: Spread | null;
  readonly target: string | null;
}

export interface FigureSpec {
  readonly name: string;
  readonly series: string;
  readonly unit: string;
  readonly baselineSeries?: string;
  readonly target?: string;
}

export class Report {
  readonly #series = new Map<string, number[]>();
  readonly #details = new Map<string, unknown[]>();
  readonly #figures: Figure[] = [];
  readonly #notes: string[] = [];

  log(line: string): void {
    process.stderr.write(`${line}\n`);
  }

  /** Records one round's `value` of `series`, and the result it came from. */
  add(series: string, value: number, detail?: unknown): void {
    let values = this.#series.get(series);
    if (values === undefined) {
      values = [];
      this.#series.set(series, values);
    }
    values.push(value);
    if (detail !== undefined) {
      let details = this.#details.get(series);
      if (details === undefined) {
        details = [];
        this.#details.set(series, details);
      }
      details.push(detail);
    }
    const shown = detail === undefined ? '' : ` ${JSON.stringify(detail)}`;
    this.log(`  ${series} = ${Math.round(value * 1000) / 1000}${shown}`);
  }

  values(series: string): readonly number[] {
    return this.#series.get(series) ?? [];
  }

  /** A part skipped or impossible here, with the reason (printed and kept in the JSON). */
  note(text: string): void {
    this.#notes.push(text);
    this.log(`note: ${text}`);
  }

  /** Adds the figure when its series has values; the ratio uses rounds both series have. */
  figure(spec: FigureSpec): void {
    const values = this.values(spec.series);
    if (values.length === 0) return;
    const baselines = spec.baselineSeries === undefined ? [] : this.values(spec.baselineSeries);
    // A figure whose baseline was not measured this run (--only, a missing tool) adds nothing
    // when an earlier figure already shows the same series.
    const shown = this.#figures.some((f) => f.series === spec.series);
    if (spec.baselineSeries !== undefined && baselines.length === 0 && shown) return;
    this.#figures.push({
      name: spec.name,
      series: spec.series,
      unit: spec.unit,
      value: spreadOf(values),
      baselineName: spec.baselineSeries ?? null,
      baseline: spreadOf(baselines),
      ratio: spreadOf(ratiosOf(values, baselines), 3),
      target: spec.target ?? null,
    });
  }

  /** One block per figure: value, baseline, ratio (median, min, max) and the issue's target. */
  printFigures(): void {
    this.log('');
    this.log('=== figures (median, min, max over rounds; ratio = figure / baseline per round) ===');
    for (const figure of this.#figures) {
      this.log(`${figure.name}: ${formatSpread(figure.value, ` ${figure.unit}`)}`);
      if (figure.baselineName !== null && figure.baseline === null) {
        this.log(`    baseline ${figure.baselineName}: not measured in this run`);
      } else if (figure.baselineName !== null) {
        this.log(`    baseline ${figure.baselineName}: ${formatSpread(figure.baseline)}`);
        this.log(`    ratio: ${formatSpread(figure.ratio)}`);
      }
      if (figure.target !== null) this.log(`    target: ${figure.target}`);
    }
    for (const note of this.#notes) this.log(`note: ${note}`);
  }

  toJson(extra: Record<string, unknown>): string {
    return JSON.stringify({
      ...extra,
      figures: this.#figures,
      series: Object.fromEntries(this.#series),
      details: Object.fromEntries(this.#details),
      notes: this.#notes,
    });
  }
}
