// The producer's buffer.memory: bytes of records appended but not yet acknowledged. A send that
// does not fit waits, first come first served, until acknowledgements free enough; it fails with
// CLIENT_BUFFER_TIMEOUT after maxBlockMs, and at most waitersMax sends may wait at once
// (CLIENT_BUFFER_FULL beyond), so neither the buffer nor the line in front of it grows unbounded.
import { assert, BoundedQueue, type Clock } from '../../common/index.ts';
import { ClientError } from './client-error.ts';

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: ClientError) => void;
  cancelTimer: () => void;
  settled: boolean;
}

export class BufferMemory {
  readonly #bytesMax: number;
  readonly #maxBlockMs: number;
  readonly #clock: Clock;
  readonly #waiters: BoundedQueue<Waiter>;
  #usedBytes = 0;

  constructor(
    config: { bytesMax: number; maxBlockMs: number; waitersMax: number },
    deps: { clock: Clock },
  ) {
    assert(config.bytesMax > 0, 'bytesMax must be > 0');
    assert(config.maxBlockMs >= 0, 'maxBlockMs must be >= 0');
    this.#bytesMax = config.bytesMax;
    this.#maxBlockMs = config.maxBlockMs;
    this.#clock = deps.clock;
    this.#waiters = new BoundedQueue(config.waitersMax);
  }

  get usedBytes(): number {
    return this.#usedBytes;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Takes `bytes` now if they fit and nobody waits ahead; false otherwise. */
  tryAcquire(bytes: number): boolean {
    if (this.#waiters.length > 0 || this.#usedBytes + bytes > this.#bytesMax) return false;
    this.#usedBytes += bytes;
    return true;
  }

  /** Takes `bytes`, waiting for space. CLIENT_RECORD_TOO_LARGE, _BUFFER_FULL, _BUFFER_TIMEOUT. */
  async acquire(bytes: number): Promise<void> {
    if (bytes > this.#bytesMax) {
      throw new ClientError(
        'CLIENT_RECORD_TOO_LARGE',
        `a ${bytes}-byte record exceeds buffer.memory (${this.#bytesMax} bytes)`,
      );
    }
    if (this.tryAcquire(bytes)) return;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { bytes, resolve, reject, cancelTimer: () => {}, settled: false };
      if (!this.#waiters.tryPush(waiter)) {
        reject(new ClientError('CLIENT_BUFFER_FULL', 'too many sends wait for buffer.memory'));
        return;
      }
      waiter.cancelTimer = this.#clock.schedule(this.#maxBlockMs, () => {
        if (waiter.settled) return;
        waiter.settled = true;
        reject(
          new ClientError(
            'CLIENT_BUFFER_TIMEOUT',
            `buffer.memory stayed full for maxBlockMs (${this.#maxBlockMs} ms)`,
          ),
        );
        this.#grantWaiters();
      });
    });
  }

  /** Returns bytes and lets waiting sends in, oldest first. */
  release(bytes: number): void {
    this.#usedBytes -= bytes;
    assert(this.#usedBytes >= 0, `buffer memory released more than it held (${this.#usedBytes})`);
    this.#grantWaiters();
  }

  /** Fails every waiting send (on close). */
  rejectAll(error: ClientError): void {
    for (let waiter = this.#waiters.shift(); waiter !== undefined; waiter = this.#waiters.shift()) {
      if (waiter.settled) continue;
      waiter.settled = true;
      waiter.cancelTimer();
      waiter.reject(error);
    }
  }

  #grantWaiters(): void {
    for (let head = this.#waiters.peek(); head !== undefined; head = this.#waiters.peek()) {
      if (head.settled) {
        this.#waiters.shift();
        continue;
      }
      if (this.#usedBytes + head.bytes > this.#bytesMax) return;
      this.#waiters.shift();
      head.settled = true;
      head.cancelTimer();
      this.#usedBytes += head.bytes;
      head.resolve();
    }
  }
}
