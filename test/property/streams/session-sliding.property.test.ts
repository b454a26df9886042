// Goal: session and sliding windowed sums over random out-of-order streams equal models of
// their definitions (docs/streams.md). Sessions: a record joins every open session of its key
// within the gap and merges them; it is late when the merged session is closed (end + gap +
// grace < stream time). Sliding: a record at t is late when t + grace < stream time; else it
// adds to every open window of its key ending in [t, t + size] and creates [t − size, t] from
// the key's records in it. `update` ends with every live window's sum; `final` emits exactly
// the closed ones once. Method: fast-check on 2 partitions. Replay with
// STREAMS_SESSION_SEED=<seed printed below>.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { partitionForKey } from '../../../src/api/client/index.ts';
import {
  SessionWindows,
  SlidingWindows,
  StreamsBuilder,
  TopologyTestDriver,
  numberSerde,
  serdes,
  stringSerde,
  windowedSerde,
  type EmitMode,
  type WindowDefinition,
} from '../../../src/streams/index.ts';

const partitions = 2;
const input = serdes(stringSerde, numberSerde);
const output = serdes(windowedSerde(stringSerde), numberSerde);
const partitionOf = (key: string) => partitionForKey(stringSerde.serialize(key), partitions);

interface Event {
  readonly key: string;
  readonly t: number;
  readonly value: number;
}

interface Win {
  start: number;
  end: number;
  sum: number;
  readonly key: string;
}

interface Outcome {
  /** Live windows by id (merged sessions removed) with their closed flag at the end. */
  readonly windows: Map<string, { sum: number; closed: boolean }>;
  readonly late: number;
}

const idOf = (w: Win) => `${w.key}@${w.start}..${w.end}`;

function finish(all: Win[], isClosed: (w: Win, st: number) => boolean, st: Map<number, number>) {
  const windows = new Map<string, { sum: number; closed: boolean }>();
  for (const w of all) {
    windows.set(idOf(w), { sum: w.sum, closed: isClosed(w, st.get(partitionOf(w.key)) ?? -1) });
  }
  return windows;
}

function sessionModel(events: readonly Event[], gap: number, grace: number): Outcome {
  const closed = (w: Win, st: number) => w.end + gap + grace < st;
  const streamTime = new Map<number, number>();
  let all: Win[] = [];
  let late = 0;
  for (const e of events) {
    const p = partitionOf(e.key);
    const st = Math.max(streamTime.get(p) ?? -1, e.t);
    streamTime.set(p, st);
    const near = all.filter(
      (w) => w.key === e.key && !closed(w, st) && w.end >= e.t - gap && w.start <= e.t + gap,
    );
    const merged: Win = {
      key: e.key,
      start: Math.min(e.t, ...near.map((w) => w.start)),
      end: Math.max(e.t, ...near.map((w) => w.end)),
      sum: near.reduce((s, w) => s + w.sum, e.value),
    };
    if (closed(merged, st)) {
      late += 1;
      continue;
    }
    all = all.filter((w) => !near.includes(w));
    all.push(merged);
  }
  return { windows: finish(all, closed, streamTime), late };
}

function slidingModel(events: readonly Event[], size: number, grace: number): Outcome {
  const closed = (w: Win, st: number) => w.end + grace < st;
  const streamTime = new Map<number, number>();
  const kept: Event[] = [];
  const all: Win[] = [];
  let late = 0;
  for (const e of events) {
    const p = partitionOf(e.key);
    const st = Math.max(streamTime.get(p) ?? -1, e.t);
    streamTime.set(p, st);
    if (e.t + grace < st) {
      late += 1;
      continue;
    }
    kept.push(e);
    for (const w of all) {
      if (w.key === e.key && w.end >= e.t && w.end <= e.t + size && !closed(w, st)) {
        w.sum += e.value;
      }
    }
    if (!all.some((w) => w.key === e.key && w.end === e.t)) {
      const sum = kept
        .filter((r) => r.key === e.key && r.t >= e.t - size && r.t <= e.t)
        .reduce((s, r) => s + r.value, 0);
      all.push({ key: e.key, start: e.t - size, end: e.t, sum });
    }
  }
  return { windows: finish(all, closed, streamTime), late };
}

function run(events: readonly Event[], definition: WindowDefinition): TopologyTestDriver {
  const builder = new StreamsBuilder({ applicationId: 'prop' });
  builder
    .stream('in', input)
    .groupByKey()
    .windowedBy(definition)
    .aggregate(
      () => 0,
      (_k, v, sum) => sum + v,
      {
        name: 'sums',
        serde: numberSerde,
        merge: (_k, a, b) => a + b,
      },
    )
    .toStream()
    .to('out', output);
  const driver = new TopologyTestDriver(builder.build(), { defaultPartitions: partitions });
  for (const e of events) driver.pipe('in', input, e.key, e.value, { timestampMs: e.t });
  return driver;
}

const eventsArb = fc
  .array(
    fc.record({
      key: fc.constantFrom('a', 'b', 'c'),
      jitter: fc.integer({ min: -30, max: 10 }),
      value: fc.integer({ min: 1, max: 9 }),
    }),
    { maxLength: 50 },
  )
  .map((raw) =>
    raw.map((r, i) => ({ key: r.key, t: Math.max(0, i * 3 + r.jitter), value: r.value })),
  );

test('session and sliding windowed sums equal their models, in both emit modes', () => {
  const seed = Number(process.env.STREAMS_SESSION_SEED ?? Date.now() % 2 ** 31);
  console.log(`session-sliding seed: ${seed} (STREAMS_SESSION_SEED=${seed} to replay)`);
  const shape = fc.record({
    kind: fc.constantFrom<'session' | 'sliding'>('session', 'sliding'),
    span: fc.integer({ min: 1, max: 20 }),
    grace: fc.integer({ min: 0, max: 15 }),
    emit: fc.constantFrom<EmitMode>('update', 'final'),
  });
  fc.assert(
    fc.property(eventsArb, shape, (events, { kind, span, grace, emit }) => {
      const options = { graceMs: grace, emit };
      const definition =
        kind === 'session'
          ? SessionWindows.withGap(span, options)
          : SlidingWindows.of(span, options);
      const expected =
        kind === 'session' ? sessionModel(events, span, grace) : slidingModel(events, span, grace);
      const driver = run(events, definition);
      expect(driver.lateDropped()).toBe(expected.late);
      const emitted: [string, number | null][] = driver.readOutput('out', output).map((r) => {
        const w = r.key?.window;
        return [`${r.key?.key}@${w?.startMs}..${w?.endMs}`, r.value];
      });
      const wanted = [...expected.windows].filter(([, w]) => emit === 'update' || w.closed);
      if (emit === 'final') {
        expect(emitted.length).toBe(new Set(emitted.map(([id]) => id)).size);
      }
      const latest = new Map<string, number>();
      for (const [id, value] of emitted) {
        if (value === null) latest.delete(id);
        else latest.set(id, value);
      }
      expect(latest).toEqual(new Map(wanted.map(([id, w]) => [id, w.sum])));
    }),
    { seed, numRuns: 200 },
  );
});
