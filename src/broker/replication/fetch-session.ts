// Incremental replica fetch sessions (Kafka KIP-227), both sides, pure. One session per
// (follower node, leader node) carries every partition the follower replicates from that leader.
// The leader's FetchSessionCache keeps, per session, each partition's last fetch position and
// the HW last sent; the follower's FetchSessionBuilder keeps what the leader knows, so a request
// names only partitions added or whose position moved, and forgets the ones it dropped.
// Invariant: both sides agree on a session's partitions after each answered request; any lost
// answer, unknown id or epoch gap makes the follower start a full session (epoch 0).
import { assert } from '../../common/index.ts';

/** A partition's fetch position as the follower sends it (added or changed). */
export interface SessionPartitionFetch {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number | null;
  readonly currentLeaderEpoch: number;
}

export interface SessionPartitionRef {
  readonly topic: string;
  readonly partition: number;
}

/** A session fetch on the wire, follower → leader. */
export interface SessionFetchRequest {
  readonly replicaId: number;
  /** 0 starts a new (full) session; else the id the leader gave. */
  readonly sessionId: number;
  /** 0 with a new session, then one more per answered request. */
  readonly sessionEpoch: number;
  readonly partitions: readonly SessionPartitionFetch[];
  readonly forgotten: readonly SessionPartitionRef[];
}

export const fetchSessionErrorCodes = [
  'FETCH_SESSION_ID_NOT_FOUND', // Retriable: evicted or never known; start a full session.
  'INVALID_FETCH_SESSION_EPOCH', // Retriable: an answer was lost; start a full session.
  'FETCH_SESSION_BUSY', // Retriable after backoff: sessionsMax or partitionsPerSessionMax hit.
] as const;
export type FetchSessionErrorCode = (typeof fetchSessionErrorCodes)[number];

export interface FetchSessionCacheConfig {
  /** Sessions one leader keeps (one per follower node in a healthy cluster). */
  readonly sessionsMax: number;
  readonly partitionsPerSessionMax: number;
  /** A session not used for this long is evicted. */
  readonly sessionIdleMsMax: number;
}

/** The leader's view of one partition in a session. */
export interface SessionPartition extends SessionPartitionFetch {
  /** The HW last sent to the follower for this partition; null before the first answer. */
  highWatermarkSent: number | null;
}

export function sessionPartitionKey(ref: SessionPartitionRef): string {
  return `${ref.topic}-${ref.partition}`;
}

export class FetchSession {
  readonly id: number;
  readonly replicaId: number;
  /** The epoch of the last request applied. */
  epoch = 0;
  lastUsedMs: number;
  /** In answer order: a partition answered with data moves to the end (fairness). */
  readonly partitions = new Map<string, SessionPartition>();

  constructor(id: number, replicaId: number, nowMs: number) {
    this.id = id;
    this.replicaId = replicaId;
    this.lastUsedMs = nowMs;
  }

  /** Records the HW sent with an answer; `moved` puts the partition last for the next read. */
  markSent(key: string, highWatermark: number, moved: boolean): void {
    const entry = this.partitions.get(key);
    assert(entry !== undefined, 'markSent on a partition of the session');
    entry.highWatermarkSent = highWatermark;
    if (moved) {
      this.partitions.delete(key);
      this.partitions.set(key, entry);
    }
  }

  /** A partition answered with an error, divergence or out-of-range leaves the session. */
  drop(key: string): void {
    this.partitions.delete(key);
  }
}

export type OpenSessionResult =
  | { readonly ok: true; readonly session: FetchSession }
  | { readonly ok: false; readonly code: FetchSessionErrorCode };

/** The leader's sessions: bounded, evicted when idle, one per follower node. */
export class FetchSessionCache {
  readonly #config: FetchSessionCacheConfig;
  readonly #sessions = new Map<number, FetchSession>();
  #nextId = 1;

