// The I/O loop around the pure Raft core, and the only raft file that awaits. It ticks the
// core from an injected Clock, steps inbound messages into it, and runs one Ready round at a
// time in etcd's order: persist (snapshot, entries, hard state: one synced batch) → send →
// apply → advance, where committed entries (already durable on a quorum) may be applied while
// the batch syncs. Invariant: never two rounds at once, so whatever arrives during one sync
// (proposals, acks) is persisted together in the next batch: group commit falls out of it.
import { assert, type Clock } from '../common/index.ts';
import type { RaftStorage } from './raft-storage.ts';
import type { RaftTransport } from './raft-transport.ts';
import type { RaftMessage, Ready } from './types.ts';

/** What the driver needs from the core (RaftCore implements it). */
export interface DrivenRaftCore {
  tick(): void;
  /** Ticks from now to the first that may act (≥ 1); the ones before it only count. */
  quietTicks(): number;
  step(message: RaftMessage): void;
  /** A definite sign a peer's process is gone (RaftCore.peerUnreachable). */
  peerUnreachable(peer: number): void;
  hasReady(): boolean;
  ready(): Ready;
  advance(ready: Ready): void;
}

export interface RaftDriverConfig {
  /** Wall-clock milliseconds per core tick (timeouts in the core are counted in ticks). */
  readonly tickMs: number;
}

export interface RaftDriverDeps {
  readonly core: DrivenRaftCore;
  readonly storage: RaftStorage;
  readonly transport: RaftTransport;
  readonly clock: Clock;
  /**
   * Applies a Ready's snapshot (if any), then its committed entries, then serves its read
   * states; before advance. With a snapshot it runs once the Ready is durable and sent;
   * without one, while the Ready's batch syncs (its entries are committed on a quorum).
   */
  readonly apply: (ready: Ready) => void;
  /** Runs after advance, still inside the round: it may compact and `storage.save` a snapshot. */
  readonly afterRound?: () => Promise<void>;
  /** The loop stopped on an error it cannot recover from (storage failed): the node must stop. */
  readonly onFatal: (error: unknown) => void;
  /** Called after every step and round, so observers can notice role or leader changes. */
  readonly onProgress?: () => void;
}

type DriverState = 'new' | 'running' | 'stopped';

/** Counters for metrics; they only grow. Entries per round shows group commit at work. */
export interface RaftDriverCounters {
  rounds: number;
  persistedEntries: number;
  appliedEntries: number;
  sentMessages: number;
  /** Milliseconds spent waiting for storage.save, summed over rounds. */
  saveMs: number;
}

/** Senders whose last message time is kept (more than any membership this log allows). */
const lastHeardNodesMax = 1_024;

export class RaftDriver {
  readonly #config: RaftDriverConfig;
  readonly #deps: RaftDriverDeps;
  /** When a message last came from each node (the console's "last contact"). */
  readonly #lastHeardMs = new Map<number, number>();
  #state: DriverState = 'new';
  #cancelTick: (() => void) | null = null;
  /** Clock time of the last tick delivered (its nominal time). */
  #tickBaseMs = 0;
  /** Ticks after #tickBaseMs to the first that may act, as the core said at the last input. */
  #quietTicks = 1;
  /** When the tick timer fires, or null when none is armed. */
  #tickDueMs: number | null = null;
  /** The round in progress, if any; stop() waits for it. */
  #round: Promise<void> | null = null;
  readonly counters: RaftDriverCounters = {
    rounds: 0,
    persistedEntries: 0,
    appliedEntries: 0,
    sentMessages: 0,
    saveMs: 0,
  };

  constructor(config: RaftDriverConfig, deps: RaftDriverDeps) {
    assert(config.tickMs > 0, 'tickMs must be positive');
    this.#config = config;
    this.#deps = deps;
  }

  get isRunning(): boolean {
    return this.#state === 'running';
  }

