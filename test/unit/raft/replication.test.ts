// Goal: log replication, fast conflict back-off and the commit rule behave as the MIT 6.824
// (R4–R13) and etcd paper tests (R27, R28, R30–R33, R45, R46) and the paper's Figure 8 (R54,
// R56) require. Method: scripted runs of the deterministic TestCluster, some from preset logs.
import { describe, expect, test } from 'vitest';
import type { Entry, RaftNodeId } from '../../../src/raft/index.ts';
import { MemoryStorage } from '../../support/raft-sim/memory-storage.ts';
import { TestCluster } from '../../support/raft-sim/test-cluster.ts';

const encoder = new TextEncoder();

/** A storage twin holding `terms[i]` at index i+1 (commands named `t<term>-<index>`). */
function presetStorage(terms: readonly number[], term: number, commit = 0): MemoryStorage {
  const storage = new MemoryStorage();
  storage.entries = terms.map((t, i): Entry => ({
    index: i + 1,
    term: t,
    kind: 'command',
    data: encoder.encode(`t${t}-${i + 1}`),
  }));
  storage.hardState = { term, vote: null, commit };
  return storage;
}

function presetCluster(logs: Record<number, readonly number[]>, terms: Record<number, number>) {
  const ids = Object.keys(logs).map(Number);
  const cluster = new TestCluster([], {}, { voters: ids, observers: [] });
  for (const id of ids) cluster.addNode(id, presetStorage(logs[id] ?? [], terms[id] ?? 0));
  return cluster;
}

function termsOf(cluster: TestCluster, id: RaftNodeId): number[] {
  const status = cluster.core(id).status();
  return cluster
    .core(id)
    .entries(1, status.lastIndex)
    .map((e) => e.term);
}

function leaderOf(cluster: TestCluster): RaftNodeId {
  const leaders = cluster.leaders();
  expect(leaders).toHaveLength(1);
  return leaders[0] ?? -1;
}

/** The Raft paper's Fig. 8 logs: S1, S2 hold terms [1, 2], S3, S4 [1], S5 [1, 3] and is down. */
function figure8Cluster(config: ConstructorParameters<typeof TestCluster>[1]): TestCluster {
  const storage = (terms: number[], term: number) => presetStorage(terms, term, 1);
  const cluster = new TestCluster([], config, { voters: [1, 2, 3, 4, 5], observers: [] });
  cluster.addNode(1, storage([1, 2], 3));
  cluster.addNode(2, storage([1, 2], 2));
  cluster.addNode(3, storage([1], 2));
  cluster.addNode(4, storage([1], 2));
  cluster.addNode(5, storage([1, 3], 3));
  cluster.crash(5);
  return cluster;
}

