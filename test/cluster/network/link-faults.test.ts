// Goal (issue 10 item 3): delay and loss on node-to-node links of real processes. Method: three
// nodes whose node-to-node connections all run through a proxy per directed link (link-proxy.ts,
// routed by dial-map.mjs); RF=3, min.insync.replicas=2. A delay on both followers' links to the
// leader must raise the latency of acks=all writes by at least the delay and lose nothing; every
// link of the leader stalled (bytes held, as a lossy network holds them) must move leadership to
// a node the controller still hears, keep acks=all working there, and after the release leave
// every replica with the same records, each acknowledged one among them, and the ISR full again.
// And no node dials a peer directly: every established connection to a node's port from another
// broker's process would show in `ss` (when the machine has it).
import { execFile } from 'node:child_process';
import { loadavg } from 'node:os';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { batchBytesBelow } from '../../support/cluster/log-compare.ts';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

const topic = 'links';
let cluster: RillCluster;
/** offset → value of every acknowledged write, across both tests. */
const acked = new Map<number, string>();

beforeAll(async () => {
  // A 3 s lag allowance: a follower behind a delayed link on a loaded machine stays in the ISR.
  cluster = await RillCluster.start(3, 1_500, 3, ['--replica-lag-time-max-ms', '3000'], null, {
    linkProxies: true,
  });
  const created = await cluster.post(1, '/v1/topics', {
    name: topic,
    partitions: 1,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '2' },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  await pollUntil('every replica in the ISR', 20_000, async () => {
    const views = await Promise.all(cluster.ids.map((id) => view(id)));
    return views.every((p) => p.isr.length === 3 && p.leader !== null) ? true : undefined;
  });
}, 90_000);

afterAll(async () => {
  await cluster?.stopAll();
});

interface View {
  leader: number | null;
  isr: number[];
}

async function view(asker: number): Promise<View> {
  const { status, body } = await cluster.get(asker, `/v1/topics/${topic}?local=true`);
  if (status !== 200) throw new Error(`describe answered ${status}`);
  return body.partitions[0] as View;
}

/** The last refusal write() met, for the failure message. */
let lastRefusal = '';

/** One acks=all write to `leader`; its latency when acknowledged, else null. */
async function write(leader: number, value: string): Promise<number | null> {
  const path = `/v1/topics/${topic}/partitions/0/records?acks=all&timeoutMs=10000`;
  const started = performance.now();
  const answer = await cluster.post(leader, path, { records: [{ value }] });
  if (answer.status !== 200) {
    lastRefusal = `${answer.status} ${JSON.stringify(answer.body)}`;
    return null;
  }
  acked.set(answer.body.baseOffset as number, value);
  return performance.now() - started;
}

async function medianLatency(leader: number, tag: string, count: number): Promise<number> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i += 1) {
    const ms = await write(leader, `${tag}-${i}`);
    expect(ms, `${tag}-${i} not acknowledged: ${lastRefusal}`).not.toBeNull();
    latencies.push(ms as number);
  }
  latencies.sort((a, b) => a - b);
  return latencies[Math.floor(count / 2)] as number;
}

/** Every replica holds the same batches below the HW and every acknowledged record. */
async function expectConverged(): Promise<void> {
  await pollUntil('the ISR full again', 30_000, async () => {
    const views = await Promise.all(cluster.ids.map((id) => view(id)));
    return views.every((p) => p.isr.length === 3) ? true : undefined;
  });
  const leader = (await view(1)).leader as number;
  const answer = await cluster.get(
    leader,
    `/v1/topics/${topic}/partitions/0/records?offset=0&maxBytes=10000000`,
  );
  expect(answer.status).toBe(200);
  const hw = answer.body.highWatermark as number;
  const read = new Map<number, string>(
    (answer.body.records as { offset: number; value: string }[]).map((r) => [r.offset, r.value]),
  );
  for (const [offset, value] of acked) expect(read.get(offset), `offset ${offset}`).toBe(value);
  await pollUntil('replicas identical below the HW', 20_000, async () => {
    const copies = await Promise.all(
      cluster.ids.map((id) => batchBytesBelow(cluster.nodeDataDir(id), topic, 0, hw)),
    );
    return copies.every((copy) => copy.equals(copies[0] as Buffer)) ? true : undefined;
  });
}

