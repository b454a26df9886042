// Goal: the rapid-reset core flags exactly the reset that makes more than resetsMax within one
// window, and forgets resets older than the window. Method: times passed in, no timers.
import { expect, test } from 'vitest';
import { ResetRate } from '../../../src/api/server/reset-rate.ts';

test('more than resetsMax resets within the window is over the rate', () => {
  const rate = new ResetRate({ resetsMax: 3, windowMs: 1000 });
  expect([0, 100, 200].map((at) => rate.onReset(at))).toEqual([false, false, false]);
  expect(rate.onReset(999)).toBe(true); // The 4th within 1 s of the 1st.
});

test('resets spread over more than the window never are', () => {
  const rate = new ResetRate({ resetsMax: 3, windowMs: 1000 });
  const flagged = [];
  for (let at = 0; at < 20_000; at += 334) flagged.push(rate.onReset(at));
  expect(flagged.every((over) => !over)).toBe(true);
  // After a quiet window, a burst is over the rate at its (resetsMax + 1)th reset.
  const burst = [30_000, 30_001, 30_002, 30_003].map((at) => rate.onReset(at));
  expect(burst).toEqual([false, false, false, true]);
});
