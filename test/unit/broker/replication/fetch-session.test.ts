// Goal: incremental fetch sessions (KIP-227) keep the leader's and the follower's view of a
// session in agreement: a full session names every partition, later requests only the added
// and moved ones and the forgotten ones; unknown ids and epoch gaps are typed errors that make
// the follower start over; sessions and partitions per session are bounded; idle sessions go.
// Method: a FetchSessionBuilder and a FetchSessionCache exchanging requests directly, plus a
// seeded random walk (seed printed) checking after every answered round that the cache holds
// exactly what the builder believes.
import { describe, expect, test } from 'vitest';
import {
  FetchSessionBuilder,
  FetchSessionCache,
  sessionPartitionKey,
  type FetchSession,
  type SessionPartitionFetch,
} from '../../../../src/broker/replication/index.ts';
import { SeededRandom } from '../../../../src/common/index.ts';

const limits = { sessionsMax: 2, partitionsPerSessionMax: 3, sessionIdleMsMax: 1_000 };

function fetchOf(partition: number, fetchOffset: number, epoch = 0): SessionPartitionFetch {
  return {
    topic: 't',
    partition,
    fetchOffset,
    lastFetchedEpoch: fetchOffset === 0 ? null : epoch,
    currentLeaderEpoch: epoch,
  };
}

/** Sends the builder's request for `wanted` to the cache and applies the answer. */
function round(
  builder: FetchSessionBuilder,
  cache: FetchSessionCache,
  wanted: readonly SessionPartitionFetch[],
  nowMs: number,
  dropped: readonly string[] = [],
) {
  const request = builder.build(wanted);
  const opened = cache.open(request, nowMs);
  if (!opened.ok) {
    builder.reset();
    return { request, opened };
  }
  for (const key of dropped) opened.session.drop(key);
  builder.onAnswer(opened.session.id, dropped);
  cache.checkInvariants();
  return { request, opened };
}

function held(session: FetchSession): Record<string, number> {
  return Object.fromEntries([...session.partitions].map(([key, p]) => [key, p.fetchOffset]));
}

