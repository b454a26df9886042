// Goal: leader election with pre-vote and check-quorum behaves as the MIT 6.824 (R1–R3) and
// etcd paper tests (R26, R29, R34–R37) require. Method: scripted runs of the deterministic
// TestCluster; every delivery checks the node invariants.
import { describe, expect, test } from 'vitest';
import { TestCluster } from '../../support/raft-sim/test-cluster.ts';

function oneLeader(cluster: TestCluster): number {
  const leaders = cluster.leaders();
  expect(leaders).toHaveLength(1);
  return leaders[0] ?? -1;
}

describe('election', () => {
  test('R1 initial election: one leader, all terms equal, stable without faults', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.tickAll(40);
    const leader = oneLeader(cluster);
    const terms = [1, 2, 3].map((id) => cluster.core(id).status().term);
    expect(new Set(terms).size).toBe(1);
    expect(terms[0]).toBeGreaterThanOrEqual(1);
    cluster.tickAll(40);
    expect(oneLeader(cluster)).toBe(leader);
    expect(cluster.core(1).status().term).toBe(terms[0]);
  });

  test('R2 re-election: new leader after loss, old one rejoins quietly, none without quorum', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.tickAll(40);
    const first = oneLeader(cluster);
    cluster.isolate(first);
    cluster.tickAll(40);
    const others = cluster.leaders().filter((id) => id !== first);
    expect(others).toHaveLength(1);
    const second = others[0] ?? -1;
    cluster.heal();
    cluster.tickAll(40);
    expect(oneLeader(cluster)).toBe(second);
    // Leader and one follower gone: the last node alone must not become leader.
    const follower = [1, 2, 3].find((id) => id !== second) ?? -1;
    const lonely = [1, 2, 3].find((id) => id !== second && id !== follower) ?? -1;
    cluster.isolate(second);
    cluster.isolate(follower);
    cluster.tickAll(60);
    expect(cluster.core(lonely).status().role).not.toBe('leader');
    cluster.heal();
    cluster.tickAll(60);
    oneLeader(cluster);
  });

  test('R3 many elections: exactly one leader whenever a majority of 7 is connected', () => {
    const cluster = new TestCluster([1, 2, 3, 4, 5, 6, 7]);
    cluster.tickAll(40);
    const order = [3, 5, 1, 7, 2, 6, 4, 1, 3];
    for (let round = 0; round < 9; round += 1) {
      const out = [order[round] ?? 1, order[(round + 3) % 9] ?? 2, order[(round + 5) % 9] ?? 4];
      for (const id of out) cluster.isolate(id);
      cluster.tickAll(60);
      const leaders = cluster.leaders().filter((id) => !out.includes(id));
      expect(leaders).toHaveLength(1);
      cluster.heal();
      cluster.tickAll(30);
    }
  });

  test('R26 a majority elects; a minority stays pre-candidate at term 0 with pre-vote', () => {
    const cluster = new TestCluster([1, 2, 3, 4, 5]);
    cluster.crash(4);
    cluster.crash(5);
    cluster.elect(1);
    expect(cluster.core(1).status().term).toBe(1);
    const minority = new TestCluster([1, 2, 3, 4, 5]);
    for (const id of [3, 4, 5]) minority.crash(id);
    minority.campaign(1);
    expect(minority.core(1).status()).toMatchObject({ role: 'pre-candidate', term: 0 });
    const noPreVote = new TestCluster([1, 2, 3], { preVote: false });
    noPreVote.crash(2);
    noPreVote.crash(3);
    noPreVote.campaign(1);
    expect(noPreVote.core(1).status()).toMatchObject({ role: 'candidate', term: 1 });
  });

  test('R26 a node with a shorter log loses to longer logs of the same term', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(3);
    cluster.propose(1, 'x');
    cluster.stabilize();
    cluster.heal();
    cluster.crash(1);
    cluster.campaign(3);
    expect(cluster.core(3).status().role).not.toBe('leader');
    cluster.campaign(2);
    expect(cluster.core(2).status().role).toBe('leader');
  });

  test('R29 dueling candidates: with pre-vote the shorter log cannot disrupt', () => {
    for (const preVote of [false, true]) {
      const cluster = new TestCluster([1, 2, 3], { preVote, checkQuorum: false });
      cluster.cut(1, 3);
      cluster.elect(1);
      cluster.campaign(3);
      expect(cluster.core(3).status().role).not.toBe('leader');
      cluster.heal();
      cluster.campaign(3);
      // Node 3's log lacks the leader's noop: it never wins.
      expect(cluster.core(3).status().role).not.toBe('leader');
      const term = cluster.core(1).status().term;
      if (preVote) {
        expect(cluster.core(1).status().role).toBe('leader');
        expect(cluster.core(3).status().term).toBeLessThanOrEqual(term);
      }
    }
  });

  test('R34 leader steps down when it cannot reach a quorum within an election timeout', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(1);
    cluster.tick(1, cluster.config.electionTimeoutTicks * 2 + 1);
    expect(cluster.core(1).status().role).toBe('follower');
  });

  test('R34 voters that heard from a leader refuse votes while in lease', () => {
    const cluster = new TestCluster([1, 2, 3], { preVote: false });
    cluster.elect(1);
    const term = cluster.core(1).status().term;
    cluster.isolate(3);
    cluster.campaign(3); // Raises its term; others ignore it while in lease.
    cluster.heal();
    cluster.stabilize();
    cluster.core(3).tick();
    const again = cluster.core(3);
    for (let i = 0; i < 30 && again.status().role === 'follower'; i += 1) again.tick();
    cluster.stabilize();
    expect(cluster.core(2).status().vote === 3).toBe(false);
    expect(cluster.core(2).status().term).toBeGreaterThanOrEqual(term);
  });

  test('R35 a stuck candidate with a higher term is freed and the group converges', () => {
    const cluster = new TestCluster([1, 2, 3], { preVote: false });
    cluster.elect(1);
    cluster.isolate(3);
    for (let i = 0; i < 3; i += 1) cluster.campaign(3);
    expect(cluster.core(3).status().term).toBeGreaterThan(cluster.core(1).status().term);
    cluster.heal();
    cluster.tickAll(60);
    const leader = oneLeader(cluster);
    const terms = new Set([1, 2, 3].map((id) => cluster.core(id).status().term));
    expect(terms.size).toBe(1);
    expect(leader).toBeGreaterThan(0);
  });

  test('R36 disruptive follower: pre-vote keeps the leader, without it the term rises', () => {
    for (const preVote of [true, false]) {
      const cluster = new TestCluster([1, 2, 3], { preVote, checkQuorum: false });
      cluster.elect(1);
      const term = cluster.core(1).status().term;
      cluster.cut(1, 3);
      cluster.propose(1, 'missed-by-3'); // A log-lagging node never gets pre-votes.
      cluster.stabilize();
      cluster.campaign(3);
      cluster.heal();
      cluster.tick(1); // A heartbeat meets the raised term.
      cluster.stabilize();
      if (preVote) {
        expect(cluster.core(1).status()).toMatchObject({ role: 'leader', term });
        expect(cluster.core(3).status().term).toBe(term);
      } else {
        expect(cluster.core(1).status().term).toBeGreaterThan(term);
      }
    }
  });

  test('R37 an election still completes after split pre-votes', () => {
    const cluster = new TestCluster([1, 2, 3, 4, 5]);
    cluster.tickAll(40);
    const leader = oneLeader(cluster);
    cluster.crash(leader);
    cluster.tickAll(80);
    expect(cluster.leaders()).toHaveLength(1);
  });

  test('R41 an observer never campaigns but grants votes when asked', () => {
    const cluster = new TestCluster([1, 2, 3], {}, { voters: [1, 2], observers: [3] });
    cluster.campaign(3);
    expect(cluster.core(3).status().role).toBe('observer');
    cluster.tick(3, 100);
    expect(cluster.core(3).status().role).toBe('observer');
    cluster.elect(1);
    expect(cluster.core(3).status().leaderId).toBe(1);
  });

  test('R61 a duplicated vote response never counts twice (votes are a set of ids)', () => {
    const cluster = new TestCluster([1, 2, 3, 4, 5], { preVote: false });
    for (const id of [3, 4, 5]) cluster.crash(id);
    cluster.drop((m) => m.type === 'vote-request' && m.to !== 2);
    cluster.campaign(1);
    const core = cluster.core(1);
    const term = core.status().term;
    const vote = {
      type: 'vote-response',
      from: 2,
      to: 1,
      term,
      preVote: false,
      granted: true,
    } as const;
    core.step(vote);
    core.step(vote);
    core.step(vote);
    expect(core.status().role).toBe('candidate');
  });

  test('R62 asymmetric partition: one-way loss does not livelock the group', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.drop((m) => m.from === 3); // 3 hears everyone; nobody hears 3.
    cluster.tickAll(60);
    const leaders = cluster.leaders();
    expect(leaders).toHaveLength(1);
    const leader = leaders[0] ?? -1;
    expect(cluster.propose(leader, 'through').ok).toBe(true);
    cluster.tickAll(3);
    const other = [1, 2].find((id) => id !== leader) ?? -1;
    expect(cluster.node(other).applied).toEqual(['through']);
    // Node 3's acks are lost, so it learns the commit when the stalled append is resent.
    cluster.tickAll(cluster.config.electionTimeoutTicks + 2);
    expect(cluster.node(3).applied).toEqual(['through']);
  });

  test('a crashed leader reported unreachable is replaced within a heartbeat, not a timeout', () => {
    const cluster = new TestCluster([1, 2, 3], { electionTimeoutTicks: 20, heartbeatTicks: 5 });
    cluster.elect(1);
    cluster.tickAll(3);
    cluster.crash(1);
    for (const id of [2, 3]) cluster.core(id).peerUnreachable(1);
    let ticks = 0;
    while (cluster.leaders().filter((id) => id !== 1).length === 0 && ticks < 20) {
      for (const id of [2, 3]) cluster.tick(id);
      cluster.stabilize();
      ticks += 1;
    }
    // An election timeout is at least 20 ticks; the report campaigns within 5 (plus a retry).
    expect(ticks).toBeLessThan(12);
    expect(cluster.leaders().filter((id) => id !== 1)).toHaveLength(1);
  });

  test('a wrong report of a live leader changes no term and no leader', () => {
    const cluster = new TestCluster([1, 2, 3], { electionTimeoutTicks: 20, heartbeatTicks: 5 });
    cluster.elect(1);
    cluster.tickAll(3);
    const term = cluster.core(1).status().term;
    cluster.core(2).peerUnreachable(1);
    cluster.core(2).peerUnreachable(3); // Not its leader: ignored.
    cluster.tickAll(60);
    expect(cluster.leaders()).toEqual([1]);
    for (const id of [1, 2, 3]) expect(cluster.core(id).status().term).toBe(term);
  });
});
