// Goal (issue 14, streams restore progress): an instance's status record round-trips through
// its codec and through the console's parser; the writer sends every state change, restore
// progress at most once per interval (a held-back report is sent when the interval ends), one
// send at a time (a write asked for meanwhile is sent after it with the latest status), and a
// failed send is reported, never thrown. The console
// keeps the latest status per instance, drops a tombstoned one, and counts instances beyond
// consoleStreamsInstancesMax. Method: the pure parts with a hand-driven clock and send.
import { expect, test } from 'vitest';
import {
  StatusThrottle,
  StatusWriter,
  decodeStatus,
  encodeStatus,
  type InstanceStatus,
} from '../../../src/streams/status.ts';
import {
  applyStatuses,
  consoleStreamsInstancesMax,
  emptyStatusCursor,
  parseStatus,
} from '../../../src/api/console/console-streams-status.ts';

const status: InstanceStatus = {
  instance: 'a',
  state: 'restoring',
  tasks: [{ task: 'in#0', state: 'restoring', stores: [{ store: 's', restored: 5, total: 9 }] }],
};

test('the codec round-trips; the console parses the same bytes; junk is refused', () => {
  const bytes = encodeStatus(status);
  expect(decodeStatus(bytes)).toEqual(status);
  expect(parseStatus(new TextDecoder().decode(bytes), 42)).toEqual({ ...status, writtenMs: 42 });
  expect(decodeStatus(new TextEncoder().encode('{"instance":"a","state":"odd","tasks":[]}'))).toBe(
    null,
  );
  expect(parseStatus('not json', 1)).toBe(null);
  expect(parseStatus('{"instance":"a","state":"running"}', 1)).toBe(null);
  const badStore = JSON.stringify({
    ...status,
    tasks: [{ task: 't', state: 'restoring', stores: [{ store: 's', restored: -1, total: 2 }] }],
  });
  expect(parseStatus(badStore, 1)?.tasks[0]?.stores).toEqual([]);
});

test('the throttle lets a state change through at once and progress once per interval', () => {
  const throttle = new StatusThrottle(1_000);
  expect(throttle.due(0, false)).toBe(true);
  expect(throttle.due(500, false)).toBe(false);
  expect(throttle.due(600, true)).toBe(true);
  expect(throttle.due(1_599, false)).toBe(false);
  expect(throttle.due(1_600, false)).toBe(true);
});

function harness(failing = false) {
  let nowMs = 0;
  const sent: InstanceStatus[] = [];
  const errors: unknown[] = [];
  const pending: (() => void)[] = [];
  const timers: { atMs: number; run: () => void }[] = [];
  const writer = new StatusWriter({
    instance: 'i1',
    intervalMs: 1_000,
    nowMs: () => nowMs,
    send: (_key, value) => {
      sent.push(decodeStatus(value) as InstanceStatus);
      return new Promise<void>((resolve, reject) => {
        pending.push(() => (failing ? reject(new Error('down')) : resolve()));
      });
    },
    onError: (error) => errors.push(error),
    schedule: (delayMs, run) => {
      const timer = { atMs: nowMs + delayMs, run };
      timers.push(timer);
      return () => timers.splice(timers.indexOf(timer), 1);
    },
  });
  /** Moves the clock, running the timers that came due. */
  const advance = (ms: number): void => {
    nowMs += ms;
    for (const timer of timers.filter((t) => t.atMs <= nowMs)) {
      timers.splice(timers.indexOf(timer), 1);
      timer.run();
    }
  };
  const settle = async (): Promise<void> => {
    while (pending.length > 0) {
      pending.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { writer, sent, errors, settle, advance, timers };
}

test('progress is throttled, state changes are sent, one send in flight at a time', async () => {
  const h = harness();
  h.writer.setState('starting');
  await h.settle();
  h.writer.progress('in#0', { store: 's', restored: 0, total: 5_000 });
  await h.settle();
  for (let read = 500; read < 5_000; read += 500) {
    h.advance(100); // 9 reports over 900 ms: none is due
    h.writer.progress('in#0', { store: 's', restored: read, total: 5_000 });
  }
  await h.settle();
  expect(h.sent.map((s) => s.state)).toEqual(['starting', 'restoring']);
  expect(h.timers).toHaveLength(1); // the held-back report, due when the interval ends
  h.advance(100);
  await h.settle();
  expect(h.sent).toHaveLength(3);
  expect(h.sent[2]?.tasks[0]?.stores[0]).toEqual({ store: 's', restored: 4_500, total: 5_000 });
  h.advance(1_000);
  h.writer.progress('in#0', { store: 's', restored: 4_900, total: 5_000 });
  h.writer.running('in#0'); // asked while the progress write is in flight: sent after it
  h.writer.setState('running');
  expect(h.sent).toHaveLength(4);
  await h.settle();
  expect(h.sent).toHaveLength(5);
  expect(h.sent[3]?.tasks[0]?.stores[0]).toEqual({ store: 's', restored: 4_900, total: 5_000 });
  expect(h.sent[4]).toEqual({
    instance: 'i1',
    state: 'running',
    tasks: [
      { task: 'in#0', state: 'running', stores: [{ store: 's', restored: 4_900, total: 5_000 }] },
    ],
  });
  h.writer.closed('in#0');
  h.writer.setState('stopped');
  await h.settle();
  await h.writer.flush();
  expect(h.sent.at(-1)).toEqual({ instance: 'i1', state: 'stopped', tasks: [] });
  expect(h.timers).toHaveLength(0);
});

test('a failed send is reported and the next change is still sent', async () => {
  const h = harness(true);
  h.writer.setState('running');
  await h.settle();
  h.writer.setState('stopped');
  await h.settle();
  await h.writer.flush();
  expect(h.errors).toHaveLength(2);
  expect(h.sent.map((s) => s.state)).toEqual(['running', 'stopped']);
});

test('the console keeps the latest status per instance, within consoleStreamsInstancesMax', () => {
  const record = (key: string | null, value: string | null, timestamp = 1) => ({
    key,
    value,
    timestamp,
  });
  const json = (instance: string, state: string) => JSON.stringify({ instance, state, tasks: [] });
  let cursor = applyStatuses(emptyStatusCursor, {
    records: [record('a', json('a', 'restoring')), record('a', json('a', 'running'), 7)],
    nextOffset: 2,
    highWatermark: 2,
  });
  expect(cursor.instances.get('a')).toEqual({
    instance: 'a',
    state: 'running',
    tasks: [],
    writtenMs: 7,
  });
  cursor = applyStatuses(cursor, { records: [record('a', null)], nextOffset: 3, highWatermark: 3 });
  expect(cursor.instances.size).toBe(0);
  const many = Array.from({ length: consoleStreamsInstancesMax + 2 }, (_, i) =>
    record(`i${i}`, json(`i${i}`, 'running')),
  );
  cursor = applyStatuses(cursor, { records: many, nextOffset: 100, highWatermark: 100 });
  expect(cursor.instances.size).toBe(consoleStreamsInstancesMax);
  expect(cursor.instancesLeftOut).toBe(2);
  expect(cursor.nextOffset).toBe(100);
});
