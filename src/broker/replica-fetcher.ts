// The follower's pull loops: one per source leader node, carrying every partition this node
// follows from that leader in one incremental fetch session (KIP-227; the session bookkeeping
// is replication/fetch-session.ts). Each round asks the follower core of every *due* partition
// (new, answered, woken by metadata or an epoch answer) for its request: OffsetsForLeaderEpoch
// goes out on its own, fetches ride the session; a partition whose fetch rides the session is
// not asked again until answered, so an idle round costs O(changed). Answers go back to the
// core that asked and the log commands it returns are performed in order. Invariant: a
// partition has at most one request in flight (the core allows one), and an answer meant for a
// replaced core object is dropped. A corrupt fetched batch goes to the core's onLogCorruption.
import { isLogError } from '../log/index.ts';
import type { BrokerLogger } from './broker-logger.ts';
import type { Clock } from '../common/index.ts';
import type { Partition } from './partition.ts';
import {
  FetchSessionBuilder,
  type EpochErrorCode,
  type FetchSessionErrorCode,
  type FollowerReplica,
  type FollowerRequest,
  type SessionFetchRequest,
} from './replication/index.ts';
/** OffsetsForLeaderEpoch on the wire. */
export interface EpochEndOffsetCall {
  readonly topic: string;
  readonly partition: number;
  readonly replicaId: number;
  readonly currentLeaderEpoch: number;
  readonly epoch: number;
}

export type EpochEndOffsetAnswer =
  | { readonly kind: 'error'; readonly code: EpochErrorCode }
  | { readonly kind: 'ok'; readonly epoch: number | null; readonly endOffset: number };

/** One partition's answer to a follower fetch. */
export type ReplicaFetchAnswer =
  | { readonly kind: 'error'; readonly code: EpochErrorCode }
  | { readonly kind: 'diverging'; readonly epoch: number; readonly endOffset: number }
  | { readonly kind: 'outOfRange'; readonly logStartOffset: number; readonly logEndOffset: number }
  | {
      readonly kind: 'records';
      /** Whole batches as the leader stored them (offsets and epochs kept); may be empty. */
      readonly records: Uint8Array;
      readonly nextOffset: number;
      readonly highWatermark: number;
      readonly logEndOffset: number;
      readonly leaderEpoch: number;
    };

/** A session fetch on the wire; the leader may hold it up to maxWaitMs when nothing is new. */
export interface SessionFetchCall extends SessionFetchRequest {
  readonly maxWaitMs: number;
  /** Record bytes of the whole answer (a partition may pass it by one batch). */
  readonly maxBytes: number;
  readonly partitionMaxBytes: number;
}

/** Only partitions with records, a new HW or an error are answered. */
export type SessionFetchAnswer =
  | { readonly kind: 'error'; readonly code: FetchSessionErrorCode }
  | {
      readonly kind: 'ok';
      readonly sessionId: number;
      readonly partitions: readonly ({
        readonly topic: string;
        readonly partition: number;
      } & ReplicaFetchAnswer)[];
    };

/** How a follower reaches a leader (HTTP/2 in a node; in-process in tests). Rejects on any
 * transport failure or broker error other than the codes that are answers. */
export interface ReplicaTransport {
  epochEndOffset(leaderUrl: string, call: EpochEndOffsetCall): Promise<EpochEndOffsetAnswer>;
  sessionFetch(
    leaderUrl: string,
    call: SessionFetchCall,
    signal?: AbortSignal,
  ): Promise<SessionFetchAnswer>;
  close(): Promise<void>;
}

export interface ReplicaFetcherConfig {
  readonly nodeId: number;
  /**
   * The longest a leader holds a session fetch that has nothing new: an idle session's round
   * trip period. The leader answers at once on any change (data, a HW, an error, its own
   * drain), so a longer wait costs no latency, only the idle requests it saves; it must stay
   * well below the leader's sessionIdleMsMax.
   */
  readonly fetchMaxWaitMs: number;
  /** Record bytes per partition in one answer. */
  readonly fetchMaxBytes: number;
  /** Record bytes of one session answer. */
  readonly sessionFetchMaxBytes: number;
  /** Pause before asking the cores again when none has anything to send, or one waits. */
  readonly idleMs: number;
  /** After a corrupt fetched batch, the partition waits this long before fetching again. */
  readonly corruptionBackoffMs: number;
}

export const defaultReplicaFetcherConfig: Omit<ReplicaFetcherConfig, 'nodeId'> = {
  fetchMaxWaitMs: 5_000,
  fetchMaxBytes: 8 * 1024 * 1024,
  sessionFetchMaxBytes: 16 * 1024 * 1024,
  idleMs: 50,
  corruptionBackoffMs: 1_000,
};

