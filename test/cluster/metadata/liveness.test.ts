// Goal: liveness off the Raft log, on real processes with the default 6 s session timeout: an
// idle cluster appends nothing to the metadata log; kill -9 of a partition leader is fenced by
// the definite path (its port refuses) well before the session timeout could fire, and acks=all
// writes resume on the new leader within about a second; a 1 s SIGSTOP fences nothing.
// Method: three `rill broker` processes (test/support/cluster/rill-cluster.ts); waits poll
// with deadlines; the idle and SIGSTOP checks watch a fixed window, which is what they assert.
import { afterEach, expect, test } from 'vitest';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

const defaultSessionTimeoutMs = 6_000;
const topic = 'live';
let cluster: RillCluster | null = null;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = null;
});

interface RaftView {
  leaderId: number | null;
  commitIndex: number;
}

/** Three nodes registered and alive, a controller known, the topic led on every partition. */
async function start(partitions: number): Promise<{ c: RillCluster; controller: number }> {
  const c = await RillCluster.start(3, defaultSessionTimeoutMs);
  cluster = c; // afterEach stops it.
  await pollUntil('the topic created', 15_000, async () => {
    const created = await c.post(1, '/v1/topics', {
      name: topic,
      partitions,
      replicationFactor: 3,
      configs: { 'min.insync.replicas': '2' },
    });
    if (created.status === 400) return undefined; // Not every node registered yet.
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return true;
  });
  await pollUntil('every partition led, full ISR, on every node', 15_000, async () => {
    const views = await Promise.all(c.ids.map((id) => c.get(id, `/v1/topics/${topic}`)));
    const ok = views.every(
      (v) =>
        v.status === 200 &&
        (v.body.partitions as { leader: number | null; isr: number[] }[]).every(
          (p) => p.leader !== null && p.isr.length === 3,
        ),
    );
    return ok ? true : undefined;
  });
  const controller = (await c.get(1, '/v1/raft')).body.leaderId as number;
  return { c, controller };
}

async function statusOf(c: RillCluster, asker: number, id: number): Promise<string | undefined> {
  const { body } = await c.get(asker, '/v1/cluster');
  return (body.brokers as { id: number; status: string }[]).find((b) => b.id === id)?.status;
}

test('an idle three-node cluster appends nothing to the Raft log over 10 s', async () => {
  const { c, controller } = await start(3);
  // Let the creation's ISR changes and fetcher start-ups settle: the index stops moving.
  let last = -1;
  const settledIndex = await pollUntil(
    'the commit index to settle for 2 s',
    20_000,
    async () => {
      const { commitIndex } = (await c.get(controller, '/v1/raft')).body as RaftView;
      const settled = commitIndex === last;
      last = commitIndex;
      return settled ? commitIndex : undefined;
    },
    2_000,
  );
  const windowMs = 10_000;
  await new Promise((done) => setTimeout(done, windowMs)); // The observation window itself.
  const after = (await c.get(controller, '/v1/raft')).body as RaftView;
  console.log(`idle ${windowMs} ms: commit index ${settledIndex} → ${after.commitIndex}`);
  expect(after.leaderId).toBe(controller);
  expect(after.commitIndex).toBe(settledIndex);
  for (const id of c.ids) expect(await statusOf(c, controller, id)).toBe('alive');
}, 90_000);

test('kill -9 of a partition leader is fenced by the refused port, far before the session timeout', async () => {
  const { c, controller } = await start(3);
  const { body } = await c.get(controller, `/v1/topics/${topic}`);
  // A partition led by a node other than the controller (the controller's own death is an
  // election, then the new controller's takeover probe).
  const led = (body.partitions as { partition: number; leader: number }[]).find(
    (p) => p.leader !== controller,
  );
  if (led === undefined) throw new Error('the controller leads every partition');
  const leader = led.leader;
  const path = `/v1/topics/${topic}/partitions/${led.partition}/records?acks=all&timeoutMs=5000`;
  const warm = await c.post(leader, path, { records: [{ value: 'before' }] });
  expect(warm.status, JSON.stringify(warm.body)).toBeLessThan(600);
  const killedAt = performance.now();
  await c.kill(leader);
  const fencedMs = await pollUntil(
    'the killed leader fenced',
    15_000,
    async () => {
      const status = await statusOf(c, controller, leader);
      return status === 'fenced' ? performance.now() - killedAt : undefined;
    },
    20,
  );
  // First acks=all write on whichever node leads now (as a client refreshing metadata would).
  const writtenMs = await pollUntil(
    'an acks=all write after failover',
    15_000,
    async () => {
      const view = await c.get(controller, `/v1/topics/${topic}`);
      const now = view.body.partitions[led.partition].leader as number | null;
      if (now === null || now === leader) return undefined;
      const answer = await c.post(now, path, { records: [{ value: 'after' }] });
      return answer.status === 200 ? performance.now() - killedAt : undefined;
    },
    20,
  );
  console.log(
    `kill -9 of leader ${leader}: fenced after ${Math.round(fencedMs)} ms, ` +
      `first acks=all write after ${Math.round(writtenMs)} ms (session timeout ${defaultSessionTimeoutMs} ms)`,
  );
  const log = await c.log(controller);
  expect(log).toContain('fencing a node whose port refuses');
  expect(log).not.toContain('fencing a silent node');
  expect(fencedMs).toBeLessThan(defaultSessionTimeoutMs / 2);
}, 90_000);

test('a 1 s SIGSTOP of a partition leader fences nothing', async () => {
  const { c, controller } = await start(3);
  const paused = c.ids.find((id) => id !== controller) as number;
  c.pause(paused, true);
  await new Promise((done) => setTimeout(done, 1_000)); // The pause itself.
  c.pause(paused, false);
  // Watch past a whole session timeout: a fence would show within it.
  const until = performance.now() + defaultSessionTimeoutMs + 2_000;
  while (performance.now() < until) {
    for (const asker of c.ids.filter((id) => id !== paused)) {
      expect(await statusOf(c, asker, paused)).toBe('alive');
    }
    await new Promise((done) => setTimeout(done, 200));
  }
  expect(await c.log(controller)).not.toContain('fencing');
}, 90_000);
