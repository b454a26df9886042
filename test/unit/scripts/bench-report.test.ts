// The bench's arithmetic and parsing, which every printed figure depends on: min/median/max of a
// series, per-round ratios to a same-run baseline, h2load's summary lines, and which figures a
// run shows. Method: fixed inputs with hand-computed answers; no processes, no timers.
import { describe, expect, it } from 'vitest';
import { parseH2load } from '../../../scripts/bench/peers.ts';
import { Report } from '../../../scripts/bench/report.ts';
import { ratiosOf, spreadOf } from '../../../scripts/bench/stats.ts';

describe('spreadOf', () => {
  it('gives min, lower median and max whatever the order', () => {
    expect(spreadOf([30, 10, 20])).toEqual({ min: 10, median: 20, max: 30, rounds: 3 });
    expect(spreadOf([4, 1, 3, 2])).toEqual({ min: 1, median: 2, max: 4, rounds: 4 });
    expect(spreadOf([1 / 3], 3)).toEqual({ min: 0.333, median: 0.333, max: 0.333, rounds: 1 });
  });

  it('is null for an empty series', () => {
    expect(spreadOf([])).toBeNull();
  });
});

describe('ratiosOf', () => {
  it('divides round by round and skips rounds without a positive baseline', () => {
    expect(ratiosOf([10, 20, 30], [5, 0, 10])).toEqual([2, 3]);
    expect(ratiosOf([10, 20, 30], [10])).toEqual([1]);
  });
});

describe('parseH2load', () => {
  const output = [
    'finished in 4.01s, 18901.33 req/s, 369.25KB/s',
    'requests: 56704 total, 56704 started, 56704 done, 56700 succeeded, 4 failed, 0 errored',
  ].join('\n');

  it("reads h2load's own rate and the success count", () => {
    expect(parseH2load(output)).toEqual({
      requests: 56704,
      succeeded: 56700,
      seconds: 4.01,
      requestsPerSecond: 18901.33,
    });
  });

  it('reads a run that finished in milliseconds', () => {
    const fast = output.replace('4.01s', '156.55ms');
    expect(parseH2load(fast).seconds).toBeCloseTo(0.15655, 6);
  });

  it('rejects output it does not understand', () => {
    expect(() => parseH2load('connect error')).toThrow(/unexpected h2load output/);
  });
});

describe('Report figures', () => {
  const quiet = (): Report => {
    const report = new Report();
    report.log = () => undefined;
    return report;
  };

  it('shows a figure beside its baseline with the per-round ratio', () => {
    const report = quiet();
    for (const [rill, peer] of [
      [100, 50],
      [90, 60],
      [120, 40],
    ]) {
      report.add('rill', rill as number);
      report.add('peer', peer as number);
    }
    report.figure({ name: 'x', series: 'rill', unit: 'r/s', baselineSeries: 'peer' });
    const json = JSON.parse(report.toJson({})) as { figures: { ratio: unknown }[] };
    expect(json.figures[0]?.ratio).toEqual({ min: 1.5, median: 2, max: 3, rounds: 3 });
  });

  it('leaves out a repeated series whose baseline was not measured, and empty series', () => {
    const report = quiet();
    report.add('rill', 1);
    report.figure({ name: 'a', series: 'rill', unit: '', baselineSeries: 'measured-never' });
    report.figure({ name: 'b', series: 'rill', unit: '', baselineSeries: 'also-never' });
    report.figure({ name: 'c', series: 'absent', unit: '' });
    const json = JSON.parse(report.toJson({})) as { figures: { name: string }[] };
    expect(json.figures.map((f) => f.name)).toEqual(['a']);
  });
});