/** Established TCP connections as [peer port, owning pid] of the dialing side (`ss -tnpH`). */
async function connections(): Promise<[number, number][] | null> {
  try {
    const { stdout } = await promisify(execFile)('ss', ['-tnpH', 'state', 'established']);
    const rows: [number, number][] = [];
    for (const line of stdout.split('\n')) {
      const match = /\S+:\d+\s+\S+:(\d+)\s+users:.*pid=(\d+)/.exec(line);
      if (match !== null) rows.push([Number(match[1]), Number(match[2])]);
    }
    return rows;
  } catch {
    return null; // No ss here: the proxies' counters below still show each link in use.
  }
}

test('node-to-node connections all go through the link proxies', async () => {
  const links = cluster.links;
  if (links === null) throw new Error('no link proxies');
  // The links that must carry traffic: each follower's fetches to the partition leader, the
  // Raft leader's appends to every other node, and every node's heartbeats to the controller.
  // A link between two nodes that have nothing to say (a follower to another follower once a
  // leader is elected) may stay unused, so it is not waited for.
  const partitionLeader = (await view(1)).leader as number;
  const raftLeader = (await cluster.get(1, '/v1/raft')).body.leaderId as number;
  const needed = cluster.ids.flatMap((id) => [
    ...(id === partitionLeader ? [] : [links.link(id, partitionLeader)]),
    ...(id === raftLeader ? [] : [links.link(raftLeader, id), links.link(id, raftLeader)]),
  ]);
  await pollUntil('every needed directed link used', 20_000, async () =>
    needed.every((proxy) => proxy.stats.accepted > 0) ? true : undefined,
  );
  const rows = await connections();
  if (rows === null) return;
  const brokerPids = new Map(cluster.ids.map((id) => [cluster.pid(id), id]));
  const direct = rows.filter(([port, pid]) => {
    const dialer = brokerPids.get(pid);
    const target = cluster.ids.find((id) => cluster.port(id) === port);
    return dialer !== undefined && target !== undefined && dialer !== target;
  });
  expect(direct, 'a broker connected straight to a peer').toEqual([]);
  expect(rows.some(([, pid]) => brokerPids.has(pid))).toBe(true);
});

test('a delayed link raises acks=all latency by the delay and loses nothing', async () => {
  const links = cluster.links;
  if (links === null) throw new Error('no link proxies');
  const leader = (await view(1)).leader as number;
  const followers = cluster.ids.filter((id) => id !== leader);
  const delayMs = 150;
  const rounds: string[] = [];
  for (let round = 0; round < 3; round += 1) {
    const clean = await medianLatency(leader, `clean-${round}`, 5);
    const shape = { delayMs, jitterMs: 20, bytesPerSecond: null };
    for (const f of followers) links.link(f, leader).setShape(shape);
    const delayed = await medianLatency(leader, `delayed-${round}`, 5);
    await links.healAll();
    rounds.push(`clean=${clean.toFixed(0)} ms delayed=${delayed.toFixed(0)} ms`);
    // The follower's fetch answer and its next fetch (which moves the HW) both wait the delay.
    expect(delayed, rounds.join('; ')).toBeGreaterThanOrEqual(delayMs);
  }
  console.log(`link delay ${delayMs} ms: ${rounds.join('; ')} load=${loadavg()[0]?.toFixed(2)}`);
  await expectConverged();
}, 60_000);

test('every link of the leader stalled: leadership moves, acks=all goes on', async () => {
  const links = cluster.links;
  if (links === null) throw new Error('no link proxies');
  const old = (await view(1)).leader as number;
  const others = cluster.ids.filter((id) => id !== old);
  for (const proxy of links.around(old)) proxy.setStalled(true);
  const next = await pollUntil('a new leader the others agree on', 30_000, async () => {
    const seen = await Promise.all(others.map((id) => view(id)));
    const leader = seen[0]?.leader ?? null;
    const agreed = seen.every((p) => p.leader === leader && !p.isr.includes(old));
    return leader !== null && leader !== old && agreed ? leader : undefined;
  });
  await pollUntil('an acks=all write on the new leader', 20_000, async () =>
    (await write(next, 'during-stall')) === null ? undefined : true,
  );
  for (const proxy of links.around(old)) proxy.setStalled(false);
  console.log(`stalled leader ${old}: leadership moved to ${next}`);
  await write(next, 'after-release');
  await expectConverged();
}, 90_000);
