// Goal: durable state survives restarts (MIT R14–R16, R55) and snapshots bound the log while a
// lagging follower catches up through InstallSnapshot (R44); the Ready contract puts hard state
// and entries before the messages that depend on them. Method: the deterministic TestCluster,
// whose MemoryStorage keeps only what Readies persisted.
import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import { RaftCore, emptyRestoredState, raftCoreDefaults } from '../../../src/raft/index.ts';
import { TestCluster } from '../../support/raft-sim/test-cluster.ts';

function leaderOf(cluster: TestCluster): number {
  const leaders = cluster.leaders();
  expect(leaders).toHaveLength(1);
  return leaders[0] ?? -1;
}

describe('persistence', () => {
  test('R14 committed entries survive full and partial restarts', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.tickAll(30);
    cluster.propose(leaderOf(cluster), 'a');
    cluster.tickAll(2);
    for (const id of [1, 2, 3]) cluster.crash(id);
    for (const id of [1, 2, 3]) cluster.restart(id);
    cluster.tickAll(40);
    cluster.propose(leaderOf(cluster), 'b');
    cluster.tickAll(2);
    for (const id of [1, 2, 3]) expect(cluster.node(id).applied).toEqual(['a', 'b']);
    const leader = leaderOf(cluster);
    cluster.crash(leader);
    cluster.tickAll(40);
    cluster.propose(leaderOf(cluster), 'c');
    cluster.tickAll(2);
    cluster.restart(leader);
    cluster.tickAll(5);
    expect(cluster.node(leader).applied).toEqual(['a', 'b', 'c']);
  });

  test('R15 quorums of restarted nodes still hold every committed entry', () => {
    const cluster = new TestCluster([1, 2, 3, 4, 5]);
    cluster.tickAll(30);
    const committed: string[] = [];
    for (let round = 0; round < 5; round += 1) {
      const leader = leaderOf(cluster);
      const down = [1, 2, 3, 4, 5].filter((id) => id !== leader).slice(0, 2);
      for (const id of down) cluster.crash(id);
      cluster.propose(leader, `r${round}`);
      committed.push(`r${round}`);
      cluster.tickAll(2);
      const live = [1, 2, 3, 4, 5].filter((id) => !down.includes(id));
      for (const id of live) cluster.crash(id);
      for (const id of [...down, live[0] ?? 1]) cluster.restart(id);
      cluster.tickAll(60);
      for (const id of live.slice(1)) cluster.restart(id);
      cluster.tickAll(30);
    }
    cluster.propose(leaderOf(cluster), 'end');
    cluster.tickAll(3);
    for (const id of [1, 2, 3, 4, 5])
      expect(cluster.node(id).applied).toEqual([...committed, 'end']);
  });

  test('R16 a restarted node with a longer log is needed; the stale node cannot win alone', () => {
    const cluster = new TestCluster([1, 2, 3], { checkQuorum: false });
    cluster.elect(1);
    cluster.isolate(3);
    cluster.propose(1, 'x');
    cluster.stabilize();
    cluster.tickAll(1);
    cluster.crash(1);
    cluster.crash(2);
    cluster.heal();
    for (let i = 0; i < 3; i += 1) cluster.campaign(3);
    expect(cluster.core(3).status().role).not.toBe('leader');
    cluster.restart(2);
    cluster.tickAll(60);
    const leader = leaderOf(cluster);
    expect(leader).toBe(2);
    cluster.propose(2, 'y');
    cluster.tickAll(3);
    expect(cluster.node(3).applied).toEqual(['x', 'y']);
  });

  test('R55 a vote survives a restart: no second vote in the same term', () => {
    const cluster = new TestCluster([1, 2, 3], { preVote: false, checkQuorum: false });
    cluster.isolate(2);
    cluster.campaign(1); // 3 votes for 1 in term 1 (2 is cut off).
    expect(cluster.core(3).status()).toMatchObject({ term: 1, vote: 1 });
    cluster.crash(3);
    cluster.restart(3);
    expect(cluster.core(3).status()).toMatchObject({ term: 1, vote: 1 });
    cluster.core(3).step({
      type: 'vote-request',
      from: 2,
      to: 3,
      term: 1,
      preVote: false,
      lastLogIndex: 5,
      lastLogTerm: 1,
      transfer: false,
    });
    const ready = cluster.core(3).ready();
    const answer = ready.messages.find((m) => m.type === 'vote-response');
    expect(answer).toMatchObject({ granted: false });
  });

  test('Ready puts the vote in the hard state of the Ready whose messages announce it', () => {
    const config = {
      ...raftCoreDefaults,
      id: 2,
      initialMembership: { voters: [1, 2, 3], observers: [] },
    };
    const core = new RaftCore(config, {
      random: new SeededRandom(1),
      restored: emptyRestoredState(),
    });
    core.step({
      type: 'vote-request',
      from: 1,
      to: 2,
      term: 1,
      preVote: false,
      lastLogIndex: 0,
      lastLogTerm: 0,
      transfer: false,
    });
    const ready = core.ready();
    expect(ready.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(ready.messages).toEqual([
      expect.objectContaining({ type: 'vote-response', granted: true }),
    ]);
    expect(core.hasReady()).toBe(false);
    core.advance(ready);
    expect(core.hasReady()).toBe(false);
  });
});

describe('snapshots', () => {
  test('R44 a follower behind the first index gets a snapshot, restores it and catches up', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.crash(3);
    for (let i = 0; i < 20; i += 1) cluster.propose(1, `v${i}`);
    cluster.tickAll(2);
    const snapshot = cluster.compact(1);
    expect(snapshot.meta.index).toBe(21);
    expect(cluster.core(1).status().firstIndex).toBe(22);
    cluster.propose(1, 'after');
    cluster.tickAll(2);
    cluster.restart(3);
    cluster.tickAll(cluster.config.electionTimeoutTicks + 5); // The first snapshot was lost.
    const three = cluster.node(3);
    expect(three.core.status().snapshotIndex).toBe(21);
    expect(three.storage.snapshot?.meta.index).toBe(21);
    expect(three.machine.appliedIndex).toBe(cluster.node(1).machine.appliedIndex);
    expect(three.machine.hash).toBe(cluster.node(1).machine.hash);
    expect(three.applied).toEqual(['after']);
  });

  test('R44 a lost snapshot is resent after an election timeout; match never regresses', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.crash(3);
    for (let i = 0; i < 5; i += 1) cluster.propose(1, `v${i}`);
    cluster.tickAll(2);
    cluster.compact(1);
    cluster.restart(3);
    cluster.drop((m) => m.type === 'snapshot-request');
    cluster.tickAll(3);
    expect(
      cluster
        .core(1)
        .status()
        .progress?.find((p) => p.id === 3)?.state,
    ).toBe('snapshot');
    cluster.drop(null);
    cluster.tickAll(cluster.config.electionTimeoutTicks + 2);
    expect(cluster.core(3).status().snapshotIndex).toBe(6);
    expect(
      cluster
        .core(1)
        .status()
        .progress?.find((p) => p.id === 3)?.match,
    ).toBe(6);
  });

  test('a restarted node restores its own snapshot and replays only later entries', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    for (let i = 0; i < 5; i += 1) cluster.propose(1, `v${i}`);
    cluster.tickAll(2);
    cluster.compact(2);
    cluster.propose(1, 'late');
    cluster.tickAll(2);
    cluster.crash(2);
    cluster.restart(2);
    cluster.tickAll(3);
    expect(cluster.node(2).applied).toEqual(['late']);
    expect(cluster.node(2).machine.hash).toBe(cluster.node(1).machine.hash);
  });
});
