// The console's one live channel: subscribers (server-sent-event streams) receive the view
// whenever it changes. Reads run only while at least one subscriber is connected: the first
// subscriber starts the timer, the last one to leave cancels it and drops the history, so an
// unwatched console costs nothing. Subscribers are bounded by subscribersMax (BROKER_BUSY).
import { assert, type Clock, type WallClock } from '../../common/index.ts';
import { ApiError } from '../errors.ts';
import {
  advanceHistory,
  emptyHistory,
  partitionHealth,
  seededHistory,
  type ConsoleHistory,
  type ConsoleReading,
  type ConsoleState,
} from './console-view.ts';

export interface ConsoleFeedConfig {
  /** A read starts this long after the previous one started (or finished, if it took longer). */
  readonly readIntervalMs: number;
  /** Open event streams at most; one more answers 503 BROKER_BUSY. */
  readonly subscribersMax: number;
  /** Points kept in the charts' history. */
  readonly historyPointsMax: number;
  /** An unchanged view is sent again after this long (the charts move on). */
  readonly resendMs: number;
}

export const defaultConsoleFeedConfig: ConsoleFeedConfig = {
  readIntervalMs: 500,
  subscribersMax: 32,
  historyPointsMax: 600,
  resendMs: 1_000,
};

/** One open event stream. */
export interface ConsoleSubscriber {
  /** Writes one server-sent event; `data` is one line of JSON. */
  send(event: string, data: string): void;
  /** Ends the stream (the node is closing). */
  close(): void;
}

export interface ConsoleFeedDeps {
  readonly clock: Clock;
  /** The nodes' sampling interval: their rings' points are matched on this grid. */
  readonly sampleIntervalMs: number;
  readonly wallClock: WallClock;
  /**
   * One read of the node's state; a failure is skipped (the next read retries). `withHistory`
   * (the first read of a watch) also gathers the nodes' rings of samples; `watched` are the
   * topics subscribers asked for by name, described even beyond the first consoleTopicsMax.
   */
  readonly read: (withHistory: boolean, watched: readonly string[]) => Promise<ConsoleReading>;
  readonly onReadError: (error: unknown) => void;
  /** Called when the last subscriber leaves: drop whatever the reads kept. */
  readonly onIdle?: () => void;
}

export class ConsoleFeed {
  readonly #config: ConsoleFeedConfig;
  readonly #deps: ConsoleFeedDeps;
  /** Each open stream, and the topic it watches by name (one at most) or null. */
  readonly #subscribers = new Map<ConsoleSubscriber, string | null>();
  #cancelTimer: (() => void) | null = null;
  #reading = false;
  #history: ConsoleHistory = emptyHistory;
  /** The last view sent, without its time and history, and the whole of it. */
  #lastView: string | null = null;
  #lastJson: string | null = null;
  #lastSentMs = 0;
  /** Bumped when the last subscriber leaves, so a read in flight then is thrown away. */
  #generation = 0;

  constructor(config: ConsoleFeedConfig, deps: ConsoleFeedDeps) {
    for (const name of Object.keys(config) as (keyof ConsoleFeedConfig)[]) {
      assert(Number.isInteger(config[name]) && config[name] > 0, `${name} must be positive`);
    }
    this.#config = config;
    this.#deps = deps;
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Whether a read is scheduled or running: false whenever nobody subscribes. */
  get isActive(): boolean {
    return this.#cancelTimer !== null || this.#reading;
  }

  /** Throws BROKER_BUSY (limit consoleSubscribersMax) when no subscriber can be added. */
  checkRoom(): void {
    if (this.#subscribers.size >= this.#config.subscribersMax) {
      throw new ApiError('BROKER_BUSY', `${this.#subscribers.size} console streams are open`, {
        limit: 'consoleSubscribersMax',
      });
    }
  }

  /** Adds a subscriber (it gets the last view at once); `topic` is described in every read. */
  subscribe(subscriber: ConsoleSubscriber, topic: string | null = null): () => void {
    this.checkRoom();
    this.#subscribers.set(subscriber, topic);
    if (this.#lastJson !== null) subscriber.send('state', this.#lastJson);
    if (this.#subscribers.size === 1) this.#schedule(0);
    return () => this.#unsubscribe(subscriber);
  }

  /** Ends every subscriber's stream and stops reading (the server is closing). */
  stop(): void {
    for (const subscriber of [...this.#subscribers.keys()]) {
      this.#unsubscribe(subscriber);
      subscriber.close();
    }
  }

  #unsubscribe(subscriber: ConsoleSubscriber): void {
    if (!this.#subscribers.delete(subscriber) || this.#subscribers.size > 0) return;
    this.#cancelTimer?.();
    this.#cancelTimer = null;
    this.#generation += 1;
    this.#history = emptyHistory;
    this.#lastView = null;
    this.#lastJson = null;
    this.#deps.onIdle?.();
  }

  #schedule(delayMs: number): void {
    if (this.#cancelTimer !== null || this.#reading) return;
    this.#cancelTimer = this.#deps.clock.schedule(delayMs, () => {
      this.#cancelTimer = null;
      void this.#readOnce();
    });
  }

  async #readOnce(): Promise<void> {
    const generation = this.#generation;
    const startedMs = this.#deps.clock.nowMs();
    this.#reading = true;
    try {
      const watched = [...new Set(this.#subscribers.values())].filter((t) => t !== null);
      const reading = await this.#deps.read(this.#history.t.length === 0, watched.sort());
      if (generation === this.#generation) this.#publish(reading);
    } catch (error) {
      this.#deps.onReadError(error);
    } finally {
      this.#reading = false;
    }
    if (this.#subscribers.size === 0) return;
    const elapsedMs = this.#deps.clock.nowMs() - startedMs;
    this.#schedule(Math.max(0, this.#config.readIntervalMs - elapsedMs));
  }

  #publish(reading: ConsoleReading): void {
    const atMs = this.#deps.wallClock.wallMs();
    const { historyPointsMax } = this.#config;
    const { histories, ...shown } = reading;
    // The first read of a watch starts from the minutes every node sampled on its own.
    const before =
      this.#history.t.length === 0 && histories !== undefined
        ? seededHistory(histories, this.#deps.sampleIntervalMs)
        : this.#history;
    this.#history = advanceHistory(before, reading, atMs, historyPointsMax);
    const state: ConsoleState = {
      ...shown,
      atMs,
      ...partitionHealth(reading),
      history: this.#history,
    };
    // The history always grows, so compare what a user sees without it: send on a change.
    const view = JSON.stringify({ ...state, atMs: 0, history: null });
    const nowMs = this.#deps.clock.nowMs();
    if (view !== this.#lastView || nowMs - this.#lastSentMs >= this.#config.resendMs) {
      this.#lastView = view;
      this.#lastSentMs = nowMs;
      const full = JSON.stringify(state);
      this.#lastJson = full;
      for (const subscriber of this.#subscribers.keys()) subscriber.send('state', full);
    }
  }
}
