// Goal: linearizable reads by ReadIndex (R38, R60), leadership transfer (R40) and single-server
// membership changes (R41, R42, R57–R59) behave as etcd's tests and Ongaro's thesis require.
// Method: scripted runs of the deterministic TestCluster.
import { describe, expect, test } from 'vitest';
import { TestCluster } from '../../support/raft-sim/test-cluster.ts';

function leaderOf(cluster: TestCluster): number {
  const leaders = cluster.leaders();
  expect(leaders).toHaveLength(1);
  return leaders[0] ?? -1;
}

describe('ReadIndex', () => {
  test('R38 the leader answers with its commit index after a quorum heartbeat round', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    for (const v of ['a', 'b']) cluster.propose(1, v);
    cluster.stabilize();
    expect(cluster.core(1).readIndex(7).ok).toBe(true);
    expect(cluster.node(1).readStates).toEqual([]);
    cluster.stabilize();
    expect(cluster.node(1).readStates).toEqual([{ requestId: 7, index: 3 }]);
  });

  test('R38 a new leader defers reads until an entry of its term commits', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.ignore('append-request');
    cluster.elect(1);
    expect(cluster.core(1).readIndex(1).ok).toBe(true);
    cluster.stabilize();
    expect(cluster.node(1).readStates).toEqual([]);
    cluster.heal();
    cluster.tickAll(2);
    expect(cluster.node(1).readStates).toEqual([{ requestId: 1, index: 1 }]);
  });

  test('R38 a follower forwards the read to the leader; without a leader it says not-leader', () => {
    const cluster = new TestCluster([1, 2, 3]);
    const refused = cluster.core(2).readIndex(5);
    expect(refused.ok === false && refused.error.code).toBe('RAFT_NOT_LEADER');
    cluster.elect(1);
    cluster.propose(1, 'a');
    cluster.stabilize();
    expect(cluster.core(2).readIndex(5).ok).toBe(true);
    cluster.stabilize();
    expect(cluster.node(2).readStates).toEqual([{ requestId: 5, index: 2 }]);
  });

  test('R60 a leader cut into a minority never answers a read', () => {
    const cluster = new TestCluster([1, 2, 3, 4, 5]);
    cluster.elect(1);
    for (const id of [3, 4, 5]) cluster.isolate(id);
    cluster.cut(1, 3);
    expect(cluster.core(1).readIndex(9).ok).toBe(true);
    cluster.tickAll(40);
    expect(cluster.node(1).readStates).toEqual([]);
    expect(cluster.core(1).status().role).not.toBe('leader');
  });

  test('forwarded reads are bounded, and lost ones expire after two election timeouts', () => {
    const cluster = new TestCluster([1, 2, 3], { readIndexPendingMax: 2 });
    cluster.elect(1);
    cluster.drop((m) => m.type === 'read-index-request');
    expect(cluster.core(2).readIndex(1).ok).toBe(true);
    expect(cluster.core(2).readIndex(2).ok).toBe(true);
    const busy = cluster.core(2).readIndex(3);
    expect(busy.ok === false && busy.error).toMatchObject({ code: 'RAFT_BUSY', retriable: true });
    cluster.tickAll(2 * cluster.config.electionTimeoutTicks + 1);
    expect(cluster.core(2).readIndex(4).ok).toBe(true);
  });

  test('a single-voter group answers reads at once', () => {
    const cluster = new TestCluster([1]);
    cluster.elect(1);
    cluster.stabilize();
    expect(cluster.core(1).readIndex(3).ok).toBe(true);
    cluster.stabilize();
    expect(cluster.node(1).readStates).toEqual([{ requestId: 3, index: 1 }]);
  });
});

describe('leadership transfer', () => {
  test('R40 to an up-to-date follower: it leads at a higher term', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    const term = cluster.core(1).status().term;
    expect(cluster.core(1).transferLeadership(2).ok).toBe(true);
    cluster.stabilize();
    expect(cluster.core(2).status()).toMatchObject({ role: 'leader', term: term + 1 });
    expect(cluster.core(1).status().role).toBe('follower');
  });

  test('R40 to a lagging follower: it is caught up first, then takes over', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(3);
    for (let i = 0; i < 10; i += 1) cluster.propose(1, `v${i}`);
    cluster.stabilize();
    cluster.heal();
    cluster.core(1).transferLeadership(3);
    cluster.stabilize();
    expect(cluster.core(3).status().role).toBe('leader');
    expect(cluster.core(3).status().lastIndex).toBeGreaterThanOrEqual(11);
  });

  test('R40 to an isolated target: proposals refused meanwhile, aborted after a timeout', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(3);
    expect(cluster.core(1).transferLeadership(3).ok).toBe(true);
    const refused = cluster.propose(1, 'x');
    expect(refused.ok === false && refused.error.code).toBe('RAFT_TRANSFER_IN_PROGRESS');
    expect(refused.ok === false && refused.error.retriable).toBe(true);
    cluster.tick(1, cluster.config.electionTimeoutTicks);
    cluster.stabilize();
    expect(cluster.core(1).status()).toMatchObject({ role: 'leader', transferTarget: null });
    expect(cluster.propose(1, 'y').ok).toBe(true);
  });

  test('R40 to itself is a no-op; to a non-voter is refused; on a follower says not-leader', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    expect(cluster.core(1).transferLeadership(1).ok).toBe(true);
    const bad = cluster.core(1).transferLeadership(9);
    expect(bad.ok === false && bad.error.code).toBe('RAFT_INVALID_TRANSFER');
    const follower = cluster.core(2).transferLeadership(3);
    expect(follower.ok === false && follower.error).toMatchObject({
      code: 'RAFT_NOT_LEADER',
      details: { leaderId: 1 },
    });
  });
});

