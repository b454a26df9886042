// A consumer group member: subscribes to topics (names or a RegExp), lets the coordinator assign
// partitions (GroupMembership) and fetches them with the plain Consumer (its one buffered answer
// per partition is the back-pressure: nothing is fetched past it). Offsets are committed
// at-least-once: a partition's committed offset is the one after the last record whose handler
// *finished* (run's eachMessage/eachBatch, or the iterator's next record being asked for).
// Revocation stops fetching, waits for the handler in flight, commits, then lets the next
// heartbeat drop the partition; a fenced member drops everything without committing.
import { assert, type Clock, type Random } from '../../common/index.ts';
import { backoffDelayMs } from './backoff.ts';
import { ClientError, isBrokerErrorCode } from './client-error.ts';
import {
  Consumer,
  defaultConsumerConfig,
  type ConsumerConfig,
  type ConsumerRecord,
  type TopicPartition,
} from './consumer.ts';
import { sleep } from './group-coordinator.ts';
import {
  errorCode,
  GroupMembership,
  type Assignor,
  type MembershipConfig,
} from './group-membership.ts';
import type { MetadataCache } from './metadata-cache.ts';
import type { Transport } from './transport.ts';

export interface GroupConsumerConfig extends Omit<ConsumerConfig, 'autoOffsetReset'> {
  readonly groupId: string;
  readonly groupInstanceId: string | null; // group.instance.id (static membership)
  /** Where a partition without a committed offset starts (auto.offset.reset). */
  readonly autoOffsetReset: 'earliest' | 'latest';
  readonly autoCommit: boolean; // enable.auto.commit
  readonly autoCommitIntervalMs: number; // auto.commit.interval.ms
  readonly heartbeatIntervalMs: number; // until the coordinator's first answer says otherwise
  readonly rebalanceTimeoutMs: number; // how long a revocation may take
  readonly assignor: Assignor | null; // null: the coordinator's default
  readonly coordinatorRetryMs: number; // retries of one coordinator request, all told
  /** How long one poll waits inside run() and the iterator before looking again. */
  readonly pollWaitMs: number;
}

export const defaultGroupConsumerConfig: Omit<GroupConsumerConfig, 'groupId'> = {
  ...defaultConsumerConfig,
  groupInstanceId: null,
  autoOffsetReset: 'latest',
  autoCommit: true,
  autoCommitIntervalMs: 5_000,
  heartbeatIntervalMs: 1_000,
  rebalanceTimeoutMs: 60_000,
  assignor: null,
  coordinatorRetryMs: 30_000,
  pollWaitMs: 1_000,
};

export interface GroupConsumerDeps {
  readonly transport: Transport;
  readonly metadata: MetadataCache;
  readonly clock: Clock;
  readonly random: Random;
}

export interface RebalanceListeners {
  /** Partitions now owned, positioned at their committed offset (or autoOffsetReset). */
  readonly onAssigned?: (partitions: TopicPartition[]) => void | Promise<void>;
  /**
   * Partitions no longer owned. `lost`: taken away (fenced, expired) — nothing was committed;
   * otherwise revoked: their handler has finished and their offsets are committed next.
   */
  readonly onRevoked?: (
    partitions: TopicPartition[],
    info: { lost: boolean },
  ) => void | Promise<void>;
}

export interface EachBatchPayload {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly ConsumerRecord[];
  /** The partition's high watermark at the fetch: records not yet read = it - last offset - 1. */
  readonly highWatermark: number;
}

export type RunHandlers =
  | { readonly eachMessage: (record: ConsumerRecord) => Promise<void> | void }
  | { readonly eachBatch: (batch: EachBatchPayload) => Promise<void> | void };

export interface CommitOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** A partition this member owns, from its assignment until its revocation or loss. */
interface Owned {
  readonly tp: TopicPartition;
  /** The offset after the last record whose handler finished; null before the first. */
  processed: number | null;
  /** The last offset known committed (at assignment, then by this member). */
  committed: number | null;
  /** Some record was polled: the fetch position is no longer safe to commit. */
  polledAny: boolean;
  revoking: boolean;
  /** Bumped by seek: records polled before it are not handed out. */
  seekGeneration: number;
}

