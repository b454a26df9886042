// Goal: buffer.memory never grows past its bound — a send that does not fit waits (first come,
// first served) until bytes are released, times out after maxBlockMs, and the line of waiting
// sends is bounded too. Method: a ManualClock, no real timers.
import { describe, expect, test } from 'vitest';
import { BufferMemory } from '../../../src/api/client/buffer-memory.ts';
import { ClientError } from '../../../src/api/client/client-error.ts';
import { ManualClock, settle } from './manual-clock.ts';

function memory(clock = new ManualClock(), waitersMax = 10) {
  return new BufferMemory({ bytesMax: 100, maxBlockMs: 1_000, waitersMax }, { clock });
}

describe('BufferMemory', () => {
  test('a send that does not fit waits until enough is released, in order', async () => {
    const m = memory();
    await m.acquire(60);
    const order: string[] = [];
    const second = m.acquire(50).then(() => order.push('second'));
    const third = m.acquire(10).then(() => order.push('third')); // Fits, but waits its turn.
    await settle();
    expect(order).toEqual([]);
    expect(m.usedBytes).toBe(60);
    m.release(60);
    await Promise.all([second, third]);
    expect(order).toEqual(['second', 'third']);
    expect(m.usedBytes).toBe(60);
  });

  test('used bytes never exceed the bound', async () => {
    const m = memory();
    const grants = Array.from({ length: 10 }, () => m.acquire(30));
    await settle();
    expect(m.usedBytes).toBe(90);
    for (let i = 0; i < 7; i += 1) {
      m.release(30);
      await settle();
      expect(m.usedBytes).toBeLessThanOrEqual(100);
    }
    await Promise.all(grants);
  });

  test('waiting longer than maxBlockMs fails with CLIENT_BUFFER_TIMEOUT', async () => {
    const clock = new ManualClock();
    const m = memory(clock);
    await m.acquire(100);
    const blocked = m.acquire(1).catch((error: unknown) => error);
    await clock.advance(999);
    expect(m.usedBytes).toBe(100);
    await clock.advance(1);
    const error = await blocked;
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).code).toBe('CLIENT_BUFFER_TIMEOUT');
    m.release(100);
    expect(m.usedBytes).toBe(0); // The timed-out send took nothing.
  });

  test('beyond waitersMax a send fails at once with the retriable CLIENT_BUFFER_FULL', async () => {
    const m = memory(new ManualClock(), 2);
    await m.acquire(100);
    void m.acquire(1);
    void m.acquire(1);
    const error = (await m.acquire(1).catch((e: unknown) => e)) as ClientError;
    expect(error.code).toBe('CLIENT_BUFFER_FULL');
    expect(error.retriable).toBe(true);
  });

  test('a record larger than the whole buffer fails at once', async () => {
    const error = (await memory()
      .acquire(101)
      .catch((e: unknown) => e)) as ClientError;
    expect(error.code).toBe('CLIENT_RECORD_TOO_LARGE');
  });
});