export interface ReplicaFetcherDeps {
  readonly transport: ReplicaTransport;
  readonly clock: Clock;
  readonly logger: BrokerLogger;
  /** The URL of a node from the metadata image, or null when it is unknown. */
  readonly nodeUrl: (nodeId: number) => string | null;
  /** The source leader's port refused or reset the connection (a definite failure signal). */
  readonly onNodeRefused?: (nodeId: number) => void;
}

type Follower = FollowerReplica<Uint8Array>;
type FetchRequest = FollowerRequest & { readonly kind: 'fetch' };

/** One followed partition in a source loop. */
interface Slot {
  readonly replica: Partition;
  /** The core the pending request came from; an answer for another core is dropped. */
  follower: Follower;
  /** The core's fetch riding the session until the leader answers it. */
  pending: FetchRequest | null;
  /** After a corrupt batch: no request before this time. */
  notBeforeMs: number;
}

/** The loop of one source leader node and its session. */
interface SourceLoop {
  readonly leaderId: number;
  /** By partition key. */
  readonly slots: Map<string, Slot>;
  readonly builder: FetchSessionBuilder;
  /** Keys of slots whose core may have a request now; the others ride the session or wait. */
  readonly due: Set<string>;
  /** Ends an idle pause, or aborts a long poll so new partitions join the session at once. */
  wake: (() => void) | null;
  running: Promise<void> | null;
  /** When the leader last answered the session (its HWs are at least as fresh), or null. */
  answeredAtMs: number | null;
}

const refusalCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']);

export class ReplicaFetcher {
  readonly #config: ReplicaFetcherConfig;
  readonly #deps: ReplicaFetcherDeps;
  readonly #loops = new Map<number, SourceLoop>();
  readonly #asking = new Set<Promise<void>>();
  #stopped = false;

  constructor(config: ReplicaFetcherConfig, deps: ReplicaFetcherDeps) {
    this.#config = config;
    this.#deps = deps;
  }

  /** Loops running, one per source leader node. */
  get sessionCount(): number {
    return this.#loops.size;
  }

