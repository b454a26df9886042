// Goal: parked requests resume exactly when their condition holds at a wake, or at their
// deadline, and the number parked is bounded. Method: a manual clock; no timers run by themselves.
import { expect, test } from 'vitest';
import { Purgatory } from '../../../src/broker/purgatory.ts';
import { ManualClock } from '../../support/broker/manual-clock.ts';

test('a waiter resumes at the wake that satisfies it, not before', async () => {
  const clock = new ManualClock();
  const purgatory = new Purgatory({ waitersMax: 10 }, { clock });
  let hw = 0;
  const parked = purgatory.wait('t-0', 1000, () => hw > 0);
  purgatory.wake('t-0');
  expect(purgatory.size).toBe(1);
  hw = 1;
  purgatory.wake('t-1');
  expect(purgatory.size).toBe(1);
  purgatory.wake('t-0');
  expect(await parked).toBe('satisfied');
  expect(purgatory.size).toBe(0);
  expect(clock.pendingTimers).toBe(0);
});

test('a waiter expires at its deadline', async () => {
  const clock = new ManualClock();
  const purgatory = new Purgatory({ waitersMax: 10 }, { clock });
  const parked = purgatory.wait('t-0', 500, () => false);
  clock.advance(500);
  expect(await parked).toBe('expired');
  expect(purgatory.size).toBe(0);
});

test('an already satisfied condition or a zero timeout never parks', async () => {
  const purgatory = new Purgatory({ waitersMax: 1 }, { clock: new ManualClock() });
  expect(await purgatory.wait('k', 1000, () => true)).toBe('satisfied');
  expect(await purgatory.wait('k', 0, () => false)).toBe('expired');
  expect(purgatory.size).toBe(0);
});

test('past waitersMax, wait returns null instead of parking', () => {
  const purgatory = new Purgatory({ waitersMax: 2 }, { clock: new ManualClock() });
  expect(purgatory.wait('a', 1000, () => false)).not.toBeNull();
  expect(purgatory.wait('b', 1000, () => false)).not.toBeNull();
  expect(purgatory.wait('c', 1000, () => false)).toBeNull();
});

test('release resumes every waiter of a key whatever its condition', async () => {
  const clock = new ManualClock();
  const purgatory = new Purgatory({ waitersMax: 10 }, { clock });
  const both = [purgatory.wait('k', 1000, () => false), purgatory.wait('k', 1000, () => false)];
  purgatory.release('k');
  expect(await Promise.all(both)).toEqual(['satisfied', 'satisfied']);
  expect(clock.pendingTimers).toBe(0);
});

test('issue 15: an aborted signal frees the slot and the timer at once', async () => {
  const clock = new ManualClock();
  const purgatory = new Purgatory({ waitersMax: 1 }, { clock });
  const client = new AbortController();
  const parked = purgatory.wait('t-0', 120_000, () => false, client.signal);
  expect(purgatory.wait('t-0', 1000, () => false)).toBeNull();
  client.abort();
  expect(await parked).toBe('cancelled');
  expect(purgatory.size).toBe(0);
  expect(clock.pendingTimers).toBe(0);
  // The freed slot takes a new waiter; a signal aborted before the wait never parks.
  const next = purgatory.wait('t-0', 1000, () => false);
  expect(next).not.toBeNull();
  const gone = new AbortController();
  gone.abort();
  expect(await purgatory.wait('t-1', 1000, () => false, gone.signal)).toBe('cancelled');
  purgatory.releaseAll();
  expect(await next).toBe('satisfied');
});
