// Incremental replica fetch sessions (Kafka KIP-227), both sides, pure. One session per
// (follower node, leader node) carries every partition the follower replicates from that leader.
// The leader's FetchSessionCache keeps, per session, each partition's last fetch position and
// the HW last sent; the follower's FetchSessionBuilder keeps what the leader knows, so a request
// names only partitions added or whose position moved, and forgets the ones it dropped. Both
// sides cost O(changed) per round: the follower keeps a changed set, the leader a dirty set per
// session (partitions named in a request or whose leader state moved since last looked at).
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

/** Which sessions hold a partition, by partition key; kept by the cache for its sessions. */
type SessionIndex = Map<string, Set<FetchSession>>;
const noSessions: ReadonlySet<FetchSession> = new Set();

export class FetchSession {
  readonly id: number;
  readonly replicaId: number;
  /** The epoch of the last request applied. */
  epoch = 0;
  /** When the follower's last request arrived. */
  lastUsedMs: number;
  /** In answer order: a partition answered with data moves to the end (fairness). */
  readonly partitions = new Map<string, SessionPartition>();
  /**
   * Partitions to look at on the next round: named in a request, or whose leader state moved
   * (markChanged) since they were last taken. Every other partition of a live session is where
   * it was when last looked at (KIP-227: omitted means unchanged). ⊆ partitions' keys.
   */
  readonly dirty = new Set<string>();
  readonly #index: SessionIndex;

  constructor(id: number, replicaId: number, nowMs: number, index: SessionIndex = new Map()) {
    this.id = id;
    this.replicaId = replicaId;
    this.lastUsedMs = nowMs;
    this.#index = index;
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
    if (!this.partitions.delete(key)) return;
    this.dirty.delete(key);
    const holders = this.#index.get(key);
    holders?.delete(this);
    if (holders?.size === 0) this.#index.delete(key);
  }

  /** The dirty partitions, in no particular order; the set is empty afterwards. */
  takeDirty(): string[] {
    const keys = [...this.dirty];
    this.dirty.clear();
    return keys;
  }

  /** Adds or moves a partition; it is dirty until looked at. */
  put(key: string, entry: SessionPartition): void {
    this.partitions.set(key, entry);
    this.dirty.add(key);
    let holders = this.#index.get(key);
    if (holders === undefined) {
      holders = new Set();
      this.#index.set(key, holders);
    }
    holders.add(this);
  }

  /** The session leaves the cache: every partition leaves the index. */
  close(): void {
    for (const key of [...this.partitions.keys()]) this.drop(key);
  }
}

export type OpenSessionResult =
  | { readonly ok: true; readonly session: FetchSession }
  | { readonly ok: false; readonly code: FetchSessionErrorCode };