  constructor(config: FetchSessionCacheConfig) {
    assert(config.sessionsMax >= 1, 'sessionsMax ≥ 1');
    assert(config.partitionsPerSessionMax >= 1, 'partitionsPerSessionMax ≥ 1');
    assert(config.sessionIdleMsMax > 0, 'sessionIdleMsMax > 0');
    this.#config = config;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /**
   * Applies a request to its session (a new one for id 0) and returns it. Codes:
   * FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_BUSY.
   */
  open(request: SessionFetchRequest, nowMs: number): OpenSessionResult {
    this.evictIdle(nowMs);
    let session: FetchSession;
    if (request.sessionId === 0) {
      for (const old of this.#sessions.values()) {
        if (old.replicaId === request.replicaId) this.#sessions.delete(old.id);
      }
      if (this.#sessions.size >= this.#config.sessionsMax) {
        return { ok: false, code: 'FETCH_SESSION_BUSY' };
      }
      if (request.partitions.length > this.#config.partitionsPerSessionMax) {
        return { ok: false, code: 'FETCH_SESSION_BUSY' };
      }
      session = new FetchSession(this.#nextId, request.replicaId, nowMs);
      this.#nextId += 1;
      this.#sessions.set(session.id, session);
    } else {
      const found = this.#sessions.get(request.sessionId);
      if (found === undefined || found.replicaId !== request.replicaId) {
        return { ok: false, code: 'FETCH_SESSION_ID_NOT_FOUND' };
      }
      if (request.sessionEpoch !== found.epoch + 1) {
        // The follower starts over; its old session is of no use to anyone now.
        this.#sessions.delete(found.id);
        return { ok: false, code: 'INVALID_FETCH_SESSION_EPOCH' };
      }
      session = found;
    }
    return this.#apply(session, request, nowMs);
  }

  #apply(session: FetchSession, request: SessionFetchRequest, nowMs: number): OpenSessionResult {
    for (const ref of request.forgotten) session.partitions.delete(sessionPartitionKey(ref));
    for (const fetch of request.partitions) {
      const key = sessionPartitionKey(fetch);
      const old = session.partitions.get(key);
      const kept = old === undefined ? null : hwStillHeld(old, fetch);
      if (old === undefined && session.partitions.size >= this.#config.partitionsPerSessionMax) {
        this.#sessions.delete(session.id);
        return { ok: false, code: 'FETCH_SESSION_BUSY' };
      }
      session.partitions.set(key, { ...copyFetch(fetch), highWatermarkSent: kept });
    }
    session.epoch = request.sessionEpoch;
    session.lastUsedMs = nowMs;
    return { ok: true, session };
  }

  /** Forgets sessions idle for longer than sessionIdleMsMax. */
  evictIdle(nowMs: number): void {
    for (const session of this.#sessions.values()) {
      if (nowMs - session.lastUsedMs > this.#config.sessionIdleMsMax) {
        this.#sessions.delete(session.id);
      }
    }
  }

  checkInvariants(): void {
    assert(this.#sessions.size <= this.#config.sessionsMax, 'sessions bounded');
    for (const session of this.#sessions.values()) {
      assert(session.id < this.#nextId, 'session ids are issued in order');
      assert(
        session.partitions.size <= this.#config.partitionsPerSessionMax,
        'partitions per session bounded',
      );
    }
  }
}

function copyFetch(fetch: SessionPartitionFetch): SessionPartitionFetch {
  return {
    topic: fetch.topic,
    partition: fetch.partition,
    fetchOffset: fetch.fetchOffset,
    lastFetchedEpoch: fetch.lastFetchedEpoch,
    currentLeaderEpoch: fetch.currentLeaderEpoch,
  };
}

function samePosition(a: SessionPartitionFetch, b: SessionPartitionFetch): boolean {
  return (
    a.fetchOffset === b.fetchOffset &&
    a.lastFetchedEpoch === b.lastFetchedEpoch &&
    a.currentLeaderEpoch === b.currentLeaderEpoch
  );
}

/**
 * The HW the follower holds from this session's last answer, or null when unknown. It keeps
 * it while the position only moves forward in the same leader epoch (it appended what it was
 * sent) and that HW is within its new log end (the follower core caps its HW there); a lower
 * offset (a truncation) or another epoch forgets it. Without this, every append would cost
 * each follower one more round trip, answered only to repeat the HW it has.
 */
function hwStillHeld(old: SessionPartition, fetch: SessionPartitionFetch): number | null {
  const sent = old.highWatermarkSent;
  if (sent === null || old.currentLeaderEpoch !== fetch.currentLeaderEpoch) return null;
  if (fetch.fetchOffset < old.fetchOffset || sent > fetch.fetchOffset) return null;
  return sent;
}

/** The follower's side: what the leader holds of this session, and the next request. */
export class FetchSessionBuilder {
  readonly #replicaId: number;
  #sessionId = 0;
  #epoch = 0;
  /** The partitions and positions the leader holds, as of the last answered request. */
  #known = new Map<string, SessionPartitionFetch>();
  /** What the leader will hold once the request in flight is answered. */
  #proposed: Map<string, SessionPartitionFetch> | null = null;

  constructor(replicaId: number) {
    this.#replicaId = replicaId;
  }

  get sessionId(): number {
    return this.#sessionId;
  }
  /** The partitions the leader holds in this session. */
  get knownCount(): number {
    return this.#known.size;
  }

  /** The request that makes the leader's session hold exactly `wanted`. One in flight. */
  build(wanted: readonly SessionPartitionFetch[]): SessionFetchRequest {
    assert(this.#proposed === null, 'one session request in flight');
    const next = new Map<string, SessionPartitionFetch>();
    for (const fetch of wanted) next.set(sessionPartitionKey(fetch), fetch);
    this.#proposed = next;
    if (this.#sessionId === 0) {
      return {
        replicaId: this.#replicaId,
        sessionId: 0,
        sessionEpoch: 0,
        partitions: [...next.values()],
        forgotten: [],
      };
    }
    const partitions: SessionPartitionFetch[] = [];
    for (const [key, fetch] of next) {
      const known = this.#known.get(key);
      if (known === undefined || !samePosition(known, fetch)) partitions.push(fetch);
    }
    const forgotten: SessionPartitionRef[] = [];
    for (const [key, known] of this.#known) {
      if (!next.has(key)) forgotten.push({ topic: known.topic, partition: known.partition });
    }
    return {
      replicaId: this.#replicaId,
      sessionId: this.#sessionId,
      sessionEpoch: this.#epoch + 1,
      partitions,
      forgotten,
    };
  }

  /** The leader answered: its session now holds what was proposed, minus `dropped` keys. */
  onAnswer(sessionId: number, dropped: readonly string[]): void {
    const proposed = this.#proposed;
    assert(proposed !== null, 'an answer to a request in flight');
    assert(sessionId > 0, 'the leader names the session');
    this.#epoch = this.#sessionId === sessionId ? this.#epoch + 1 : 0;
    this.#sessionId = sessionId;
    for (const key of dropped) proposed.delete(key);
    this.#known = proposed;
    this.#proposed = null;
  }

  /** No answer, or a session error: the next request starts a full session. */
  reset(): void {
    this.#sessionId = 0;
    this.#epoch = 0;
    this.#known = new Map();
    this.#proposed = null;
  }
}