/** Polled records of one partition not yet handed to the handler. */
interface Chunk {
  readonly owned: Owned;
  readonly seekGeneration: number;
  readonly highWatermark: number;
  records: ConsumerRecord[];
}

export class GroupConsumer implements AsyncIterable<ConsumerRecord> {
  readonly #config: GroupConsumerConfig;
  readonly #deps: GroupConsumerDeps;
  readonly #consumer: Consumer;
  readonly #membership: GroupMembership;
  readonly #owned = new Map<string, Owned>();
  readonly #paused = new Set<string>();
  #chunks: Chunk[] = [];
  #listeners: RebalanceListeners = {};
  #target: readonly TopicPartition[] = [];
  /** Bumped when the member is fenced: work begun before must not commit. */
  #memberGeneration = 0;
  #reconciling: Promise<void> | null = null;
  /** Settles when the handler in flight (or the record the iterator handed out) is done. */
  #handling: Promise<void> | null = null;
  #finishIteratorRecord: (() => void) | null = null;
  #mode: 'run' | 'iterator' | null = null;
  /** A failure run() and the iterator throw from now on (fatal group error, listener throw). */
  #fatal: { readonly error: unknown } | null = null;
  #commitChain: Promise<void> = Promise.resolve();
  #cancelAutoCommit: () => void = () => {};
  #closing: Promise<void> | null = null;
  readonly #closed = new AbortController();

