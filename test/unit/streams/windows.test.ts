// Goal: tumbling, hopping, session and sliding windows aggregate on event time with their
// grace and emit mode; late records are dropped and counted. Method: pipe timestamped records
// through TopologyTestDriver and read the windowed changes the count emits.
import { expect, test } from 'vitest';
import {
  SessionWindows,
  SlidingWindows,
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

const text = serdes(stringSerde, stringSerde);
const out = serdes(windowedSerde(stringSerde), numberSerde);

function windowedCount(definition: WindowDefinition): TopologyTestDriver {
  const builder = new StreamsBuilder({ applicationId: 'win' });
  builder
    .stream('in', text)
    .groupByKey()
    .windowedBy(definition)
    .count({ name: 'counts' })
    .toStream()
    .to('out', out);
  return new TopologyTestDriver(builder.build());
}

function pipeAt(driver: TopologyTestDriver, key: string, ...timestamps: number[]): void {
  for (const t of timestamps) driver.pipe('in', text, key, 'v', { timestampMs: t });
}

/** Emitted changes as `key@start..end=count` (count `null` for a deleted session). */
function read(driver: TopologyTestDriver): string[] {
  return driver
    .readOutput('out', out)
    .map((r) => `${r.key?.key}@${r.key?.window.startMs}..${r.key?.window.endMs}=${r.value}`);
}

const options = (graceMs: number, emit: EmitMode) => ({ graceMs, emit });

test('tumbling, emit update: every change; a record past grace is dropped and counted', () => {
  const driver = windowedCount(TimeWindows.tumbling(10, options(2, 'update')));
  pipeAt(driver, 'a', 1, 5, 11);
  expect(read(driver)).toEqual(['a@0..10=1', 'a@0..10=2', 'a@10..20=1']);
  pipeAt(driver, 'a', 9); // Stream time 11 < 10 + 2: still open.
  expect(read(driver)).toEqual(['a@0..10=3']);
  pipeAt(driver, 'a', 12, 8); // Stream time 12 ≥ 10 + 2: closed, 8 is late.
  expect(read(driver)).toEqual(['a@10..20=2']);
  expect(driver.lateDropped()).toBe(1);
});

test('tumbling, emit final: one result per window, when stream time passes end + grace', () => {
  const driver = windowedCount(TimeWindows.tumbling(10, options(2, 'final')));
  pipeAt(driver, 'a', 1, 5, 11);
  pipeAt(driver, 'b', 3);
  expect(read(driver)).toEqual([]);
  pipeAt(driver, 'b', 12);
  expect(read(driver).sort()).toEqual(['a@0..10=2', 'b@0..10=1']);
  pipeAt(driver, 'a', 30);
  expect(read(driver).sort()).toEqual(['a@10..20=1', 'b@10..20=1']);
  expect(driver.storeEntries('counts')).toHaveLength(1); // Closed windows left the store.
});

test('hopping: a record counts in every window that holds it', () => {
  const driver = windowedCount(TimeWindows.hopping(10, 5, options(0, 'update')));
  pipeAt(driver, 'a', 7);
  expect(read(driver)).toEqual(['a@0..10=1', 'a@5..15=1']);
});

test('session: a record within the gap of two sessions merges them', () => {
  const driver = windowedCount(SessionWindows.withGap(5, options(100, 'update')));
  pipeAt(driver, 'a', 0, 3, 12);
  expect(read(driver)).toEqual(['a@0..0=1', 'a@0..0=null', 'a@0..3=2', 'a@12..12=1']);
  pipeAt(driver, 'a', 8);
  expect(read(driver)).toEqual(['a@0..3=null', 'a@12..12=null', 'a@0..12=4']);
});

test('session, emit final: emitted once the gap and grace have passed', () => {
  const driver = windowedCount(SessionWindows.withGap(5, options(1, 'final')));
  pipeAt(driver, 'a', 0, 3);
  pipeAt(driver, 'b', 9); // 3 + 5 + 1 = 9: not yet closed (closes when stream time > 9).
  expect(read(driver)).toEqual([]);
  pipeAt(driver, 'b', 10);
  expect(read(driver)).toEqual(['a@0..3=2']);
});

test('sliding: a window ends at each record and an out-of-order record updates its windows', () => {
  const driver = windowedCount(SlidingWindows.of(10, options(100, 'update')));
  pipeAt(driver, 'a', 0, 5, 12);
  expect(read(driver)).toEqual(['a@-10..0=1', 'a@-5..5=2', 'a@2..12=2']);
  pipeAt(driver, 'a', 3);
  expect(read(driver)).toEqual(['a@-7..3=2', 'a@-5..5=3', 'a@2..12=3']);
});

test('invalid windows fail with STREAMS_INVALID_WINDOW', () => {
  expect(() => TimeWindows.hopping(5, 10, options(0, 'final'))).toThrow(/advanceMs/);
  expect(() => TimeWindows.tumbling(10, options(-1, 'final'))).toThrow(/graceMs/);
});
