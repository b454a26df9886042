// Goal: a node started outside the voters (as a broker outside --voters is) joins the metadata
// group through the leader's add-observer entry, applies everything the voters apply, and its
// Raft node keeps running. Regression: such a node used to start with itself already an
// observer, so the add-observer entry did not apply on it alone ("node 4 is already a member"),
// which crashed it when the entry came on the Raft stream (a CI failure of
// test/cluster/metadata/metadata-plane.test.ts). Method: four production RaftMetadataLogs on
// the simulator's ports, three of them voters.
import { expect, test } from 'vitest';
import { simMetadataGroup, simUrl } from '../../support/raft/sim-metadata-group.ts';

test('a node outside the voters joins as an observer and applies what the voters apply', async () => {
  const seed = Number(process.env['SIM_SEED'] ?? Date.now() % 100_000);
  console.log(`observer join seed ${seed}`);
  const { nodes, node, run } = simMetadataGroup(seed, [1, 2, 3], [4]);
  await Promise.all(nodes.map((n) => n.log.start()));
  expect(node(4).log.status()).toMatchObject({ role: 'observer', voters: [1, 2, 3] });
  await run(3_000);
  const leader = nodes.find((n) => n.log.status().role === 'leader');
  if (leader === undefined) throw new Error(`no leader after 3 s (seed ${seed})`);
  const first = leader.log.propose(1);
  await run(500);
  await expect(first).resolves.toMatchObject({ result: 1 });

  const added = leader.log.changeMembership({ type: 'add-observer', nodeId: 4 }, simUrl(4));
  await run(500);
  await expect(added).resolves.toMatchObject({ index: expect.any(Number) });
  const second = leader.log.propose(2);
  await run(1_000);
  await expect(second).resolves.toMatchObject({ result: 2 });

  expect(node(4).machine.applied).toBe(2);
  expect(node(4).log.status()).toMatchObject({
    role: 'observer',
    leaderId: leader.id,
    voters: [1, 2, 3],
  });
  // Still running: a read barrier on the observer goes through the leader and completes.
  const barrier = node(4).log.barrier();
  await run(500);
  await expect(barrier).resolves.toBeUndefined();
  await Promise.all(nodes.map((n) => n.log.stop()));
}, 60_000);
