// Goal: the client's real clock runs a due wake-up (delay ≤ 0: linger.ms 0, a flush) in the
// same event-loop turn's check phase, not after setTimeout's 1 ms minimum, and cancels it.
// Method: a 0-delay schedule beside a setTimeout(1) set first; the schedule must run first.
import { expect, test } from 'vitest';
import { systemClock } from '../../../src/api/client/system-ports.ts';

test('a zero-delay schedule runs before a 1 ms timer set earlier, and cancels', async () => {
  const order: string[] = [];
  const timer = new Promise<void>((done) => {
    setTimeout(() => {
      order.push('timeout');
      done();
    }, 1);
  });
  const due = new Promise<void>((done) => {
    systemClock.schedule(0, () => {
      order.push('due');
      done();
    });
  });
  let cancelledRan = false;
  const cancel = systemClock.schedule(-5, () => {
    cancelledRan = true;
  });
  cancel();
  await Promise.all([timer, due]);
  await new Promise((done) => setImmediate(done));
  expect(order).toEqual(['due', 'timeout']);
  expect(cancelledRan).toBe(false);
});