  /** Puts a partition this node follows into the loop of its leader (or nudges it there). */
  follow(replica: Partition): void {
    if (this.#stopped) return;
    const follower = replica.followerReplica;
    const leaderId = follower === null ? null : leaderOf(follower);
    for (const loop of this.#loops.values()) {
      const slot = loop.slots.get(replica.key);
      if (slot !== undefined && (loop.leaderId !== leaderId || slot.replica !== replica)) {
        removeSlot(loop, replica.key);
      }
    }
    if (follower === null || leaderId === null) return;
    const loop = this.#loop(leaderId);
    const slot = loop.slots.get(replica.key);
    loop.due.add(replica.key);
    if (slot === undefined || slot.follower !== follower) {
      loop.slots.set(replica.key, { replica, follower, pending: null, notBeforeMs: 0 });
    } else if (slot.pending !== null) return; // Riding the session: asked again next round.
    loop.wake?.();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const loops = [...this.#loops.values()];
    for (const loop of loops) loop.wake?.();
    await Promise.all(loops.map((loop) => loop.running));
    await Promise.all(this.#asking);
    await this.#deps.transport.close();
  }

  /**
   * How long ago the fetch session with `leaderId` was last answered, or null (none yet, or no
   * session): a leader answers at once when a partition's HW moves, so a follower's HW is at
   * most this old.
   */
  answeredAgoMs(leaderId: number): number | null {
    const at = this.#loops.get(leaderId)?.answeredAtMs ?? null;
    return at === null ? null : Math.max(0, this.#deps.clock.nowMs() - at);
  }

  #loop(leaderId: number): SourceLoop {
    let loop = this.#loops.get(leaderId);
    if (loop === undefined) {
      loop = {
        leaderId,
        slots: new Map(),
        builder: new FetchSessionBuilder(this.#config.nodeId),
        due: new Set(),
        wake: null,
        running: null,
        answeredAtMs: null,
      };
      this.#loops.set(leaderId, loop);
    }
    if (loop.running === null) {
      const started = loop;
      started.running = this.#run(started).finally(() => {
        started.running = null;
        if (this.#loops.get(started.leaderId) === started && started.slots.size === 0) {
          this.#loops.delete(started.leaderId);
        } else if (!this.#stopped) this.#loop(started.leaderId);
      });
    }
    return loop;
  }

  async #run(loop: SourceLoop): Promise<void> {
    const { idleMs } = this.#config;
    while (!this.#stopped && loop.slots.size > 0) {
      const url = this.#deps.nodeUrl(loop.leaderId);
      if (url !== null) this.#collect(loop, url);
      const { builder } = loop;
      if (url === null || (builder.changedCount === 0 && builder.knownCount === 0)) {
        await this.#pause(loop, idleMs);
        continue;
      }
      const outcome = await this.#exchange(loop, url);
      if (outcome === 'failed') await this.#pause(loop, idleMs * 4);
      if (outcome === 'busy') await this.#pause(loop, this.#config.corruptionBackoffMs);
    }
  }

  /**
   * Asks the core of every due slot for its request: epoch requests go out at once, fetches
   * join the session (builder.want), and a slot with nothing riding leaves it. A slot that
   * must wait for time (a backoff) stays due. O(due).
   */
  #collect(loop: SourceLoop, url: string): void {
    const nowMs = this.#deps.clock.nowMs();
    for (const key of [...loop.due]) {
      const slot = loop.slots.get(key);
      const follower = slot?.replica.followerReplica ?? null;
      if (slot === undefined || follower === null || leaderOf(follower) !== loop.leaderId) {
        removeSlot(loop, key);
        continue;
      }
      if (follower !== slot.follower) {
        slot.follower = follower;
        slot.pending = null;
      }
      const request = nowMs < slot.notBeforeMs ? null : follower.nextRequest(nowMs);
      if (request?.kind === 'epochEndOffset') this.#askEpochEnd(loop, slot, url, request);
      // A new fetch from the core replaces the pending one (the core timed it out).
      else if (request?.kind === 'fetch') slot.pending = request;
      // Settled until an answer, an epoch answer or metadata makes it due again.
      if (request !== null || slot.pending !== null || !waitsForTime(follower, slot, nowMs)) {
        loop.due.delete(key);
      }
      const pending = slot.pending;
      if (pending === null) loop.builder.unwant(key);
      else {
        loop.builder.want({
          topic: slot.replica.topic,
          partition: slot.replica.partition,
          fetchOffset: pending.fetchOffset,
          lastFetchedEpoch: pending.lastFetchedEpoch,
          currentLeaderEpoch: pending.currentLeaderEpoch,
        });
      }
    }
  }

  /** One session round trip; feeds every answered partition to its core. */
  async #exchange(loop: SourceLoop, url: string): Promise<'ok' | 'failed' | 'busy'> {
    const { builder } = loop;
    const request = builder.request();
    const aborter = new AbortController();
    // Nothing to wait for when nothing is wanted (the request only forgets partitions), and
    // only a short while when a partition waits for a backoff to end.
    let maxWaitMs = this.#config.fetchMaxWaitMs;
    if (builder.wantedCount === 0) maxWaitMs = 0;
    else if (loop.due.size > 0) maxWaitMs = Math.min(maxWaitMs, this.#config.idleMs);
    loop.wake = () => aborter.abort();
    let answer: SessionFetchAnswer;
    try {
      answer = await this.#deps.transport.sessionFetch(
        url,
        {
          ...request,
          maxWaitMs,
          maxBytes: this.#config.sessionFetchMaxBytes,
          partitionMaxBytes: this.#config.fetchMaxBytes,
        },
        aborter.signal,
      );
    } catch (error) {
      builder.reset();
      if (aborter.signal.aborted) return 'ok';
      this.#onTransportError(loop.leaderId, error);
      return 'failed';
    } finally {
      loop.wake = null;
    }
    if (answer.kind === 'error') {
      builder.reset();
      this.#deps.logger.debug({ leader: loop.leaderId, code: answer.code }, 'session refused');
      return answer.code === 'FETCH_SESSION_BUSY' ? 'busy' : 'ok';
    }
    const dropped = answer.partitions
      .filter((p) => p.kind !== 'records')
      .map((p) => `${p.topic}-${p.partition}`);
    builder.onAnswer(answer.sessionId, dropped);
    loop.answeredAtMs = this.#deps.clock.nowMs();
    await Promise.all(answer.partitions.map((p) => this.#onAnswer(loop, p)));
    return 'ok';
  }

  async #onAnswer(
    loop: SourceLoop,
    answer: { readonly topic: string; readonly partition: number } & ReplicaFetchAnswer,
  ): Promise<void> {
    const slot = loop.slots.get(`${answer.topic}-${answer.partition}`);
    const pending = slot?.pending ?? null;
    if (slot === undefined || pending === null) return;
    slot.pending = null;
    loop.due.add(slot.replica.key);
    const follower = slot.replica.followerReplica;
    if (follower !== slot.follower || follower === null) return;
    const commands = follower.onFetchResponse({ ...answer, requestId: pending.requestId });
    await this.#perform(slot, follower, commands);
  }

  /** Performs the core's log commands; a corrupt fetched batch goes back to the core. */
  async #perform(
    slot: Slot,
    follower: Follower,
    commands: Parameters<Partition['performFollowerCommands']>[0],
  ): Promise<void> {
    const { replica } = slot;
    try {
      await replica.performFollowerCommands(commands);
    } catch (error) {
      if (replica.followerReplica !== follower) return;
      if (!isLogError(error) || error.code !== 'LOG_CORRUPT_BATCH') {
        // The core asks again from the log's end; this shows a log that keeps failing.
        this.#deps.logger.warn({ err: error, partition: replica.key }, 'follower append failed');
        return;
      }
      this.#deps.logger.warn(
        { err: error, partition: replica.key },
        'corrupt batch fetched; reconciling again',
      );
      slot.notBeforeMs = this.#deps.clock.nowMs() + this.#config.corruptionBackoffMs;
      await this.#performQuietly(replica, follower.onLogCorruption(replica.log.logEndOffset));
    }
  }

  async #performQuietly(
    replica: Partition,
    commands: Parameters<Partition['performFollowerCommands']>[0],
  ): Promise<void> {
    try {
      await replica.performFollowerCommands(commands);
    } catch (error) {
      // The core reconciles again before fetching; a log that keeps failing shows here.
      this.#deps.logger.warn({ err: error, partition: replica.key }, 'follower truncate failed');
    }
  }

  /** OffsetsForLeaderEpoch, outside the session; the loop is woken once it is answered. */
  #askEpochEnd(loop: SourceLoop, slot: Slot, url: string, request: FollowerRequest): void {
    if (request.kind !== 'epochEndOffset') return;
    const { replica, follower } = slot;
    const asking = this.#deps.transport
      .epochEndOffset(url, {
        topic: replica.topic,
        partition: replica.partition,
        replicaId: this.#config.nodeId,
        currentLeaderEpoch: request.currentLeaderEpoch,
        epoch: request.epoch,
      })
      .then(async (answer) => {
        if (replica.followerReplica !== follower) return;
        const commands = follower.onEpochEndOffset({ ...answer, requestId: request.requestId });
        await this.#perform(slot, follower, commands);
      })
      .catch((error: unknown) => {
        this.#onTransportError(loop.leaderId, error);
        // Unanswered: the core may ask again after its backoff. Without this it would count
        // the request as in flight, and the slot, not due, would wait for metadata for good.
        if (replica.followerReplica === follower) follower.onRequestFailed(request.requestId);
      })
      .finally(() => {
        this.#asking.delete(asking);
        loop.due.add(replica.key);
        loop.wake?.();
      });
    this.#asking.add(asking);
  }

  #onTransportError(leaderId: number, error: unknown): void {
    // The core resends once its request timeout passes; the loop pauses so a dead leader
    // costs one attempt per pause, not a spin.
    this.#deps.logger.debug({ err: error, leader: leaderId }, 'replica fetch failed');
    if (isRefusal(error)) this.#deps.onNodeRefused?.(leaderId);
  }

  #pause(loop: SourceLoop, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        cancel();
        if (loop.wake === done) loop.wake = null;
        resolve();
      };
      const cancel = this.#deps.clock.schedule(ms, done);
      loop.wake = done;
    });
  }
}

/** The slot leaves the loop and the session. */
function removeSlot(loop: SourceLoop, key: string): void {
  loop.slots.delete(key);
  loop.due.delete(key);
  loop.builder.unwant(key);
}

/**
 * The core asked nothing, though it follows a leader and nothing of it rides the session: it
 * waits for a backoff or a timeout to pass (asked again each round), not for an answer or
 * metadata. A fenced or offline core waits for metadata, which makes it due again.
 */
function waitsForTime(follower: Follower, slot: Slot, nowMs: number): boolean {
  const state = follower.state;
  if (state.kind === 'offline' || state.kind === 'fenced') return false;
  if (nowMs < slot.notBeforeMs) return true;
  // An epoch request in flight is answered through #askEpochEnd, which makes the slot due.
  return state.inFlight === null || state.kind === 'fetching';
}

function leaderOf(follower: Follower): number | null {
  const state = follower.state;
  return state.kind === 'offline' ? null : state.leaderId;
}

/** The leader's port refused or reset the connection: somewhere in the cause chain. */
export function isRefusal(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== null && typeof current === 'object'; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && refusalCodes.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
