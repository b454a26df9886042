// Goal: an idle Raft group costs no disk: with nothing proposed, the leader's heartbeat rounds
// and the followers' answers persist nothing (commit-only hard-state changes are not written),
// while heartbeats keep flowing. Method: three production RaftMetadataLogs on the simulator's
// ports (SimRaftStorage counts the writes that reach its disk, as LevelRaftStorage counts its
// synced batches), stepped on virtual time with microtasks drained after every step.
import { expect, test } from 'vitest';
import { raftMetadataLogDefaults } from '../../../src/raft/index.ts';
import { simMetadataGroup } from '../../support/raft/sim-metadata-group.ts';

test('an idle three-voter group writes nothing to storage while heartbeats flow', async () => {
  const seed = Number(process.env['SIM_SEED'] ?? Date.now() % 100_000);
  console.log(`idle group seed ${seed}`);
  const { nodes, run } = simMetadataGroup(seed, [1, 2, 3]);
  await Promise.all(nodes.map((node) => node.log.start()));
  await run(3_000);
  const leader = nodes.find((node) => node.log.status().role === 'leader');
  if (leader === undefined) throw new Error(`no leader after 3 s (seed ${seed})`);
  const proposed = leader.log.propose(7);
  await run(500);
  await expect(proposed).resolves.toMatchObject({ result: 1 });
  await run(500);
  expect(nodes.map((node) => node.machine.applied)).toEqual([1, 1, 1]);

  const writesBefore = nodes.map((node) => node.storage.writes);
  const commitBefore = nodes.map((node) => node.log.status().commitIndex);
  const sentBefore = leader.log.counters().driver?.sentMessages ?? 0;
  const ticks = 400; // 20 s of heartbeats at the default 50 ms tick.
  await run(ticks * raftMetadataLogDefaults.tickMs);

  expect(nodes.map((node) => node.storage.writes)).toEqual(writesBefore);
  expect(nodes.map((node) => node.log.status().commitIndex)).toEqual(commitBefore);
  expect(nodes.every((node) => node.log.status().leaderId === leader.id)).toBe(true);
  // The group was alive: the leader heartbeat both followers all along.
  const heartbeats = (leader.log.counters().driver?.sentMessages ?? 0) - sentBefore;
  const expected = (2 * ticks) / raftMetadataLogDefaults.heartbeatTicks;
  expect(heartbeats).toBeGreaterThanOrEqual(expected * 0.9);
  await Promise.all(nodes.map((node) => node.log.stop()));
}, 60_000);