describe('membership', () => {
  test('R59 add an observer, it catches up, then promote it to voter', () => {
    const cluster = new TestCluster([1, 2, 3], {}, { voters: [1, 2], observers: [] });
    cluster.crash(3);
    cluster.elect(1);
    for (let i = 0; i < 5; i += 1) cluster.propose(1, `v${i}`);
    cluster.stabilize();
    cluster.restart(3);
    expect(cluster.core(1).proposeConfigChange({ type: 'add-observer', nodeId: 3 }).ok).toBe(true);
    cluster.tickAll(3);
    expect(cluster.core(3).status().role).toBe('observer');
    expect(cluster.node(3).applied).toEqual(cluster.node(1).applied);
    expect(cluster.core(1).proposeConfigChange({ type: 'promote-observer', nodeId: 3 }).ok).toBe(
      true,
    );
    cluster.tickAll(3);
    expect(cluster.core(3).status().role).toBe('follower');
    expect(cluster.core(1).status().membership).toEqual({ voters: [1, 2, 3], observers: [] });
  });

  test('R42 one pending change at a time; invalid changes are refused', () => {
    const cluster = new TestCluster([1, 2, 3, 4]);
    cluster.elect(1);
    cluster.isolate(2);
    cluster.isolate(3);
    expect(cluster.core(1).proposeConfigChange({ type: 'remove-voter', nodeId: 4 }).ok).toBe(true);
    const second = cluster.core(1).proposeConfigChange({ type: 'remove-voter', nodeId: 3 });
    expect(second.ok === false && second.error.code).toBe('RAFT_CONFIG_CHANGE_PENDING');
    const invalid = cluster.core(1).proposeConfigChange({ type: 'promote-observer', nodeId: 2 });
    expect(invalid.ok === false && invalid.error.code).toBe('RAFT_CONFIG_CHANGE_PENDING');
    cluster.heal();
    cluster.tickAll(2);
    const bad = cluster.core(1).proposeConfigChange({ type: 'promote-observer', nodeId: 2 });
    expect(bad.ok === false && bad.error).toMatchObject({
      code: 'RAFT_INVALID_CONFIG_CHANGE',
      retriable: false,
    });
  });

  test('R42 a removed leader steps down once the removal commits and cannot campaign', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    expect(cluster.core(1).proposeConfigChange({ type: 'remove-voter', nodeId: 1 }).ok).toBe(true);
    cluster.stabilize();
    expect(cluster.core(1).status().role).toBe('observer');
    cluster.tickAll(40);
    const leader = leaderOf(cluster);
    expect([2, 3]).toContain(leader);
    expect(cluster.core(leader).status().membership.voters).toEqual([2, 3]);
    cluster.tick(1, 50);
    expect(cluster.core(1).status().role).toBe('observer');
  });

  test('R42 a pending proposal commits once a removal lowers the quorum', () => {
    const cluster = new TestCluster([1, 2], { checkQuorum: false });
    cluster.elect(1);
    cluster.isolate(2);
    cluster.propose(1, 'waiting');
    cluster.stabilize();
    expect(cluster.node(1).applied).toEqual([]);
    expect(cluster.core(1).proposeConfigChange({ type: 'remove-voter', nodeId: 2 }).ok).toBe(true);
    cluster.stabilize();
    expect(cluster.node(1).applied).toEqual(['waiting']);
  });

  test('R57 no config entry until the leader committed an entry of its own term', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.ignore('append-response');
    cluster.elect(1);
    const early = cluster.core(1).proposeConfigChange({ type: 'add-observer', nodeId: 9 });
    expect(early.ok === false && early.error.code).toBe('RAFT_CONFIG_CHANGE_PENDING');
    cluster.heal();
    cluster.tickAll(2);
    expect(cluster.core(1).proposeConfigChange({ type: 'add-observer', nodeId: 9 }).ok).toBe(true);
  });

  test('R58 a removed server that times out does not depose the leader', () => {
    const cluster = new TestCluster([1, 2, 3]);
    cluster.elect(1);
    cluster.isolate(3);
    expect(cluster.core(1).proposeConfigChange({ type: 'remove-voter', nodeId: 3 }).ok).toBe(true);
    cluster.tickAll(3);
    const term = cluster.core(1).status().term;
    for (let i = 0; i < 3; i += 1) cluster.campaign(3); // Node 3 still thinks it votes.
    cluster.heal();
    cluster.tickAll(30);
    expect(cluster.core(1).status()).toMatchObject({ role: 'leader', term });
  });

  test('R41 an observer does not count toward the quorum', () => {
    const cluster = new TestCluster(
      [1, 2, 3],
      { checkQuorum: false },
      { voters: [1, 2], observers: [3] },
    );
    cluster.elect(1);
    cluster.isolate(2);
    cluster.propose(1, 'needs-2');
    cluster.tickAll(3);
    expect(cluster.core(1).status().commitIndex).toBe(1);
    expect(cluster.core(3).status().lastIndex).toBe(2);
  });
});