  constructor(config: Partial<GroupConsumerConfig> & { groupId: string }, deps: GroupConsumerDeps) {
    this.#config = { ...defaultGroupConsumerConfig, ...config };
    assert(this.#config.groupId.length > 0, 'groupId must not be empty');
    assert(this.#config.autoCommitIntervalMs > 0, 'autoCommitIntervalMs must be > 0');
    this.#deps = deps;
    this.#consumer = new Consumer(this.#config, deps);
    this.#membership = new GroupMembership(
      membershipConfig(this.#config),
      deps,
      {
        onTarget: (target) => this.#onTarget(target),
        onFenced: () => this.#onFenced(),
        onFatal: (error) => this.#onFatal(error),
      },
      () => [...this.#owned.values()].map((owned) => owned.tp),
    );
  }

  get groupId(): string {
    return this.#config.groupId;
  }

  /** The member id the coordinator gave ("" before joining). */
  get memberId(): string {
    return this.#membership.memberId;
  }

  get memberEpoch(): number {
    return this.#membership.memberEpoch;
  }

  /**
   * Joins the group for `topics` (names, or a RegExp the coordinator matches against topic
   * names: its source is sent, flags are not) and starts heartbeating. Calling it again
   * replaces the subscription.
   */
  subscribe(topics: readonly string[] | RegExp, listeners: RebalanceListeners = {}): void {
    this.#assertOpen();
    assert(topics instanceof RegExp || topics.length > 0, 'subscribe to at least one topic');
    this.#listeners = listeners;
    this.#membership.subscribe(
      topics instanceof RegExp
        ? { kind: 'regex', source: topics.source }
        : { kind: 'topics', topics: [...topics] },
    );
    this.#membership.start();
    if (this.#config.autoCommit) this.#scheduleAutoCommit();
  }

  /** close() was called. */
  get closing(): boolean {
    return this.#closing !== null;
  }

  /** The partitions owned now. */
  assignment(): TopicPartition[] {
    return [...this.#owned.values()].map((owned) => owned.tp);
  }

  /**
   * Hands every record to `eachMessage` (one at a time, in offset order per partition) or each
   * polled batch of a partition to `eachBatch`, until close(). Resolves after close(); rejects
   * with a handler's error (that record is not committed, and is handed out again by the next
   * run()) or with a fatal group error (GROUP_MAX_SIZE_REACHED, INVALID_REQUEST, …).
   */
  async run(handlers: RunHandlers): Promise<void> {
    this.#enterMode('run');
    for (;;) {
      const whole = 'eachBatch' in handlers;
      const chunk = await this.#take(whole);
      if (chunk === null) return;
      const done = Promise.resolve()
        .then(() =>
          'eachBatch' in handlers
            ? handlers.eachBatch({
                topic: chunk.owned.tp.topic,
                partition: chunk.owned.tp.partition,
                records: chunk.records,
                highWatermark: chunk.highWatermark,
              })
            : handlers.eachMessage(chunk.records[0] as ConsumerRecord),
        )
        // Marked before #handling settles: a close() or revocation waiting on it commits it.
        .then(() => this.#markProcessed(chunk));
      this.#handling = done.then(noop, noop);
      try {
        await done;
      } catch (error) {
        // Handed out again next time: at-least-once.
        this.#chunks.unshift(chunk);
        throw error;
      } finally {
        this.#handling = null;
      }
    }
  }

  /**
   * `for await (const record of consumer)`: a record counts as processed (committable) when
   * the loop asks for the next one, or leaves with break/return — a throw out of the loop body
   * counts too, so use run() where a failed record must be handed out again.
   */
  [Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    this.#enterMode('iterator');
    let current: Chunk | null = null;
    const finishCurrent = (): void => {
      if (current !== null) this.#markProcessed(current);
      current = null;
      this.#finishIteratorRecord?.();
      this.#finishIteratorRecord = null;
      this.#handling = null;
    };
    return {
      next: async (): Promise<IteratorResult<ConsumerRecord>> => {
        finishCurrent();
        const chunk = await this.#take(false);
        if (chunk === null) return { done: true, value: undefined };
        current = chunk;
        this.#handling = new Promise((resolve) => {
          this.#finishIteratorRecord = resolve;
        });
        return { done: false, value: chunk.records[0] as ConsumerRecord };
      },
      return: async (): Promise<IteratorResult<ConsumerRecord>> => {
        finishCurrent();
        return { done: true, value: undefined };
      },
    };
  }

  /**
   * Commits, for every owned partition (or the given offsets), the offset after the last record
   * processed. STALE_MEMBER_EPOCH is retried after the next heartbeat; UNKNOWN_MEMBER_ID,
   * FENCED_MEMBER_EPOCH (the member rejoins), a per-partition error or a coordinator that stays
   * away for coordinatorRetryMs are thrown.
   */
  async commit(offsets?: readonly CommitOffset[]): Promise<void> {
    const run = this.#commitChain.then(() => this.#commitNow(offsets));
    this.#commitChain = run.then(noop, noop);
    await run;
  }

  /** The next record of `tp` handed out will be at `offset`. CLIENT_NOT_ASSIGNED if not owned. */
  seek(tp: TopicPartition, offset: number): void {
    const owned = this.#ownedOf(tp);
    owned.seekGeneration += 1;
    this.#consumer.seek(tp, offset);
  }

  /** Stops handing out and fetching `partitions` (owned ones) until resume(). */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#ownedOf(tp);
    for (const tp of partitions) this.#paused.add(keyOf(tp));
    this.#consumer.pause(partitions);
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#paused.delete(keyOf(tp));
    this.#consumer.resume(partitions.filter((tp) => this.#owned.has(keyOf(tp))));
    this.#consumer.wakeup(); // Hand out what was kept for the resumed partitions at once.
  }

  paused(): TopicPartition[] {
    return this.assignment().filter((tp) => this.#paused.has(keyOf(tp)));
  }

  /**
   * Leaves the group gracefully: stops run() and the iterator, waits for run()'s handler in
   * flight, commits what was processed, then leaves (epoch -1; -2 for a static member, whose
   * partitions then wait for it until its session times out). Throws the commit's error, if
   * any, after leaving.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed.abort();
    this.#cancelAutoCommit();
    this.#consumer.wakeup();
    if (this.#mode === 'run') await this.#handling;
    await this.#reconciling; // A revocation under way finishes its commit first.
    let commitError: unknown = null;
    if (this.#membership.isMember && this.#owned.size > 0) {
      await this.commit().catch((error: unknown) => {
        commitError = error;
      });
    }
    await this.#membership.leave();
    this.#consumer.close();
    if (commitError !== null) throw commitError;
  }

  /** The next chunk to hand out: one record, or (`whole`) all polled of a partition. */
  async #take(whole: boolean): Promise<Chunk | null> {
    for (;;) {
      if (this.#closed.signal.aborted) return null;
      if (this.#fatal !== null) throw this.#fatal.error;
      const chunk = this.#nextLiveChunk();
      if (chunk !== null) {
        if (whole || chunk.records.length === 1) return chunk;
        const [first, ...rest] = chunk.records;
        this.#chunks.unshift({ ...chunk, records: rest });
        return { ...chunk, records: [first as ConsumerRecord] };
      }
      let records: ConsumerRecord[];
      try {
        records = await this.#consumer.poll({ maxWaitMs: this.#config.pollWaitMs });
      } catch (error) {
        if (this.#closed.signal.aborted) return null;
        throw error;
      }
      this.#chunks.push(...this.#chunksOf(records));
    }
  }

  /** Removes and returns the first chunk that may be handed out; drops dead ones. */
  #nextLiveChunk(): Chunk | null {
    for (let i = 0; i < this.#chunks.length;) {
      const chunk = this.#chunks[i] as Chunk;
      const owned = chunk.owned;
      const live =
        this.#owned.get(keyOf(owned.tp)) === owned &&
        !owned.revoking &&
        chunk.seekGeneration === owned.seekGeneration;
      if (!live) {
        this.#chunks.splice(i, 1);
      } else if (this.#paused.has(keyOf(owned.tp))) {
        i += 1; // Kept, in order, for resume().
      } else {
        this.#chunks.splice(i, 1);
        return chunk;
      }
    }
    return null;
  }

  #chunksOf(records: readonly ConsumerRecord[]): Chunk[] {
    const chunks = new Map<string, Chunk>();
    for (const record of records) {
      const key = keyOf(record);
      let chunk = chunks.get(key);
      if (chunk === undefined) {
        const owned = this.#owned.get(key);
        if (owned === undefined) continue;
        owned.polledAny = true;
        chunk = {
          owned,
          seekGeneration: owned.seekGeneration,
          highWatermark: this.#consumer.highWatermark(owned.tp),
          records: [],
        };
        chunks.set(key, chunk);
      }
      chunk.records.push(record);
    }
    return [...chunks.values()];
  }

  #markProcessed(chunk: Chunk): void {
    const last = chunk.records.at(-1);
    if (last === undefined || this.#owned.get(keyOf(chunk.owned.tp)) !== chunk.owned) return;
    chunk.owned.processed = last.offset + 1;
  }

  #enterMode(mode: 'run' | 'iterator'): void {
    this.#assertOpen();
    assert(this.#mode === null || this.#mode === mode, 'use either run() or the iterator');
    assert(this.#mode !== 'run' || this.#handling === null, 'run() is already running');
    this.#mode = mode;
  }

  #assertOpen(): void {
    if (this.#closing !== null) throw new ClientError('CLIENT_CLOSED', 'the consumer is closed');
  }

  #ownedOf(tp: TopicPartition): Owned {
    const owned = this.#owned.get(keyOf(tp));
    if (owned === undefined) {
      throw new ClientError('CLIENT_NOT_ASSIGNED', `${tp.topic}/${tp.partition} is not owned`);
    }
    return owned;
  }

  // ---- reconciliation: bring the owned partitions to the coordinator's target ----

  #onTarget(target: readonly TopicPartition[]): void {
    this.#target = target;
    this.#reconciling ??= this.#reconcile();
  }

  #onFenced(): void {
    this.#memberGeneration += 1;
    this.#target = [];
    const lost = this.assignment();
    this.#owned.clear();
    this.#paused.clear();
    this.#chunks = [];
    this.#consumer.assign([]);
    if (lost.length > 0) void this.#notify(() => this.#listeners.onRevoked?.(lost, { lost: true }));
  }

  #onFatal(error: unknown): void {
    this.#fatal ??= { error };
    this.#consumer.wakeup();
  }