describe('fetch sessions', () => {
  test('a full session, then only what moved, was added or was forgotten', () => {
    const cache = new FetchSessionCache(limits);
    const builder = new FetchSessionBuilder(2);
    const first = round(builder, cache, [fetchOf(0, 5), fetchOf(1, 7)], 0);
    expect(first.request).toMatchObject({ sessionId: 0, sessionEpoch: 0, forgotten: [] });
    expect(first.request.partitions).toHaveLength(2);
    assertOk(first.opened);
    const id = first.opened.session.id;

    const idle = round(builder, cache, [fetchOf(0, 5), fetchOf(1, 7)], 10);
    expect(idle.request).toMatchObject({ sessionId: id, sessionEpoch: 1, partitions: [] });
    expect(idle.request.forgotten).toEqual([]);

    const moved = round(builder, cache, [fetchOf(0, 9), fetchOf(2, 0)], 20);
    expect(moved.request.sessionEpoch).toBe(2);
    expect(moved.request.partitions.map((p) => p.partition)).toEqual([0, 2]);
    expect(moved.request.forgotten).toEqual([{ topic: 't', partition: 1 }]);
    assertOk(moved.opened);
    expect(held(moved.opened.session)).toEqual({ 't-0': 9, 't-2': 0 });
  });

  test('the leader keeps the HW it sent while a partition does not move back', () => {
    const cache = new FetchSessionCache(limits);
    const builder = new FetchSessionBuilder(2);
    const sentAt = (offset: number, epoch: number) => {
      const next = round(builder, cache, [fetchOf(0, offset)], epoch);
      assertOk(next.opened);
      return next.opened.session.partitions.get('t-0')?.highWatermarkSent;
    };
    const first = round(builder, cache, [fetchOf(0, 5)], 0);
    assertOk(first.opened);
    first.opened.session.markSent('t-0', 5, false);
    expect(sentAt(5, 1)).toBe(5);
    // Appended what it was sent: it still holds HW 5, so no answer just to repeat it.
    expect(sentAt(6, 2)).toBe(5);
    // Truncated below: its HW was capped, so the leader must send it again.
    expect(sentAt(4, 3)).toBeNull();
  });

  test('a HW beyond the new fetch offset, or a new leader epoch, is not kept', () => {
    const cache = new FetchSessionCache(limits);
    const builder = new FetchSessionBuilder(2);
    const first = round(builder, cache, [fetchOf(0, 5)], 0);
    assertOk(first.opened);
    first.opened.session.markSent('t-0', 9, false);
    const short = round(builder, cache, [fetchOf(0, 7)], 1);
    assertOk(short.opened);
    expect(short.opened.session.partitions.get('t-0')?.highWatermarkSent).toBeNull();
    short.opened.session.markSent('t-0', 7, false);
    const epoch = round(builder, cache, [{ ...fetchOf(0, 8), currentLeaderEpoch: 2 }], 2);
    assertOk(epoch.opened);
    expect(epoch.opened.session.partitions.get('t-0')?.highWatermarkSent).toBeNull();
  });

  test('a partition the leader answered with an error leaves the session on both sides', () => {
    const cache = new FetchSessionCache(limits);
    const builder = new FetchSessionBuilder(2);
    round(builder, cache, [fetchOf(0, 1), fetchOf(1, 1)], 0, ['t-1']);
    expect(builder.knownCount).toBe(1);
    // Wanted again: it is named as added, not assumed held.
    const again = round(builder, cache, [fetchOf(0, 1), fetchOf(1, 1)], 1);
    expect(again.request.partitions.map((p) => p.partition)).toEqual([1]);
  });

  test('a lost answer: the stale epoch is refused and the follower starts a full session', () => {
    const cache = new FetchSessionCache(limits);
    const builder = new FetchSessionBuilder(2);
    const first = round(builder, cache, [fetchOf(0, 1)], 0);
    assertOk(first.opened);
    // The leader applies epoch 1 but the answer never arrives.
    const lost = builder.build([fetchOf(0, 2)]);
    expect(cache.open(lost, 1).ok).toBe(true);
    builder.reset();
    const retried = { ...lost, sessionId: first.opened.session.id };
    expect(cache.open(retried, 2)).toEqual({ ok: false, code: 'INVALID_FETCH_SESSION_EPOCH' });
    const full = round(builder, cache, [fetchOf(0, 2)], 3);
    expect(full.request.sessionId).toBe(0);
    assertOk(full.opened);
    expect(cache.size).toBe(1);
  });

  test('an unknown session id, or one of another follower, is FETCH_SESSION_ID_NOT_FOUND', () => {
    const cache = new FetchSessionCache(limits);
    const builder = new FetchSessionBuilder(2);
    const first = round(builder, cache, [fetchOf(0, 1)], 0);
    assertOk(first.opened);
    const request = { replicaId: 3, sessionEpoch: 1, partitions: [], forgotten: [] };
    const sessionId = first.opened.session.id;
    expect(cache.open({ ...request, sessionId }, 1).ok).toBe(false);
    expect(cache.open({ ...request, sessionId: 99 }, 1)).toEqual({
      ok: false,
      code: 'FETCH_SESSION_ID_NOT_FOUND',
    });
  });

  test('bounded: sessionsMax and partitionsPerSessionMax answer FETCH_SESSION_BUSY', () => {
    const cache = new FetchSessionCache(limits);
    for (const replicaId of [2, 3]) round(new FetchSessionBuilder(replicaId), cache, [], 0);
    const third = round(new FetchSessionBuilder(4), cache, [fetchOf(0, 0)], 0);
    expect(third.opened).toEqual({ ok: false, code: 'FETCH_SESSION_BUSY' });
    // A follower that starts over replaces its own session instead of taking another.
    expect(round(new FetchSessionBuilder(2), cache, [], 1).opened.ok).toBe(true);
    expect(cache.size).toBe(2);
    const builder = new FetchSessionBuilder(3);
    const four = [0, 1, 2, 3].map((p) => fetchOf(p, 0));
    expect(round(builder, cache, four, 2).opened).toEqual({
      ok: false,
      code: 'FETCH_SESSION_BUSY',
    });
    round(builder, cache, four.slice(0, 3), 3);
    expect(round(builder, cache, four, 4).opened).toEqual({
      ok: false,
      code: 'FETCH_SESSION_BUSY',
    });
    cache.checkInvariants();
  });

  test('an idle session is evicted; its follower then gets FETCH_SESSION_ID_NOT_FOUND', () => {
    const cache = new FetchSessionCache(limits);
    const builder = new FetchSessionBuilder(2);
    round(builder, cache, [fetchOf(0, 0)], 0);
    const late = round(builder, cache, [fetchOf(0, 0)], 1_001);
    expect(late.opened).toEqual({ ok: false, code: 'FETCH_SESSION_ID_NOT_FOUND' });
    expect(round(builder, cache, [fetchOf(0, 0)], 1_002).request.sessionId).toBe(0);
  });

  test('O(changed): a request dirties what it names, markChanged what sessions hold', () => {
    const cache = new FetchSessionCache({ ...limits, partitionsPerSessionMax: 8 });
    const b2 = new FetchSessionBuilder(2);
    const b3 = new FetchSessionBuilder(3);
    const first = round(b2, cache, [fetchOf(0, 1), fetchOf(1, 1), fetchOf(2, 1)], 0);
    assertOk(first.opened);
    const s2 = first.opened.session;
    expect(s2.takeDirty().sort()).toEqual(['t-0', 't-1', 't-2']);
    const other = round(b3, cache, [fetchOf(1, 1)], 0);
    assertOk(other.opened);
    other.opened.session.takeDirty();
    // An idle round names nothing and dirties nothing.
    round(b2, cache, [fetchOf(0, 1), fetchOf(1, 1), fetchOf(2, 1)], 1);
    expect(s2.dirty.size).toBe(0);
    // One moved partition: only it is dirty.
    round(b2, cache, [fetchOf(0, 1), fetchOf(1, 2), fetchOf(2, 1)], 2);
    expect(s2.takeDirty()).toEqual(['t-1']);
    expect([...cache.markChanged('t-1')].map((s) => s.replicaId).sort()).toEqual([2, 3]);
    expect([...cache.markChanged('t-9')]).toEqual([]);
    expect(s2.takeDirty()).toEqual(['t-1']);
    // Forgotten or dropped partitions leave the index; an evicted session leaves it whole.
    round(b2, cache, [fetchOf(0, 1), fetchOf(1, 2)], 3, ['t-0']);
    expect([...cache.sessionsOf('t-0')]).toEqual([]);
    expect([...cache.sessionsOf('t-2')]).toEqual([]);
    cache.evictIdle(1_500);
    expect([...cache.sessionsOf('t-1')]).toEqual([]);
    cache.checkInvariants();
  });

  test('the builder names only what changed since the last answer, one want at a time', () => {
    const builder = new FetchSessionBuilder(2);
    const cache = new FetchSessionCache(limits);
    builder.want(fetchOf(0, 1));
    builder.want(fetchOf(1, 1));
    expect(builder.changedCount).toBe(2);
    const full = builder.request();
    const opened = cache.open(full, 0);
    assertOk(opened);
    builder.onAnswer(opened.session.id, []);
    expect(builder.changedCount).toBe(0);
    builder.want(fetchOf(1, 1)); // Same position: nothing to send.
    expect(builder.changedCount).toBe(0);
    builder.want(fetchOf(1, 3));
    builder.want(fetchOf(1, 1)); // Back where the leader has it.
    builder.unwant('t-0');
    const next = builder.request();
    expect(next.partitions).toEqual([]);
    expect(next.forgotten).toEqual([{ topic: 't', partition: 0 }]);
    builder.reset();
    expect(builder.changedCount).toBe(1); // A full session names every wanted partition.
  });

  test('random walk: after every answered round the leader holds what the follower believes', () => {
    const seed = Date.now() % 1_000_000;
    console.log(`fetch-session random walk seed ${seed}`);
    const random = new SeededRandom(seed);
    const cache = new FetchSessionCache({ ...limits, partitionsPerSessionMax: 8 });
    const builder = new FetchSessionBuilder(2);
    const offsets = new Map<number, number>();
    let nowMs = 0;
    for (let step = 0; step < 2_000; step += 1) {
      nowMs += random.int(50);
      const partition = random.int(10);
      const action = random.int(4);
      if (action === 0) offsets.delete(partition);
      else offsets.set(partition, (offsets.get(partition) ?? 0) + random.int(3));
      const wanted = [...offsets].slice(0, 8).map(([p, offset]) => fetchOf(p, offset));
      const lose = random.int(20) === 0;
      if (lose) {
        cache.open(builder.build(wanted), nowMs);
        builder.reset();
        continue;
      }
      const dropped = random.int(10) === 0 && wanted[0] !== undefined ? [key(wanted[0])] : [];
      const { opened } = round(builder, cache, wanted, nowMs, dropped);
      expect(opened.ok, `seed ${seed} step ${step}`).toBe(true);
      if (!opened.ok) return;
      const expected = wanted.filter((w) => !dropped.includes(key(w)));
      expect(held(opened.session), `seed ${seed} step ${step}`).toEqual(
        Object.fromEntries(expected.map((w) => [key(w), w.fetchOffset])),
      );
    }
  });
});

function key(fetch: SessionPartitionFetch): string {
  return sessionPartitionKey(fetch);
}

function assertOk<T extends { ok: boolean }>(value: T): asserts value is T & { ok: true } {
  expect(value.ok).toBe(true);
}
