// Goal: a windowed sum over random event-time streams, with records out of order within and
// beyond grace, equals a model of the definition: per partition, stream time is the largest
// timestamp so far; a record updates each of its windows not yet closed (end + grace ≤ stream
// time) and is counted late when all its windows are closed; `update` ends with every window's
// sum, `final` emits exactly the closed windows once. Method: fast-check over tumbling and
// hopping windows on 2 partitions. Replay with STREAMS_WINDOW_SEED=<seed printed below>.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { partitionForKey } from '../../../src/api/client/index.ts';
import {
  StreamsBuilder,
  TimeWindows,
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

interface Event {
  readonly key: string;
  readonly t: number;
  readonly value: number;
}

interface Model {
  readonly sums: Map<string, number>;
  readonly closed: Set<string>;
  readonly late: number;
}

function windowId(key: string, start: number, end: number): string {
  return `${key}@${start}..${end}`;
}

function windowsOf(t: number, size: number, advance: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start <= t; start += advance)
    if (t < start + size) out.push([start, start + size]);
  return out;
}

function model(events: readonly Event[], size: number, advance: number, grace: number): Model {
  const sums = new Map<string, number>();
  const closed = new Set<string>();
  let late = 0;
  const streamTime = new Map<number, number>();
  const partitionOf = (key: string) => partitionForKey(stringSerde.serialize(key), partitions);
  for (const e of events) {
    const p = partitionOf(e.key);
    const st = Math.max(streamTime.get(p) ?? -1, e.t);
    streamTime.set(p, st);
    let used = false;
    for (const [start, end] of windowsOf(e.t, size, advance)) {
      if (end + grace <= st) continue;
      const id = windowId(e.key, start, end);
      sums.set(id, (sums.get(id) ?? 0) + e.value);
      used = true;
    }
    if (!used) late += 1;
  }
  for (const id of sums.keys()) {
    const key = id.split('@')[0] as string;
    const end = Number(id.split('..')[1]);
    if (end + grace <= (streamTime.get(partitionOf(key)) ?? -1)) closed.add(id);
  }
  return { sums, closed, late };
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
      { name: 'sums', serde: numberSerde },
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
      key: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      jitter: fc.integer({ min: -40, max: 10 }),
      value: fc.integer({ min: 1, max: 9 }),
    }),
    { maxLength: 60 },
  )
  .map((raw) =>
    raw.map((r, i) => ({ key: r.key, t: Math.max(0, i * 3 + r.jitter), value: r.value })),
  );

test('a windowed sum with out-of-order records equals the model, in both emit modes', () => {
  const seed = Number(process.env.STREAMS_WINDOW_SEED ?? Date.now() % 2 ** 31);
  console.log(`windowed-aggregate seed: ${seed} (STREAMS_WINDOW_SEED=${seed} to replay)`);
  const shape = fc.record({
    size: fc.integer({ min: 1, max: 30 }),
    hops: fc.integer({ min: 1, max: 3 }),
    grace: fc.integer({ min: 0, max: 20 }),
    emit: fc.constantFrom<EmitMode>('update', 'final'),
  });
  fc.assert(
    fc.property(eventsArb, shape, (events, { size, hops, grace, emit }) => {
      const advance = Math.max(1, Math.floor(size / hops));
      const definition =
        advance === size
          ? TimeWindows.tumbling(size, { graceMs: grace, emit })
          : TimeWindows.hopping(size, advance, { graceMs: grace, emit });
      const driver = run(events, definition);
      const expected = model(events, size, advance, grace);
      const emitted = driver.readOutput('out', output).map((r) => {
        const w = r.key?.window;
        return [windowId(r.key?.key ?? '', w?.startMs ?? 0, w?.endMs ?? 0), r.value] as const;
      });
      expect(driver.lateDropped()).toBe(expected.late);
      if (emit === 'update') {
        expect(new Map(emitted)).toEqual(expected.sums);
      } else {
        expect(emitted.length).toBe(new Set(emitted.map(([id]) => id)).size); // Once each.
        const closedSums = [...expected.closed].map((id) => [id, expected.sums.get(id)] as const);
        expect(new Map(emitted)).toEqual(new Map(closedSums));
      }
    }),
    { seed, numRuns: 150 },
  );
});