  start(): void {
    assert(this.#state === 'new', `driver cannot start from ${this.#state}`);
    this.#state = 'running';
    this.#deps.transport.onMessage((message) => this.#onMessage(message));
    this.#deps.transport.onPeerUnreachable?.((peer) => this.#onPeerUnreachable(peer));
    this.#tickBaseMs = this.#deps.clock.nowMs();
    this.kick();
    this.#scheduleTick();
  }

  /** Stops ticking and stepping, and waits for the round in progress to finish. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#disarmTick();
    await this.#round;
  }

  /** Runs Ready rounds until the core has nothing left; call after any input to the core. */
  kick(): void {
    if (this.#state !== 'running') return;
    this.#scheduleTick();
    if (this.#round !== null) return;
    if (!this.#deps.core.hasReady()) return;
    this.#round = this.#runRounds().finally(() => {
      this.#round = null;
      this.kick(); // Input that raced the end of the loop gets its round.
    });
  }

  /** Clock time of the last message received from each node, at most lastHeardNodesMax. */
  get lastHeardMs(): ReadonlyMap<number, number> {
    return this.#lastHeardMs;
  }

  #onPeerUnreachable(peer: number): void {
    if (this.#state !== 'running') return;
    this.#deliverQuietTicks();
    this.#deps.core.peerUnreachable(peer);
    this.#deps.onProgress?.();
    this.kick();
  }

  #onMessage(message: RaftMessage): void {
    if (this.#state !== 'running') return;
    if (this.#lastHeardMs.has(message.from) || this.#lastHeardMs.size < lastHeardNodesMax) {
      this.#lastHeardMs.set(message.from, this.#deps.clock.nowMs());
    }
    // The ticks that passed while the driver slept come first, as if it had woken for each.
    this.#deliverQuietTicks();
    try {
      this.#deps.core.step(message);
    } catch (error) {
      // A broken invariant while stepping leaves the core in no known state: stop as a storage
      // failure does, whichever transport path (stream or request) delivered the message.
      this.#fail(error);
      return;
    }
    this.#deps.onProgress?.();
    this.kick();
  }

  /**
   * An idle node does not wake every tick: the timer is armed for the first tick that may act
   * (the core's quietTicks), and the ticks before it are delivered late, in one go, before the
   * next message or the acting tick — the core sees the same sequence either way. A leader
   * then wakes per heartbeat, a follower only on messages (issue 7: idle CPU).
   */
  #scheduleTick(): void {
    if (this.#state !== 'running') return;
    this.#quietTicks = this.#deps.core.quietTicks();
    const dueMs = this.#tickBaseMs + this.#quietTicks * this.#config.tickMs;
    if (this.#tickDueMs === dueMs) return;
    this.#disarmTick();
    this.#tickDueMs = dueMs;
    const delayMs = Math.max(0, dueMs - this.#deps.clock.nowMs());
    this.#cancelTick = this.#deps.clock.schedule(delayMs, () => {
      this.#cancelTick = null;
      this.#tickDueMs = null;
      if (this.#state !== 'running') return;
      for (let i = 1; i < this.#quietTicks; i += 1) this.#deps.core.tick();
      this.#deps.core.tick();
      // Counted from now, as a late timer would: a paused process does not tick in a burst.
      this.#tickBaseMs = this.#deps.clock.nowMs();
      this.#deps.onProgress?.();
      this.kick();
    });
  }

  /** Delivers the ticks due by now that only count (never the one that may act). */
  #deliverQuietTicks(): void {
    const dueTicks = Math.floor(
      (this.#deps.clock.nowMs() - this.#tickBaseMs) / this.#config.tickMs,
    );
    const ticks = Math.min(dueTicks, this.#quietTicks - 1);
    for (let i = 0; i < ticks; i += 1) this.#deps.core.tick();
    if (ticks <= 0) return;
    this.#tickBaseMs += ticks * this.#config.tickMs;
    this.#quietTicks -= ticks;
  }

  /** The node cannot go on (storage failed, an invariant broke): no more ticks or steps. */
  #fail(error: unknown): void {
    this.#state = 'stopped';
    this.#disarmTick();
    this.#deps.onFatal(error);
  }

  #disarmTick(): void {
    this.#cancelTick?.();
    this.#cancelTick = null;
    this.#tickDueMs = null;
  }

  async #runRounds(): Promise<void> {
    try {
      while (this.#state === 'running' && this.#deps.core.hasReady()) {
        await this.#runRound(this.#deps.core.ready());
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * Thesis §10.2.1: a leader may send its appends while it writes the same entries to its own
   * disk, because the core counts the leader toward a quorum only for entries it has made
   * durable (after advance). Only when the round changes no term or vote, installs no snapshot
   * and sends nothing but append-requests, so no vote or response can leave early.
   */
  #isLeaderAppendOnly(ready: Ready): boolean {
    if (ready.snapshot !== null || ready.messages.length === 0) return false;
    const persisted = this.#deps.storage.hardState();
    const hardState = ready.hardState;
    if (
      hardState !== null &&
      (hardState.term !== persisted.term || hardState.vote !== persisted.vote)
    ) {
      return false;
    }
    return ready.messages.every((message) => message.type === 'append-request');
  }

  async #runRound(ready: Ready): Promise<void> {
    const { core, storage, transport } = this.#deps;
    const { hardState, snapshot, entries } = ready;
    const early = this.#isLeaderAppendOnly(ready) ? ready.messages : [];
    for (const message of early) transport.send(message);
    const startMs = this.#deps.clock.nowMs();
    const saved =
      hardState !== null || snapshot !== null || entries.length > 0
        ? storage.save({ hardState, snapshot, entries })
        : null;
    // Committed entries are durable on a quorum already, so they are applied while this node's
    // own write syncs (etcd's server applies concurrently too). A snapshot replaces the state
    // machine's image and the log: it is applied only once it is durable here.
    const appliesEarly = snapshot === null;
    if (appliesEarly) this.#deps.apply(ready);
    if (saved !== null) {
      await saved;
      this.counters.saveMs += this.#deps.clock.nowMs() - startMs;
    }
    // Raft §5: term, vote and log are durable before any message that depends on them leaves.
    if (early.length === 0) for (const message of ready.messages) transport.send(message);
    if (!appliesEarly) this.#deps.apply(ready);
    core.advance(ready);
    this.counters.rounds += 1;
    this.counters.persistedEntries += entries.length;
    this.counters.appliedEntries += ready.committed.length;
    this.counters.sentMessages += ready.messages.length;
    this.#deps.onProgress?.();
    await this.#deps.afterRound?.();
  }
}