/** The leader's sessions: bounded, evicted when idle, one per follower node. */
export class FetchSessionCache {
  readonly #config: FetchSessionCacheConfig;
  readonly #sessions = new Map<number, FetchSession>();
  readonly #index: SessionIndex = new Map();
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
        if (old.replicaId === request.replicaId) this.#remove(old);
      }
      if (this.#sessions.size >= this.#config.sessionsMax) {
        return { ok: false, code: 'FETCH_SESSION_BUSY' };
      }
      if (request.partitions.length > this.#config.partitionsPerSessionMax) {
        return { ok: false, code: 'FETCH_SESSION_BUSY' };
      }
      session = new FetchSession(this.#nextId, request.replicaId, nowMs, this.#index);
      this.#nextId += 1;
      this.#sessions.set(session.id, session);
    } else {
      const found = this.#sessions.get(request.sessionId);
      if (found === undefined || found.replicaId !== request.replicaId) {
        return { ok: false, code: 'FETCH_SESSION_ID_NOT_FOUND' };
      }
      if (request.sessionEpoch !== found.epoch + 1) {
        // The follower starts over; its old session is of no use to anyone now.
        this.#remove(found);
        return { ok: false, code: 'INVALID_FETCH_SESSION_EPOCH' };
      }
      session = found;
    }
    return this.#apply(session, request, nowMs);
  }

  #apply(session: FetchSession, request: SessionFetchRequest, nowMs: number): OpenSessionResult {
    for (const ref of request.forgotten) session.drop(sessionPartitionKey(ref));
    for (const fetch of request.partitions) {
      const key = sessionPartitionKey(fetch);
      const old = session.partitions.get(key);
      const kept = old === undefined ? null : hwStillHeld(old, fetch);
      if (old === undefined && session.partitions.size >= this.#config.partitionsPerSessionMax) {
        this.#remove(session);
        return { ok: false, code: 'FETCH_SESSION_BUSY' };
      }
      session.put(key, { ...copyFetch(fetch), highWatermarkSent: kept });
    }
    session.epoch = request.sessionEpoch;
    session.lastUsedMs = nowMs;
    return { ok: true, session };
  }

  /** Forgets sessions idle for longer than sessionIdleMsMax. */
  evictIdle(nowMs: number): void {
    for (const session of this.#sessions.values()) {
      if (nowMs - session.lastUsedMs > this.#config.sessionIdleMsMax) this.#remove(session);
    }
  }

  /** The sessions holding partition `key` (one per follower node at most). */
  sessionsOf(key: string): ReadonlySet<FetchSession> {
    return this.#index.get(key) ?? noSessions;
  }

  /**
   * The leader state of `key` moved (its log end, HW, epoch or role): every session holding it
   * looks at it on its next round. Returns those sessions. O(sessions holding it).
   */
  markChanged(key: string): ReadonlySet<FetchSession> {
    const holders = this.sessionsOf(key);
    for (const session of holders) session.dirty.add(key);
    return holders;
  }

  #remove(session: FetchSession): void {
    this.#sessions.delete(session.id);
    session.close();
  }

  checkInvariants(): void {
    assert(this.#sessions.size <= this.#config.sessionsMax, 'sessions bounded');
    for (const session of this.#sessions.values()) {
      assert(session.id < this.#nextId, 'session ids are issued in order');
      assert(
        session.partitions.size <= this.#config.partitionsPerSessionMax,
        'partitions per session bounded',
      );
      for (const key of session.dirty) assert(session.partitions.has(key), 'dirty ⊆ partitions');
      for (const key of session.partitions.keys()) {
        assert(this.#index.get(key)?.has(session) === true, 'the index holds every partition');
      }
    }
    for (const holders of this.#index.values()) {
      for (const session of holders) {
        assert(this.#sessions.get(session.id) === session, 'the index holds live sessions');
      }
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

/**
 * The follower's side: what it wants the leader to hold (kept one partition at a time with
 * want/unwant), what the leader holds as of the last answer, and the difference, so building a
 * request costs O(changed). One request in flight; a full session names every wanted partition.
 */
export class FetchSessionBuilder {
  readonly #replicaId: number;
  #sessionId = 0;
  #epoch = 0;
  /** The partitions and positions the leader holds, as of the last answered request. */
  #known = new Map<string, SessionPartitionFetch>();
  /** The partitions and positions the follower wants the leader to hold. */
  readonly #wanted = new Map<string, SessionPartitionFetch>();
  /** Keys where #wanted and #known differ: to add, move or forget with the next request. */
  readonly #changed = new Set<string>();
  /** The request in flight: its changes (null: forget), applied to #known when answered. */
  #proposed: Map<string, SessionPartitionFetch | null> | null = null;

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
  /** The partitions the follower wants held. */
  get wantedCount(): number {
    return this.#wanted.size;
  }
  /** Partitions the next request names (added, moved or forgotten); all when starting over. */
  get changedCount(): number {
    return this.#sessionId === 0 ? this.#wanted.size : this.#changed.size;
  }

  /** The leader should hold this position for its partition. */
  want(fetch: SessionPartitionFetch): void {
    const key = sessionPartitionKey(fetch);
    this.#wanted.set(key, fetch);
    this.#noteChange(key);
  }

  /** The leader should forget this partition. */
  unwant(key: string): void {
    if (this.#wanted.delete(key)) this.#noteChange(key);
  }

  /** The request that makes the leader's session hold exactly `wanted`. One in flight. */
  build(wanted: readonly SessionPartitionFetch[]): SessionFetchRequest {
    const next = new Set(wanted.map(sessionPartitionKey));
    for (const key of [...this.#wanted.keys()]) if (!next.has(key)) this.unwant(key);
    for (const fetch of wanted) this.want(fetch);
    return this.request();
  }

  /** The request that makes the leader's session hold what is wanted. One in flight. */
  request(): SessionFetchRequest {
    assert(this.#proposed === null, 'one session request in flight');
    const proposed = new Map<string, SessionPartitionFetch | null>();
    this.#proposed = proposed;
    if (this.#sessionId === 0) {
      for (const [key, fetch] of this.#wanted) proposed.set(key, fetch);
      this.#changed.clear();
      return {
        replicaId: this.#replicaId,
        sessionId: 0,
        sessionEpoch: 0,
        partitions: [...this.#wanted.values()],
        forgotten: [],
      };
    }
    const partitions: SessionPartitionFetch[] = [];
    const forgotten: SessionPartitionRef[] = [];
    for (const key of this.#changed) {
      const fetch = this.#wanted.get(key) ?? null;
      proposed.set(key, fetch);
      if (fetch !== null) partitions.push(fetch);
      else {
        const known = this.#known.get(key);
        if (known !== undefined) forgotten.push({ topic: known.topic, partition: known.partition });
      }
    }
    this.#changed.clear();
    return {
      replicaId: this.#replicaId,
      sessionId: this.#sessionId,
      sessionEpoch: this.#epoch + 1,
      partitions,
      forgotten,
    };
  }

  /**
   * The leader answered: its session now holds what was proposed, minus `dropped` keys, which
   * are no longer wanted either (the follower's core asks for them again).
   */
  onAnswer(sessionId: number, dropped: readonly string[]): void {
    const proposed = this.#proposed;
    assert(proposed !== null, 'an answer to a request in flight');
    assert(sessionId > 0, 'the leader names the session');
    const full = this.#sessionId !== sessionId;
    this.#epoch = full ? 0 : this.#epoch + 1;
    this.#sessionId = sessionId;
    if (full) this.#known = new Map();
    for (const [key, fetch] of proposed) {
      if (fetch === null) this.#known.delete(key);
      else this.#known.set(key, fetch);
    }
    for (const key of dropped) {
      this.#known.delete(key);
      if (this.#wanted.get(key) === proposed.get(key)) this.#wanted.delete(key);
    }
    this.#proposed = null;
    for (const key of proposed.keys()) this.#noteChange(key);
  }

  /** No answer, or a session error: the next request starts a full session. */
  reset(): void {
    this.#sessionId = 0;
    this.#epoch = 0;
    this.#known = new Map();
    this.#proposed = null;
    this.#changed.clear();
    for (const key of this.#wanted.keys()) this.#changed.add(key);
  }

  #noteChange(key: string): void {
    const known = this.#known.get(key);
    const wanted = this.#wanted.get(key);
    const same =
      known === undefined ? wanted === undefined : wanted !== undefined && samePosition(known, wanted);
    if (same) this.#changed.delete(key);
    else this.#changed.add(key);
  }
}