  async #reconcile(): Promise<void> {
    // Yield first: #onTarget stores this promise before the loop may clear it.
    await Promise.resolve();
    let failures = 0;
    for (;;) {
      const generation = this.#memberGeneration;
      const wanted = new Set(this.#target.map(keyOf));
      const revoked = [...this.#owned.values()].filter((o) => !wanted.has(keyOf(o.tp)));
      const added = this.#target.filter((tp) => !this.#owned.has(keyOf(tp)));
      const idle = revoked.length === 0 && added.length === 0;
      if (this.#closed.signal.aborted || this.#fatal !== null || idle) {
        this.#reconciling = null; // In the same turn as the check: a new target starts anew.
        return;
      }
      try {
        if (revoked.length > 0) await this.#revoke(revoked, generation);
        else await this.#assign(added, generation);
        failures = 0;
      } catch (error) {
        if (!(error instanceof ClientError) || !error.retriable) this.#onFatal(error);
        const delayMs = backoffDelayMs(this.#config.retryBackoff, failures, this.#deps.random);
        failures += 1;
        await sleep(this.#deps.clock, delayMs, this.#closed.signal);
      }
      if (generation === this.#memberGeneration) this.#membership.heartbeatNow();
    }
  }

  async #revoke(revoked: readonly Owned[], generation: number): Promise<void> {
    for (const owned of revoked) {
      owned.revoking = true;
      if (owned.processed === null && !owned.polledAny) {
        owned.processed = this.#consumer.position(owned.tp);
      }
    }
    this.#consumer.assign(this.#liveTps());
    await Promise.race([this.#handling, this.#closedPromise()]);
    if (generation !== this.#memberGeneration) return;
    const tps = revoked.map((owned) => owned.tp);
    await this.#notify(() => this.#listeners.onRevoked?.(tps, { lost: false }));
    if (generation !== this.#memberGeneration) return;
    await this.commit(offsetsOf(revoked)).catch((error: unknown) => {
      // At-least-once holds: the next owner starts from the older committed offset.
      if (!(error instanceof ClientError)) throw error;
    });
    for (const owned of revoked) {
      if (this.#owned.get(keyOf(owned.tp)) === owned) this.#owned.delete(keyOf(owned.tp));
      this.#paused.delete(keyOf(owned.tp));
    }
  }

  async #assign(added: readonly TopicPartition[], generation: number): Promise<void> {
    const committed = await this.#fetchCommitted(added);
    if (generation !== this.#memberGeneration || this.#closed.signal.aborted) return;
    for (const tp of added) {
      const offset = committed.get(keyOf(tp)) ?? null;
      this.#owned.set(keyOf(tp), {
        tp,
        processed: null,
        committed: offset,
        polledAny: false,
        revoking: false,
        seekGeneration: 0,
      });
    }
    this.#consumer.assign(this.#liveTps());
    for (const tp of added) {
      const offset = committed.get(keyOf(tp));
      if (offset !== undefined) this.#consumer.seek(tp, offset);
      else if (this.#config.autoOffsetReset === 'earliest') this.#consumer.seekToBeginning(tp);
      else this.#consumer.seekToEnd(tp);
    }
    this.#consumer.wakeup();
    await this.#notify(() => this.#listeners.onAssigned?.([...added]));
  }

  /** Committed offsets of `partitions` (of the whole group when they span several topics). */
  async #fetchCommitted(partitions: readonly TopicPartition[]): Promise<Map<string, number>> {
    const topics = new Set(partitions.map((tp) => tp.topic));
    const [only] = topics;
    const query =
      topics.size === 1 && only !== undefined ? `?topic=${encodeURIComponent(only)}` : '';
    const body = (await this.#membership.coordinator.request(
      'GET',
      `/offsets${query}`,
      undefined,
      this.#closed.signal,
    )) as { offsets?: unknown } | null;
    const offsets = new Map<string, number>();
    if (!Array.isArray(body?.offsets)) {
      throw new ClientError('CLIENT_BAD_RESPONSE', 'fetch offsets: no offsets list');
    }
    for (const raw of body.offsets as Record<string, unknown>[]) {
      const { topic, partition, offset } = raw;
      if (typeof topic !== 'string' || typeof partition !== 'number') continue;
      if (typeof offset === 'number' && offset >= 0)
        offsets.set(keyOf({ topic, partition }), offset);
    }
    return offsets;
  }

  async #commitNow(explicit?: readonly CommitOffset[]): Promise<void> {
    const offsets = explicit ?? this.#uncommitted();
    if (offsets.length === 0) return;
    if (!this.#membership.isMember) {
      throw new ClientError('UNKNOWN_MEMBER_ID', 'not a member of the group: nothing committed');
    }
    for (let attempt = 0; ; attempt += 1) {
      const body = {
        memberId: this.#membership.memberId,
        memberEpoch: this.#membership.memberEpoch,
        offsets: offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      };
      try {
        const answer = await this.#membership.coordinator.request('POST', '/offsets', body);
        this.#onCommitted(offsets, answer);
        return;
      } catch (error) {
        const stale = error instanceof ClientError && errorCode(error) === 'STALE_MEMBER_EPOCH';
        if (!stale || attempt >= 2) throw error;
        await this.#membership.nextHeartbeat();
      }
    }
  }

  /** Offsets processed since the last commit, of partitions still owned. */
  #uncommitted(): CommitOffset[] {
    const owned = [...this.#owned.values()].filter((o) => !o.revoking);
    for (const o of owned) {
      if (o.processed === null && !o.polledAny) o.processed = this.#consumer.position(o.tp);
    }
    return offsetsOf(owned);
  }

  #onCommitted(offsets: readonly CommitOffset[], answer: unknown): void {
    const results = (answer as { offsets?: unknown } | null)?.offsets;
    const failed = new Map<string, { code?: unknown; message?: unknown }>();
    if (Array.isArray(results)) {
      for (const raw of results as Record<string, unknown>[]) {
        const error = raw['error'];
        if (typeof error === 'object' && error !== null && typeof raw['topic'] === 'string') {
          failed.set(keyOf({ topic: raw['topic'], partition: Number(raw['partition']) }), error);
        }
      }
    }
    for (const offset of offsets) {
      const owned = this.#owned.get(keyOf(offset));
      if (owned !== undefined && !failed.has(keyOf(offset))) owned.committed = offset.offset;
    }
    const [first] = failed;
    if (first !== undefined) {
      const [key, error] = first;
      const code = typeof error.code === 'string' ? error.code : 'UNKNOWN_SERVER_ERROR';
      const text = `commit ${key} (and ${failed.size - 1} more): ${String(error.message)}`;
      throw new ClientError(isBrokerErrorCode(code) ? code : 'UNKNOWN_SERVER_ERROR', text, {
        details: { code, failed: [...failed.keys()] },
      });
    }
  }

  #scheduleAutoCommit(): void {
    this.#cancelAutoCommit();
    this.#cancelAutoCommit = this.#deps.clock.schedule(this.#config.autoCommitIntervalMs, () => {
      if (this.#closed.signal.aborted) return;
      this.commit()
        .catch((error: unknown) => {
          // Retried at the next interval; close() commits once more and reports its failure.
          if (!(error instanceof ClientError)) throw error;
        })
        .finally(() => this.#scheduleAutoCommit());
    });
  }

  #liveTps(): TopicPartition[] {
    return [...this.#owned.values()].filter((o) => !o.revoking).map((o) => o.tp);
  }

  #closedPromise(): Promise<void> {
    const signal = this.#closed.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve()));
  }

  /** Runs a rebalance listener; its failure is fatal to run() and the iterator. */
  async #notify(call: () => void | Promise<void>): Promise<void> {
    try {
      await call();
    } catch (error) {
      this.#onFatal(error);
    }
  }
}

function membershipConfig(config: GroupConsumerConfig): MembershipConfig {
  return {
    groupId: config.groupId,
    groupInstanceId: config.groupInstanceId,
    assignor: config.assignor,
    rebalanceTimeoutMs: config.rebalanceTimeoutMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    retryBackoff: config.retryBackoff,
    requestTimeoutMs: config.requestTimeoutMs,
    coordinatorRetryMs: config.coordinatorRetryMs,
  };
}

/** The offsets to commit: processed and not yet committed. */
function offsetsOf(owned: readonly Owned[]): CommitOffset[] {
  return owned
    .filter((o) => o.processed !== null && o.processed !== o.committed)
    .map((o) => ({ ...o.tp, offset: o.processed as number }));
}

function keyOf(tp: TopicPartition): string {
  return `${tp.partition}:${tp.topic}`;
}

function noop(): void {}
