// Goal: the metadata plane of a real three-node cluster — one controller (the Raft leader), every
// node registered and answering the same image, admin routes working on any node, failover of
// the controller and of partition leaders, fencing by session timeout and re-registration.
// Method: three `rill broker` processes on loopback (test/support/cluster/rill-cluster.ts) with
// a 3 s session timeout; every wait polls with a deadline, never sleeps for correctness.
import { afterEach, expect, test } from 'vitest';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

// Long enough that a loaded CI machine does not fence a healthy node; fencing tests wait longer.
const sessionTimeoutMs = 3_000;
let cluster: RillCluster | null = null;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = null;
});

interface Broker {
  id: number;
  url: string;
  status: 'alive' | 'fenced';
}
interface Partition {
  partition: number;
  leader: number | null;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

async function controllerOf(c: RillCluster, asker: number): Promise<number | undefined> {
  const { body } = await c.get(asker, '/v1/cluster');
  return (body as { controllerId: number | null }).controllerId ?? undefined;
}

async function brokerStatus(c: RillCluster, asker: number, id: number) {
  const { body } = await c.get(asker, '/v1/cluster');
  return (body.brokers as Broker[]).find((b) => b.id === id)?.status;
}

/** The topic's partitions as `asker` describes them, once its image knows the topic. */
async function partitions(c: RillCluster, asker: number, topic: string): Promise<Partition[]> {
  const body = await pollUntil(`${topic} known to node ${asker}`, 15_000, async () => {
    const response = await c.get(asker, `/v1/topics/${topic}`);
    return response.status === 200 ? response.body : undefined;
  });
  return (body.partitions as Partition[]).map(
    ({ partition, leader, leaderEpoch, replicas, isr }) => ({
      partition,
      leader,
      leaderEpoch,
      replicas,
      isr,
    }),
  );
}

/** Reads are local, so nodes agree a moment apart: the partitions once `a` and `b` agree. */
async function agreed(c: RillCluster, a: number, b: number, topic: string): Promise<Partition[]> {
  return pollUntil(`nodes ${a} and ${b} to agree on ${topic}`, 15_000, async () => {
    const [onA, onB] = [await partitions(c, a, topic), await partitions(c, b, topic)];
    return JSON.stringify(onA) === JSON.stringify(onB) ? onA : undefined;
  });
}

test('three nodes elect one controller, register, and serve one image from any node', async () => {
  cluster = await RillCluster.start(3, sessionTimeoutMs);
  const c = cluster;
  const controller = await pollUntil('every node to name the same controller', 15_000, async () => {
    const ids = await Promise.all(c.ids.map((id) => controllerOf(c, id)));
    return ids.every((id) => id !== undefined && id === ids[0]) ? ids[0] : undefined;
  });
  expect(c.ids).toContain(controller);
  const expected = c.ids.map((id) => ({ id, url: c.url(id), status: 'alive' }));
  // Reads are local: a node may apply the last registrations a moment after its own.
  await pollUntil('every broker alive in node 1 image', 15_000, async () => {
    const { body } = await c.get(1, '/v1/cluster');
    return JSON.stringify(body.brokers) === JSON.stringify(expected) ? true : undefined;
  });
  for (const id of c.ids) expect((await c.get(id, '/readyz')).status).toBe(200);
  const raft = await c.get(2, '/v1/raft');
  expect(raft.body.voters).toEqual([1, 2, 3]);
  expect(raft.body.leaderId).toBe(controller);

  const created = await c.post(2, '/v1/topics', {
    name: 'orders',
    partitions: 6,
    replicationFactor: 3,
  });
  expect(created.body).toMatchObject({ name: 'orders' });
  expect(created.status).toBe(201);
  const onNode2 = await partitions(c, 2, 'orders');
  expect(onNode2).toHaveLength(6);
  for (const p of onNode2) expect([...p.replicas].sort()).toEqual([1, 2, 3]);
  // Leaders are spread over the nodes.
  expect(new Set(onNode2.map((p) => p.leader)).size).toBe(3);
  // Node 3 answers from its own image, which already holds the topic (forwarding waits for it).
  expect(await agreed(c, 3, 2, 'orders')).toEqual(onNode2);
  const dup = await c.post(3, '/v1/topics', {
    name: 'orders',
    partitions: 1,
    replicationFactor: 1,
  });
  expect(dup.status).toBe(409);
});

test('kill -9 the controller: a new one within seconds, metadata intact, admin still works', async () => {
  cluster = await RillCluster.start(3, sessionTimeoutMs);
  const c = cluster;
  expect(
    (await c.post(1, '/v1/topics', { name: 'a', partitions: 3, replicationFactor: 3 })).status,
  ).toBe(201);
  const before = await partitions(c, 1, 'a');
  const old = (await controllerOf(c, 1))!;
  const survivors = c.ids.filter((id) => id !== old);
  const killedAt = performance.now();
  await c.kill(old);
  const next = await pollUntil('a new controller', 15_000, async () => {
    const ids = await Promise.all(survivors.map((id) => controllerOf(c, id)));
    return ids[0] !== undefined && ids[0] !== old && ids[0] === ids[1] ? ids[0] : undefined;
  });
  expect(survivors).toContain(next);
  expect(performance.now() - killedAt).toBeLessThan(5_000);
  // The image survived; only the dead node's leaderships may have moved.
  const after = await partitions(c, survivors[0]!, 'a');
  expect(after.map((p) => p.replicas)).toEqual(before.map((p) => p.replicas));
  const createdAfter = await pollUntil('a topic created after failover', 15_000, async () => {
    const response = await c.post(survivors[1]!, '/v1/topics', {
      name: 'b',
      partitions: 2,
      replicationFactor: 2,
    });
    return response.status === 201 ? response : undefined;
  });
  expect(createdAfter.body.name).toBe('b');
  await agreed(c, survivors[0]!, survivors[1]!, 'b');
});

test('kill -9 a partition leader: fenced, new leaders from the ISR, re-registers on restart', async () => {
  cluster = await RillCluster.start(3, sessionTimeoutMs);
  const c = cluster;
  expect(
    (await c.post(1, '/v1/topics', { name: 'f', partitions: 6, replicationFactor: 3 })).status,
  ).toBe(201);
  const controller = (await controllerOf(c, 1))!;
  // A partition leader that is not the controller, so only the data path fails over here.
  const victim = c.ids.find((id) => id !== controller)!;
  const observer = c.ids.find((id) => id !== victim)!;
  const before = await partitions(c, observer, 'f');
  const led = before.filter((p) => p.leader === victim);
  expect(led.length).toBeGreaterThan(0);
  await c.kill(victim);

  await pollUntil('the victim fenced', 15_000, async () =>
    (await brokerStatus(c, observer, victim)) === 'fenced' ? true : undefined,
  );
  const moved = await pollUntil('new leaders for the victim partitions', 15_000, async () => {
    const now = await partitions(c, observer, 'f');
    return now.every((p) => p.leader !== victim) ? now : undefined;
  });
  for (const old of led) {
    const now = moved[old.partition]!;
    expect(old.isr).toContain(now.leader);
    expect(now.leaderEpoch).toBeGreaterThan(old.leaderEpoch);
    expect(now.isr).not.toContain(victim);
  }
  // Partitions the victim did not lead keep their leader and epoch.
  for (const old of before.filter((p) => p.leader !== victim)) {
    expect(moved[old.partition]!.leader).toBe(old.leader);
    expect(moved[old.partition]!.leaderEpoch).toBe(old.leaderEpoch);
  }

  await c.startNode(victim);
  await pollUntil('the victim alive again', 15_000, async () =>
    (await brokerStatus(c, observer, victim)) === 'alive' ? true : undefined,
  );
  expect((await c.get(victim, '/readyz')).status).toBe(200);
  const epochs = [...(await c.log(victim)).matchAll(/"brokerEpoch":(\d+),"msg":"registered"/g)];
  expect(epochs).toHaveLength(2);
  expect(Number(epochs[1]![1])).toBeGreaterThan(Number(epochs[0]![1]));
  await agreed(c, victim, observer, 'f');
});

test('SIGTERM moves leadership away before the node exits (controlled shutdown)', async () => {
  cluster = await RillCluster.start(3, sessionTimeoutMs);
  const c = cluster;
  expect(
    (await c.post(1, '/v1/topics', { name: 's', partitions: 6, replicationFactor: 3 })).status,
  ).toBe(201);
  const controller = (await controllerOf(c, 1))!;
  const leaving = c.ids.find((id) => id !== controller)!;
  const before = await partitions(c, controller, 's');
  expect(before.some((p) => p.leader === leaving)).toBe(true);
  expect(await c.terminate(leaving)).toBe(0);
  // Moved before it exited: no session timeout was needed.
  const after = await partitions(c, controller, 's');
  expect(after.every((p) => p.leader !== leaving)).toBe(true);
  expect(await brokerStatus(c, controller, leaving)).toBe('fenced');
  expect(await c.log(leaving)).toContain('"moved":true');
});

test('a node outside --voters joins as an observer and serves the same image', async () => {
  cluster = await RillCluster.start(4, sessionTimeoutMs, 3);
  const c = cluster;
  const raft = await c.get(4, '/v1/raft');
  expect(raft.body).toMatchObject({ nodeId: 4, role: 'observer', voters: [1, 2, 3] });
  // Reads are local: the observer may apply the last registrations a moment after its own.
  await pollUntil('four alive brokers on the observer', 15_000, async () => {
    const { body } = await c.get(4, '/v1/cluster');
    const statuses = body.brokers.map((b: Broker) => b.status).join(',');
    return statuses === 'alive,alive,alive,alive' ? true : undefined;
  });
  // An admin request on the observer is forwarded to the controller.
  const created = await c.post(4, '/v1/topics', { name: 'o', partitions: 4, replicationFactor: 4 });
  expect(created.status).toBe(201);
  await agreed(c, 1, 4, 'o');
  expect((await c.get(4, '/readyz')).status).toBe(200);
});

test('a reassignment moves a partition off its leader onto a subset of its replicas', async () => {
  cluster = await RillCluster.start(3, sessionTimeoutMs);
  const c = cluster;
  expect(
    (await c.post(2, '/v1/topics', { name: 'r', partitions: 1, replicationFactor: 3 })).status,
  ).toBe(201);
  // Node 3 answers the reassignment from its own image: wait until it has applied the topic.
  const [before] = await agreed(c, 1, 3, 'r');
  const target = before!.replicas.filter((id) => id !== before!.leader).reverse();
  const started = await c.post(3, '/v1/topics/r/partitions/0/reassignment', { replicas: target });
  expect(started.status).toBe(202);
  expect(started.body.targetReplicas).toEqual(target);
  const done = await pollUntil('the reassignment to finish', 15_000, async () => {
    const { body } = await c.get(1, '/v1/topics/r');
    const p = body.partitions[0];
    return p.targetReplicas === undefined && p.replicas.length === 2 ? p : undefined;
  });
  expect(done.replicas).toEqual(target);
  expect(target).toContain(done.leader);
  expect(done.leaderEpoch).toBeGreaterThan(before!.leaderEpoch);
  const bad = await c.post(1, '/v1/topics/r/partitions/0/reassignment', { replicas: [9] });
  expect(bad.status).toBe(400);
});
