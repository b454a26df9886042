// The leader side of replication on this node: OffsetsForLeaderEpoch, incremental follower
// fetch sessions (one per follower node, KIP-227; the pure cache is replication/fetch-session),
// the ISR changes the leader cores propose to the controller, and the wake-ups that follow
// leader progress (parked sessions, acks=all outcomes, consumer fetches). A session fetch is
// answered as soon as any of its partitions has data or an error, within hwOnlyDelayMs when
// only a HW the follower has not seen is new (so it rides the next data), else after
// maxWaitMs. A round looks only at the session's dirty partitions (named in the request or
// whose leader state moved), and the periodic tick only at leaders that are not quiet, so an
// idle partition costs nothing. Invariant: at most one fetch per session is parked.
import { toNodeId, type Clock } from '../common/index.ts';
import type { LogReadResult } from '../log/index.ts';
import type { BrokerLogger } from './broker-logger.ts';
import { BrokerError } from './errors.ts';
import type { LocalReplicas } from './local-replicas.ts';
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import type { MetadataImage } from './metadata-image.ts';
import type { Partition } from './partition.ts';
import { toPartitionState } from './partition-record.ts';
import type {
  EpochEndOffsetAnswer,
  EpochEndOffsetCall,
  SessionFetchCall,
} from './replica-fetcher.ts';
import {
  FetchSessionCache,
  isrChangeErrorCodes,
  type EpochErrorCode,
  type FetchSession,
  type FetchSessionCacheConfig,
  type FetchSessionErrorCode,
  type FollowerFetchDecision,
  type IsrChangeErrorCode,
  type IsrChangeRequest,
  type SessionPartition,
} from './replication/index.ts';

/** One partition of a session answer; records are read results the route sends and releases. */
export type SessionPartitionResult = { readonly topic: string; readonly partition: number } & (
  | { readonly kind: 'error'; readonly code: EpochErrorCode }
  | { readonly kind: 'diverging'; readonly epoch: number; readonly endOffset: number }
  | { readonly kind: 'outOfRange'; readonly logStartOffset: number; readonly logEndOffset: number }
  | {
      readonly kind: 'records';
      readonly read: LogReadResult | null;
      readonly nextOffset: number;
      readonly highWatermark: number;
      readonly logEndOffset: number;
      readonly leaderEpoch: number;
    }
);

export type SessionFetchResult =
  | { readonly kind: 'error'; readonly code: FetchSessionErrorCode }
  | {
      readonly kind: 'ok';
      readonly sessionId: number;
      readonly partitions: readonly SessionPartitionResult[];
    };

export const defaultFetchSessionLimits: FetchSessionCacheConfig = {
  sessionsMax: 1_000,
  partitionsPerSessionMax: 100_000,
  sessionIdleMsMax: 120_000,
};

/**
 * How long an answer that would carry only new HWs waits for data to ride with. The HW a
 * follower holds does not decide acks (the leader's does), so this saves two messages per
 * follower per produce under load and delays a follower's HW by at most this.
 */
export const defaultHwOnlyDelayMs = 5;

export interface ReplicaServiceDeps {
  readonly nodeId: number;
  readonly clock: Clock;
  readonly logger: BrokerLogger;
  readonly image: MetadataImage;
  readonly replicas: LocalReplicas;
  readonly propose: (command: MetadataCommand) => Promise<{ result: MetadataResult }>;
  /** Serving (not starting, draining or stopped): ISR changes are proposed only then. */
  readonly isRunning: () => boolean;
  /** The leader's HW may have moved: consumer fetches parked on the partition re-check. */
  readonly onHighWatermarkMaybeMoved: (key: string) => void;
  /** See defaultHwOnlyDelayMs; 0 answers a new HW at once. */
  readonly hwOnlyDelayMs?: number;
  /** A leader became unquiet: tick() has work again (the caller arms its tick timer). */
  readonly onUnquiet?: () => void;
}

type Plan =
  | { readonly kind: 'answer'; readonly result: SessionPartitionResult }
  | {
      readonly kind: 'read';
      readonly replica: Partition;
      readonly decision: FollowerFetchDecision & { kind: 'read' };
      readonly entry: SessionPartition;
    };