describe('replication', () => {
  test('R4 basic agreement: nothing applied before a proposal, then all apply in order', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    for (const id of [1, 2, 3]) expect(cluster.node(id).applied).toEqual([]);
    for (const value of ['a', 'b', 'c']) {
      const result = cluster.propose(1, value);
      expect(result.ok).toBe(true);
      cluster.stabilize();
    }
    cluster.tickAll(2);
    for (const id of [1, 2, 3]) expect(cluster.node(id).applied).toEqual(['a', 'b', 'c']);
    expect(cluster.core(1).status().commitIndex).toBe(4); // The noop, then a, b, c.
  });

  test('R5 each entry is sent to each peer about once', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.sent = [];
    const big = 'x'.repeat(5000);
    for (let i = 0; i < 10; i += 1) {
      cluster.propose(1, `${big}${i}`);
      cluster.stabilize();
    }
    const bytes = cluster.sent
      .flatMap((m) => (m.type === 'append-request' ? m.entries : []))
      .reduce((sum, e) => sum + e.data.byteLength, 0);
    expect(bytes).toBeLessThanOrEqual(2 * 10 * 5001 + 50_000);
  });

  test('R6 follower failure: 2/3 agree, 1/3 cannot commit', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.crash(3);
    cluster.propose(1, 'a');
    cluster.stabilize();
    expect(cluster.node(2).applied.length + cluster.node(1).applied.length).toBeGreaterThan(0);
    cluster.crash(2);
    const result = cluster.propose(1, 'b');
    expect(result.ok && result.value.index).toBe(3);
    cluster.stabilize();
    expect(cluster.core(1).status().commitIndex).toBe(2);
  });

  test('R7 leader failure: a new leader commits; with no quorum nothing commits', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.propose(1, 'a');
    cluster.stabilize();
    cluster.crash(1);
    cluster.tickAll(40);
    const second = leaderOf(cluster);
    cluster.propose(second, 'b');
    cluster.stabilize();
    cluster.tickAll(2);
    const other = [2, 3].find((id) => id !== second) ?? -1;
    expect(cluster.node(other).applied).toEqual(['a', 'b']);
    cluster.crash(second);
    for (const id of [other]) cluster.propose(id, 'never');
    cluster.tickAll(40);
    expect(cluster.node(other).applied).toEqual(['a', 'b']);
  });

  test('R8 a follower that missed entries catches up after reconnecting', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(3);
    for (const v of ['a', 'b', 'c']) cluster.propose(1, v);
    cluster.tickAll(30);
    cluster.heal();
    cluster.tickAll(5);
    cluster.propose(leaderOf(cluster), 'd');
    cluster.tickAll(5);
    expect(cluster.node(3).applied).toEqual(['a', 'b', 'c', 'd']);
  });

  test('R9 fail-no-agree: 3 of 5 gone, an accepted proposal does not commit, then repairs', () => {
    const cluster = new TestCluster([1, 2, 3, 4, 5], { checkQuorum: false });
    cluster.elect(1);
    for (const id of [3, 4, 5]) cluster.isolate(id);
    const result = cluster.propose(1, 'lost?');
    expect(result.ok && result.value.index).toBe(2);
    cluster.tickAll(30);
    expect(cluster.core(1).status().commitIndex).toBe(1);
    cluster.heal();
    cluster.tickAll(60);
    const leader = leaderOf(cluster);
    cluster.propose(leader, 'after');
    cluster.tickAll(5);
    const applied = cluster.node(1).applied;
    expect(applied.at(-1)).toBe('after');
    for (const id of [2, 3, 4, 5]) expect(cluster.node(id).applied).toEqual(applied);
  });

  test('R10 concurrent proposals in one term all commit', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const indexes = ['a', 'b', 'c', 'd', 'e'].map((v) => {
      const r = cluster.propose(1, v);
      return r.ok ? r.value.index : -1;
    });
    expect(indexes).toEqual([2, 3, 4, 5, 6]);
    cluster.stabilize();
    cluster.tickAll(2);
    for (const id of [1, 2, 3]) expect(cluster.node(id).applied).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  test('R11 rejoin: a partitioned leader’s uncommitted entries are overwritten', () => {
    const cluster = new TestCluster([1, 2, 3], { checkQuorum: false });
    cluster.elect(1);
    cluster.isolate(1);
    for (const v of ['x1', 'x2', 'x3']) cluster.propose(1, v);
    cluster.stabilize();
    cluster.campaign(2);
    expect(cluster.core(2).status().role).toBe('leader');
    cluster.propose(2, 'y');
    cluster.stabilize();
    cluster.heal();
    cluster.tickAll(10);
    cluster.propose(leaderOf(cluster), 'z');
    cluster.tickAll(5);
    for (const id of [1, 2, 3]) expect(cluster.node(id).applied).toEqual(['y', 'z']);
  });

  test('R12 backup: 50-entry conflicts resolve in few round trips (fast back-off)', () => {
    const cluster = new TestCluster([1, 2, 3, 4, 5], { checkQuorum: false });
    cluster.elect(1);
    for (const id of [3, 4, 5]) cluster.isolate(id);
    for (let i = 0; i < 50; i += 1) cluster.propose(1, `lost${i}`);
    cluster.stabilize();
    cluster.heal();
    for (const id of [1, 2]) cluster.isolate(id);
    cluster.campaign(3);
    expect(cluster.core(3).status().role).toBe('leader');
    for (let i = 0; i < 50; i += 1) cluster.propose(3, `kept${i}`);
    cluster.stabilize();
    cluster.heal();
    cluster.sent = [];
    cluster.tickAll(3);
    const rejections = cluster.sent.filter((m) => m.type === 'append-response' && !m.success);
    expect(rejections.length).toBeLessThanOrEqual(6);
    for (const id of [1, 2, 4, 5])
      expect(cluster.node(id).applied).toEqual(cluster.node(3).applied);
    expect(cluster.node(1).applied).toHaveLength(50);
  });

  test('R13 an election and 10 entries need few messages, and idleness is cheap', () => {
    const cluster = new TestCluster([1, 2, 3], { heartbeatTicks: 2 });
    cluster.elect(1);
    expect(cluster.sent.length).toBeLessThanOrEqual(30);
    cluster.sent = [];
    for (let i = 0; i < 10; i += 1) {
      cluster.propose(1, `v${i}`);
      cluster.stabilize();
    }
    expect(cluster.sent.length).toBeLessThanOrEqual((10 + 1 + 3) * 3 * 2);
    cluster.sent = [];
    cluster.tickAll(20);
    expect(cluster.sent.length).toBeLessThanOrEqual(60);
  });

  test('R27 the winner overwrites an uncommitted entry of an older term on every node', () => {
    const cluster = presetCluster(
      { 1: [1], 2: [1], 3: [2], 4: [1], 5: [1] },
      { 1: 1, 2: 1, 3: 2, 4: 3, 5: 3 },
    );
    cluster.campaign(1);
    expect(cluster.core(1).status().role).not.toBe('leader');
    cluster.tickAll(1);
    for (let i = 0; i < 5 && cluster.core(1).status().role !== 'leader'; i += 1)
      cluster.campaign(1);
    expect(cluster.core(1).status().role).toBe('leader');
    const term = cluster.core(1).status().term;
    for (const id of [1, 2, 3, 4, 5]) expect(termsOf(cluster, id)).toEqual([1, term]);
  });

  test('R28 a new leader does not commit old-term entries until its own entry commits', () => {
    const cluster = new TestCluster([1, 2, 3, 4, 5], { checkQuorum: false });
    cluster.elect(1);
    for (const id of [3, 4, 5]) cluster.cut(1, id);
    cluster.propose(1, 'a');
    cluster.propose(1, 'b');
    cluster.stabilize();
    cluster.heal();
    cluster.crash(1);
    cluster.ignore('append-request');
    cluster.campaign(2);
    expect(cluster.core(2).status()).toMatchObject({ role: 'leader', commitIndex: 1 });
    cluster.heal();
    cluster.tick(2);
    cluster.stabilize();
    expect(cluster.core(2).status().commitIndex).toBe(4);
  });

  test('R30 a stale-term append is ignored and answered with the current term', () => {
    const cluster = new TestCluster([1, 2, 3], { checkQuorum: false });
    cluster.elect(1);
    cluster.isolate(1);
    cluster.campaign(2);
    cluster.heal();
    const before = termsOf(cluster, 3);
    cluster.core(3).step({
      type: 'append-request',
      from: 1,
      to: 3,
      term: 1,
      prevLogIndex: 1,
      prevLogTerm: 1,
      entries: [{ term: 1, index: 2, kind: 'command', data: encoder.encode('stale') }],
      commit: 2,
      context: 0,
    });
    expect(termsOf(cluster, 3)).toEqual(before);
    cluster.stabilize();
    expect(cluster.core(1).status().role).not.toBe('leader');
  });

  test('R31 a candidate concedes to a leader of its term and adopts its log', () => {
    const cluster = new TestCluster([1, 2, 3], { preVote: false });
    cluster.isolate(1);
    cluster.campaign(1);
    expect(cluster.core(1).status().role).toBe('candidate');
    cluster.campaign(3);
    cluster.heal();
    cluster.propose(3, 'p');
    cluster.tickAll(3);
    expect(cluster.core(1).status()).toMatchObject({ role: 'follower', leaderId: 3 });
    expect(cluster.node(1).applied).toEqual(['p']);
  });

  test('R32 every follower of paper Fig. 7 converges to the leader’s log', () => {
    const leaderLog = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    const followers = [
      [1, 1, 1, 4, 4, 5, 5, 6, 6],
      [1, 1, 1, 4],
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
      [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
      [1, 1, 1, 4, 4, 4, 4],
      [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],
    ];
    for (const log of followers) {
      const cluster = presetCluster({ 1: leaderLog, 2: log, 3: leaderLog }, { 1: 8, 2: 8, 3: 8 });
      cluster.elect(1);
      cluster.tickAll(3);
      const expected = [...leaderLog, cluster.core(1).status().term];
      expect(termsOf(cluster, 2)).toEqual(expected);
    }
  });

  test('R33 stale rejections never move next below match; reordered appends converge', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    for (let i = 0; i < 5; i += 1) cluster.propose(1, `v${i}`);
    cluster.stabilize();
    const match =
      cluster
        .core(1)
        .status()
        .progress?.find((p) => p.id === 2)?.match ?? 0;
    cluster.core(1).step({
      type: 'append-response',
      from: 2,
      to: 1,
      term: cluster.core(1).status().term,
      success: false,
      matchIndex: 0,
      prevLogIndex: 1,
      conflictTerm: null,
      conflictIndex: 1,
      lastLogIndex: 1,
      context: 0,
    });
    const progress = cluster
      .core(1)
      .status()
      .progress?.find((p) => p.id === 2);
    expect(progress?.match).toBe(match);
    expect(progress?.next).toBeGreaterThan(match);
  });

  test('R45 uncommitted bytes are bounded: proposals get a retriable RAFT_BUSY', () => {
    const cluster = new TestCluster([1, 2, 3], { uncommittedBytesMax: 100, checkQuorum: false });
    cluster.elect(1);
    cluster.isolate(1);
    const results = Array.from({ length: 20 }, () => cluster.propose(1, 'x'.repeat(10)));
    const refused = results.filter((r) => !r.ok);
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    const error = refused[0]?.ok === false ? refused[0].error : null;
    expect(error).toMatchObject({ code: 'RAFT_BUSY', retriable: true });
  });

  test('R45 appends in flight to one follower are bounded in replicate state', () => {
    const cluster = new TestCluster([1, 2, 3], { inflightAppendsMax: 3 });
    cluster.elect(1);
    cluster.propose(1, 'warm');
    cluster.stabilize();
    cluster.drop((m) => m.to === 2);
    cluster.sent = [];
    for (let i = 0; i < 20; i += 1) cluster.propose(1, `v${i}`);
    cluster.deliverOnce();
    const toTwo = cluster.sent.filter((m) => m.type === 'append-request' && m.to === 2);
    expect(toTwo.length).toBeLessThanOrEqual(3);
  });

  test('R46 a follower that missed the commit learns it from the next heartbeat', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.drop((m) => m.type === 'append-request' && m.to === 3 && m.entries.length === 0);
    cluster.propose(1, 'a');
    cluster.stabilize();
    expect(cluster.core(3).status().commitIndex).toBeLessThan(2);
    cluster.drop(null);
    cluster.tickAll(1);
    expect(cluster.node(3).applied).toEqual(['a']);
  });

  test('R54 Fig. 8: an old-term entry on a majority is not committed; a new leader may replace it', () => {
    const cluster = figure8Cluster({ checkQuorum: false });
    // S1 leads term 4, but every entry of term 4 is stripped from its appends on the way.
    cluster.rewrite((m) =>
      m.type === 'append-request' ? { ...m, entries: m.entries.filter((e) => e.term !== 4) } : m,
    );
    cluster.elect(1);
    expect(cluster.core(1).status().term).toBe(4);
    cluster.tickAll(3);
    expect(termsOf(cluster, 3)).toEqual([1, 2]); // 2@2 is on S1, S2, S3: a majority...
    expect(cluster.core(1).status().commitIndex).toBe(1); // ...yet not committed (§5.4.2).
    cluster.crash(1);
    cluster.rewrite(null);
    cluster.restart(5);
    for (let i = 0; i < 3 && cluster.core(5).status().role !== 'leader'; i += 1)
      cluster.campaign(5);
    expect(cluster.core(5).status().role).toBe('leader');
    cluster.tickAll(3);
    for (const id of [2, 3, 4, 5]) expect(termsOf(cluster, id).slice(0, 2)).toEqual([1, 3]);
  });

  test('R54 Fig. 8 variant: once a current-term entry commits, the stale node cannot win', () => {
    const cluster = figure8Cluster({});
    cluster.elect(1);
    cluster.tickAll(3);
    expect(cluster.core(1).status().commitIndex).toBe(3);
    cluster.crash(1);
    cluster.restart(5);
    for (let i = 0; i < 5; i += 1) cluster.campaign(5);
    expect(cluster.core(5).status().role).not.toBe('leader');
  });

  test('R56 the leader counts itself toward commit only after persisting its entry', () => {
    const cluster = new TestCluster([1]);
    cluster.elect(1);
    const core = cluster.core(1);
    core.propose(encoder.encode('solo'));
    expect(core.status().commitIndex).toBe(1);
    const ready = core.ready();
    expect(ready.entries.map((e) => e.index)).toEqual([2]);
    expect(ready.committed).toEqual([]);
    core.advance(ready);
    expect(core.status().commitIndex).toBe(2);
  });
});
