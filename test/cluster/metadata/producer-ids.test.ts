// Goal: producer ids are unique across nodes and across a controller failover (issue 9): every
// node hands out ids from blocks committed through the Raft metadata log, and a named
// producer's epoch keeps counting after the controller that bumped it dies; a restarted node
// takes a new block (the rest of its old one is lost, not reclaimed: ids stay unique).
// Method: three `rill broker` processes on loopback; POST /v1/producers on every node, kill -9
// of the controller, the same on the survivors, then the killed node restarted and asked;
// every wait polls with a deadline.
import { afterEach, expect, test } from 'vitest';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

let cluster: RillCluster | null = null;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = null;
});

interface Identity {
  producerId: number;
  producerEpoch: number;
}

async function init(c: RillCluster, id: number, body: unknown = {}): Promise<Identity> {
  return pollUntil(`a producer id from node ${id}`, 20_000, async () => {
    const response = await c.post(id, '/v1/producers', body);
    return response.status === 200 ? (response.body as Identity) : undefined;
  });
}

test('ids stay unique and epochs keep counting across a controller failover and a restart', async () => {
  const c = await RillCluster.start(3, 3_000);
  cluster = c;
  const ids: number[] = [];
  for (const node of c.ids)
    for (let i = 0; i < 3; i += 1) ids.push((await init(c, node)).producerId);
  const named = await init(c, 1, { producerName: 'billing' });
  const controller = await pollUntil('a controller', 20_000, async () => {
    const { body } = await c.get(1, '/v1/cluster');
    return (body as { controllerId: number | null }).controllerId ?? undefined;
  });
  await c.kill(controller);
  const survivors = c.ids.filter((id) => id !== controller);
  for (const node of survivors)
    for (let i = 0; i < 3; i += 1) ids.push((await init(c, node)).producerId);
  expect(new Set(ids).size).toBe(ids.length);
  const bumped = await init(c, survivors[0] as number, { producerName: 'billing' });
  expect(bumped).toEqual({ producerId: named.producerId, producerEpoch: named.producerEpoch + 1 });
  expect(ids).not.toContain(named.producerId);
  // The killed node comes back: its old block was in memory only, so it takes a new one and
  // the unused rest of the old block is never handed out (not reclaimed; ids stay unique).
  const before = Math.max(...ids, named.producerId);
  await c.startNode(controller);
  const restarted = [];
  for (let i = 0; i < 3; i += 1) restarted.push((await init(c, controller)).producerId);
  for (const id of restarted) expect(id).toBeGreaterThan(before);
  ids.push(...restarted);
  expect(new Set(ids).size).toBe(ids.length);
}, 120_000);
