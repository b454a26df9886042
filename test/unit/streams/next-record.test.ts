// Goal: the ordering rule of a task (src/streams/next-record.ts) never processes a record while
// an input with nothing buffered may still hold an earlier one: it waits without limit when
// that input is known to have more (position < end, upstream work here), waits at most
// taskIdleMsMax when its end is not known, and otherwise takes the earliest head, ties by
// input order. A task's buffer bound is per input, so a full input never keeps another out.
import { expect, test } from 'vitest';
import { nextRecord, type InputView } from '../../../src/streams/next-record.ts';
import { StreamTask } from '../../../src/streams/stream-task.ts';
import { StreamsBuilder, serdes, stringSerde } from '../../../src/streams/index.ts';

const view = (
  topic: string,
  headTimestampMs: number | null,
  pending: InputView['pending'] = 'none',
): InputView => ({ topic, headTimestampMs, pending });

test('nothing buffered: idle, whatever the inputs have to come', () => {
  expect(nextRecord([view('a', null, 'known'), view('b', null)], null, 0, 100)).toEqual({
    kind: 'idle',
  });
});

test('the earliest head goes first; equal timestamps go to the input listed first', () => {
  expect(nextRecord([view('a', 20), view('b', 10)], null, 0, 0)).toEqual({
    kind: 'process',
    topic: 'b',
    enforced: false,
  });
  expect(nextRecord([view('a', 10), view('b', 10)], null, 0, 0)).toMatchObject({ topic: 'a' });
  expect(nextRecord([view('b', 10), view('a', 10)], null, 0, 0)).toMatchObject({ topic: 'b' });
});

test('an empty input known to hold more blocks without a time limit', () => {
  const inputs = [view('a', 10), view('b', null, 'known')];
  for (const nowMs of [0, 1_000, 10_000_000]) {
    expect(nextRecord(inputs, 0, nowMs, 100)).toEqual({ kind: 'wait', topic: 'b', untilMs: null });
  }
});

test('an empty input caught up with its end does not block', () => {
  expect(nextRecord([view('a', null), view('b', 30)], null, 0, 100)).toMatchObject({
    kind: 'process',
    topic: 'b',
  });
});

test('an empty input with an unknown end blocks for taskIdleMsMax, then processing is enforced', () => {
  const inputs = [view('a', 10), view('b', null, 'unknown')];
  expect(nextRecord(inputs, null, 500, 100)).toEqual({ kind: 'wait', topic: 'b', untilMs: 600 });
  expect(nextRecord(inputs, 500, 599, 100)).toEqual({ kind: 'wait', topic: 'b', untilMs: 600 });
  expect(nextRecord(inputs, 500, 600, 100)).toEqual({
    kind: 'process',
    topic: 'a',
    enforced: true,
  });
  // A known lag elsewhere still blocks after the idle time.
  const both = [...inputs, view('c', null, 'known')];
  expect(nextRecord(both, 500, 10_000, 100)).toMatchObject({ kind: 'wait', topic: 'c' });
  // taskIdleMsMax 0: Kafka's default, no wait for an unknown end.
  expect(nextRecord(inputs, null, 0, 0)).toMatchObject({ kind: 'process', enforced: true });
});

function twoInputTask(bufferedMax: number): StreamTask {
  const builder = new StreamsBuilder({ applicationId: 'order' });
  const s = serdes(stringSerde, stringSerde);
  builder.stream('a', s).merge(builder.stream('b', s)).to('out', s);
  const topology = builder.build();
  const sub = topology.subtopologies[0];
  if (sub === undefined) throw new Error('no subtopology');
  return new StreamTask(topology, sub, 0, bufferedMax);
}

const record = (topic: string, offset: number, timestampMs: number) => ({
  topic,
  partition: 0,
  offset,
  key: null,
  value: new TextEncoder().encode(`${topic}${offset}`),
  timestampMs,
});

test('a task waits for a lagging empty input, then processes in timestamp order', () => {
  const task = twoInputTask(3);
  // Input a fills its buffer; b can still buffer (the bound is per input).
  for (let i = 0; i < 3; i += 1) expect(task.add(record('a', i, 10 + i * 10))).toBe(true);
  expect(task.add(record('a', 3, 40))).toBe(false);
  expect(task.hasRoom('a')).toBe(false);
  expect(task.hasRoom('b')).toBe(true);
  // b lags (not read to its end): nothing is processed however long it waits.
  expect(task.step(() => 'known', 1_000_000, 100)).toBe(false);
  expect(task.metrics.processed).toBe(0);
  expect(task.add(record('b', 0, 15))).toBe(true);
  const order: string[] = [];
  while (task.step(() => 'none', 0, 100)) {
    order.push(...task.takeOutput().map((o) => new TextDecoder().decode(o.value ?? undefined)));
  }
  expect(order).toEqual(['a0', 'b0', 'a1', 'a2']);
  expect(task.metrics.streamTimeMs).toBe(30);
  expect(task.metrics.enforced).toBe(0);
});

test('a task waits taskIdleMsMax for an input of unknown end, from the start of the wait', () => {
  const task = twoInputTask(10);
  task.add(record('a', 0, 10));
  expect(task.step(() => 'unknown', 1_000, 50)).toBe(false);
  expect(task.step(() => 'unknown', 1_049, 50)).toBe(false);
  expect(task.step(() => 'unknown', 1_050, 50)).toBe(true);
  expect(task.metrics.enforced).toBe(1);
});