export class ReplicaService {
  readonly #deps: ReplicaServiceDeps;
  readonly #sessions: FetchSessionCache;
  /** The waker of each parked session fetch; at most one per session. */
  readonly #parked = new Map<FetchSession, () => void>();
  /** Local leader replicas the tick visits: not quiet when last looked at. By key. */
  readonly #unquiet = new Map<string, Partition>();
  /** Partitions with an ISR change proposal in flight to the controller. */
  readonly #isrProposals = new Set<string>();
  #draining = false;
  readonly #hwOnlyDelayMs: number;

  constructor(limits: FetchSessionCacheConfig, deps: ReplicaServiceDeps) {
    this.#deps = deps;
    this.#hwOnlyDelayMs = deps.hwOnlyDelayMs ?? defaultHwOnlyDelayMs;
    this.#sessions = new FetchSessionCache(limits);
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Answers every parked session fetch now and parks none from now on. */
  drain(): void {
    this.#draining = true;
    for (const wake of [...this.#parked.values()]) wake();
  }

  /** OffsetsForLeaderEpoch from a follower. Codes: UNKNOWN_TOPIC_OR_PARTITION. */
  epochEndOffset(call: EpochEndOffsetCall): EpochEndOffsetAnswer {
    if (this.#deps.image.partition(call.topic, call.partition) === undefined) {
      const name = `${call.topic}-${call.partition}`;
      throw new BrokerError('UNKNOWN_TOPIC_OR_PARTITION', `no partition ${name}`);
    }
    const target = this.#target(call.topic, call.partition, call.currentLeaderEpoch);
    if (typeof target === 'string') return { kind: 'error', code: target };
    const decision = target.onEpochEndOffsetRequest(
      call.replicaId,
      call.currentLeaderEpoch,
      call.epoch,
    );
    return decision ?? { kind: 'error', code: 'NOT_LEADER_OR_FOLLOWER' };
  }

  /**
   * A follower's session fetch: the session's dirty partitions are fetched (those named in the
   * request, or whose leader state moved since last looked at; the others are where they were,
   * and keep the follower in sync through onFollowerStillAt), and those with records, a new HW
   * or an error are answered. Held up to maxWaitMs while none has. Codes (whole request): the
   * FetchSessionErrorCodes.
   */
  async sessionFetch(call: SessionFetchCall, signal?: AbortSignal): Promise<SessionFetchResult> {
    const opened = this.#sessions.open(call, this.#deps.clock.nowMs());
    if (!opened.ok) return { kind: 'error', code: opened.code };
    const session = opened.session;
    let plans = this.#planKeys(session, session.takeDirty());
    if (!plans.some(isUrgent) && call.maxWaitMs > 0 && !this.#draining) {
      const held = new Set(plans.map(planKey));
      if (held.size === 0 || this.#hwOnlyDelayMs > 0) {
        plans = await this.#park(session, call.maxWaitMs, held, signal);
      }
    }
    // The follower gave up on this request (it starts a full session): read nothing for it.
    if (signal?.aborted === true) {
      for (const plan of plans) session.dirty.add(planKey(plan));
      return { kind: 'ok', sessionId: session.id, partitions: [] };
    }
    const partitions = await this.#perform(session, plans, call);
    return { kind: 'ok', sessionId: session.id, partitions };
  }

  /** Plans the given partitions of the session; O(keys). */
  #planKeys(session: FetchSession, keys: Iterable<string>): Plan[] {
    const plans: Plan[] = [];
    for (const key of keys) {
      const entry = session.partitions.get(key);
      const plan = entry === undefined ? null : this.#plan(session.replicaId, entry);
      if (plan !== null) plans.push(plan);
    }
    return plans;
  }

  /** What to answer for one session partition now; null: nothing new for the follower. */
  #plan(replicaId: number, entry: SessionPartition): Plan | null {
    const { topic, partition } = entry;
    const target = this.#target(topic, partition, entry.currentLeaderEpoch);
    if (typeof target === 'string') {
      return { kind: 'answer', result: { topic, partition, kind: 'error', code: target } };
    }
    const highWatermark = target.highWatermark;
    const decision = target.onFollowerFetch({ ...entry, replicaId }, this.#deps.clock.nowMs());
    if (decision === null) {
      const result = { topic, partition, kind: 'error', code: 'NOT_LEADER_OR_FOLLOWER' } as const;
      return { kind: 'answer', result };
    }
    // Only a moved HW concerns anyone else (other sessions, acks, consumers); waking them for
    // an unchanged one would make two parked sessions wake each other forever.
    if (target.highWatermark !== highWatermark) this.afterLeaderProgress(target);
    else if (this.#deps.isRunning()) this.#maybeProposeIsrChange(target);
    switch (decision.kind) {
      case 'error':
        return { kind: 'answer', result: { topic, partition, kind: 'error', code: decision.code } };
      case 'diverging':
      case 'outOfRange':
        return { kind: 'answer', result: { topic, partition, ...decision } };
      case 'read': {
        const hasData = decision.fetchOffset < decision.maxOffsetExclusive;
        if (!hasData && entry.highWatermarkSent === decision.highWatermark) return null;
        return { kind: 'read', replica: target, decision, entry };
      }
    }
  }

  /** Reads the records the plans call for, within the answer's byte budget. */
  async #perform(session: FetchSession, plans: readonly Plan[], call: SessionFetchCall) {
    const results: SessionPartitionResult[] = [];
    let budget = call.maxBytes;
    for (const plan of plans) {
      if (plan.kind === 'answer') {
        session.drop(`${plan.result.topic}-${plan.result.partition}`);
        results.push(plan.result);
        continue;
      }
      const { replica, decision, entry } = plan;
      let read: LogReadResult | null = null;
      if (decision.fetchOffset < decision.maxOffsetExclusive && budget > 0) {
        const maxBytes = Math.min(budget, call.partitionMaxBytes);
        read = await this.#read(replica, decision, maxBytes);
        if (read === null) {
          session.drop(replica.key);
          const { topic, partition } = entry;
          results.push({ topic, partition, kind: 'error', code: 'NOT_LEADER_OR_FOLLOWER' });
          continue;
        }
        budget -= read.bytes;
      } else {
        // Data left unread for want of budget: look again next round (the position stays).
        if (decision.fetchOffset < decision.maxOffsetExclusive) session.dirty.add(replica.key);
        if (entry.highWatermarkSent === decision.highWatermark) continue;
      }
      session.markSent(replica.key, decision.highWatermark, read !== null);
      results.push({
        topic: entry.topic,
        partition: entry.partition,
        kind: 'records',
        read,
        nextOffset: read?.nextOffset ?? decision.fetchOffset,
        highWatermark: decision.highWatermark,
        logEndOffset: decision.logEndOffset,
        leaderEpoch: entry.currentLeaderEpoch,
      });
    }
    return results;
  }

  async #read(
    replica: Partition,
    decision: FollowerFetchDecision & { kind: 'read' },
    maxBytes: number,
  ): Promise<LogReadResult | null> {
    try {
      return await replica.read(decision.fetchOffset, maxBytes, decision.maxOffsetExclusive);
    } catch (error) {
      // The follower backs off and asks again; a log that keeps failing shows in this warning.
      this.#deps.logger.warn({ err: error, partition: replica.key }, 'replica read failed');
      return null;
    }
  }

  /**
   * Parks the session until a wake finds data or an error to answer among its dirty
   * partitions, or (with HW-only news, `held` or woken) hwOnlyDelayMs passes, or maxWaitMs
   * passes (then nothing is answered, and what was held is dirty again). Returns what to answer.
   */
  #park(
    session: FetchSession,
    maxWaitMs: number,
    held: Set<string>,
    signal?: AbortSignal,
  ): Promise<Plan[]> {
    return new Promise((resolve) => {
      let done = false;
      let checking = false;
      let cancelDelay: (() => void) | null = null;
      const lingers = this.#hwOnlyDelayMs > 0;
      const finish = (plans: Plan[]): void => {
        if (done) return;
        done = true;
        cancel();
        cancelDelay?.();
        signal?.removeEventListener('abort', abandon);
        if (this.#parked.get(session) === wake) this.#parked.delete(session);
        resolve(plans);
      };
      // The HW-only partitions are planned again when answered: their HW may have moved on.
      const withHeld = (plans: Plan[]): Plan[] => {
        for (const key of plans.map(planKey)) held.delete(key);
        return [...plans, ...this.#planKeys(session, held)];
      };
      const delay = (): void => {
        cancelDelay ??= this.#deps.clock.schedule(this.#hwOnlyDelayMs, () => finish(withHeld([])));
      };
      const check = (): void => {
        checking = false;
        if (done) return;
        const plans = this.#planKeys(session, session.takeDirty());
        if (plans.some(isUrgent) || this.#draining || (plans.length > 0 && !lingers)) {
          finish(withHeld(plans));
        } else if (plans.length > 0) {
          for (const key of plans.map(planKey)) held.add(key);
          delay();
        }
      };
      const wake = (): void => {
        // Let the other wakes of this turn (an append wakes every follower) land first.
        if (!checking) queueMicrotask(check);
        checking = true;
      };
      const abandon = (): void => {
        for (const key of held) if (session.partitions.has(key)) session.dirty.add(key);
        finish([]);
      };
      const cancel = this.#deps.clock.schedule(maxWaitMs, abandon);
      if (held.size > 0) delay();
      signal?.addEventListener('abort', abandon);
      this.#parked.set(session, wake);
    });
  }

  /**
   * The leader state of `key` moved: every session holding it looks at it again (a parked one
   * at once). Before that, a session that had left it out since its last look is credited
   * with fetching it unchanged until now (parked) or its last request (onFollowerStillAt): the
   * log end has not moved between that look and this call. O(sessions holding key).
   */
  #markChanged(key: string, replica: Partition | undefined): void {
    const leader = replica?.leaderReplica ?? null;
    const nowMs = this.#deps.clock.nowMs();
    for (const session of this.#sessions.sessionsOf(key)) {
      const entry = session.partitions.get(key);
      if (leader !== null && entry !== undefined && !session.dirty.has(key)) {
        const asOfMs = this.#parked.has(session) ? nowMs : session.lastUsedMs;
        const { fetchOffset, currentLeaderEpoch } = entry;
        const replicaId = toNodeId(session.replicaId);
        leader.onFollowerStillAt(replicaId, fetchOffset, currentLeaderEpoch, asOfMs);
      }
    }
    for (const session of this.#sessions.markChanged(key)) this.#parked.get(session)?.();
  }

  /**
   * The local leader of the partition in exactly `currentLeaderEpoch`, or the KIP-320 answer
   * from this node's metadata: an older epoch is fenced, a newer one not known here yet.
   */
  #target(
    topic: string,
    partition: number,
    currentLeaderEpoch: number,
  ): Partition | EpochErrorCode {
    const image = this.#deps.image.partition(topic, partition);
    if (image === undefined || !this.#deps.isRunning()) return 'NOT_LEADER_OR_FOLLOWER';
    const replica = this.#deps.replicas.get(`${topic}-${partition}`);
    if (replica?.leaderReplica?.leaderEpoch === currentLeaderEpoch) return replica;
    if (currentLeaderEpoch < image.leaderEpoch) return 'FENCED_LEADER_EPOCH';
    if (currentLeaderEpoch > image.leaderEpoch) return 'UNKNOWN_LEADER_EPOCH';
    // This node leads in the image but has not opened the role yet: the follower retries.
    return image.leader === this.#deps.nodeId ? 'UNKNOWN_LEADER_EPOCH' : 'NOT_LEADER_OR_FOLLOWER';
  }

  /**
   * After an append, a follower fetch, a metadata change or a tick on a leader replica: wakes
   * parked sessions and consumer fetches, answers decided acks=all produces, and proposes the
   * ISR change the leader core wants.
   */
  afterLeaderProgress(replica: Partition): void {
    const key = replica.key;
    this.#markChanged(key, replica);
    const wasQuiet = this.#unquiet.size === 0;
    this.#unquiet.set(key, replica);
    if (wasQuiet) this.#deps.onUnquiet?.();
    this.#deps.onHighWatermarkMaybeMoved(key);
    replica.deliverAckOutcomes(this.#deps.clock.nowMs());
    if (this.#deps.isRunning()) this.#maybeProposeIsrChange(replica);
  }

  /** A replica lost leadership or closed: sessions parked on it answer now. */
  onReplicaChanged(key: string): void {
    this.#markChanged(key, this.#deps.replicas.get(key));
  }

  /**
   * The periodic pass (ack deadlines, ISR shrink and expansion, ISR change retries) over the
   * leaders that were not quiet when last looked at; a quiet one leaves until its next event.
   * O(leaders not quiet), so an idle node's tick costs nothing per partition.
   */
  tick(): void {
    for (const [key, replica] of [...this.#unquiet]) {
      if (replica.leaderReplica !== null) this.afterLeaderProgress(replica);
      const leader = replica.leaderReplica;
      if (leader === null || (leader.isQuiet && !this.#isrProposals.has(key))) {
        this.#unquiet.delete(key);
      }
    }
  }

  /** Leaders the tick still visits (for tests and metrics). */
  get unquietCount(): number {
    return this.#unquiet.size;
  }

  /** Sends the leader core's ISR change through the controller as an alter-isr record. */
  #maybeProposeIsrChange(replica: Partition): void {
    const key = replica.key;
    if (this.#isrProposals.has(key)) return;
    const request = replica.pollIsrChange(this.#deps.clock.nowMs());
    if (request === null) return;
    this.#isrProposals.add(key);
    const { logger } = this.#deps;
    logger.info({ partition: key, isr: request.newIsr }, 'proposing an ISR change');
    this.#deps
      .propose({
        type: 'alter-isr',
        topic: replica.topic,
        partition: replica.partition,
        leaderId: request.leaderId,
        leaderEpoch: request.leaderEpoch,
        partitionEpoch: request.partitionEpoch,
        newIsr: request.newIsr,
      })
      .then(
        ({ result }) => this.#onIsrChangeCommitted(replica, request, result),
        (error: unknown) => logger.debug({ err: error, partition: key }, 'ISR change not sent'),
      )
      .finally(() => {
        this.#isrProposals.delete(key);
        // A committed ISR may settle acks=all produces (acked or under min.insync).
        replica.deliverAckOutcomes(this.#deps.clock.nowMs());
      });
  }

  #onIsrChangeCommitted(replica: Partition, request: IsrChangeRequest, result: MetadataResult) {
    const nowMs = this.#deps.clock.nowMs();
    const image = this.#deps.image.partition(replica.topic, replica.partition);
    if (result.ok && image !== undefined) {
      replica.onIsrChangeResult(request, { ok: true, state: toPartitionState(image) }, nowMs);
      return;
    }
    if (result.ok) return;
    const code = isIsrChangeErrorCode(result.code) ? result.code : 'INVALID_REQUEST';
    this.#deps.logger.info({ partition: replica.key, code }, 'ISR change refused');
    replica.onIsrChangeResult(request, { ok: false, code }, nowMs);
  }

  checkInvariants(): void {
    this.#sessions.checkInvariants();
  }
}

/** Data or an error: answered at once. A read plan without data only carries a new HW. */
function isUrgent(plan: Plan): boolean {
  if (plan.kind === 'answer') return true;
  return plan.decision.fetchOffset < plan.decision.maxOffsetExclusive;
}

function planKey(plan: Plan): string {
  return plan.kind === 'answer'
    ? `${plan.result.topic}-${plan.result.partition}`
    : plan.replica.key;
}

function isIsrChangeErrorCode(code: string): code is IsrChangeErrorCode {
  return (isrChangeErrorCodes as readonly string[]).includes(code);
}
