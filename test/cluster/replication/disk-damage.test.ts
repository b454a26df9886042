// Goal (issue 10 item 3): a flipped bit or a torn tail in a segment of a stopped node is
// detected, never served, and refetched from the leader. Method: three real nodes, RF=3,
// min.insync.replicas=2; records acknowledged with acks=all; a follower killed with -9; its
// segment damaged on disk (one bit flipped inside a middle batch, or the last bytes cut); the
// follower restarted. Then it must become byte-identical to the leader below the HW (so it can
// serve nothing else, as a follower or a later leader), back in the ISR, every acknowledged
// record reading back unchanged.
import { open, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import { batchBytesBelow } from '../../support/cluster/log-compare.ts';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

const topic = 'damage';
let cluster: RillCluster | null = null;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = null;
});

interface View {
  leader: number | null;
  isr: number[];
}

async function view(c: RillCluster, asker: number): Promise<View> {
  const { status, body } = await c.get(asker, `/v1/topics/${topic}`);
  if (status !== 200) throw new Error(`describe answered ${status}`);
  return body.partitions[0] as View;
}

async function start(): Promise<RillCluster> {
  const c = await RillCluster.start(3, 1_500, 3, ['--replica-lag-time-max-ms', '1000']);
  await pollUntil('the topic created', 10_000, async () => {
    const created = await c.post(1, '/v1/topics', {
      name: topic,
      partitions: 1,
      replicationFactor: 3,
      configs: { 'min.insync.replicas': '2' },
    });
    return created.status === 201 ? true : undefined;
  });
  await pollUntil('every replica in the ISR', 10_000, async () => {
    const views = await Promise.all(c.ids.map((id) => view(c, id)));
    return views.every((p) => p.isr.length === 3 && p.leader !== null) ? true : undefined;
  });
  return c;
}

/** Forty one-record batches, acks=all; their values by offset. */
async function produceAcked(
  c: RillCluster,
  leader: number,
  tag: string,
): Promise<Map<number, string>> {
  const acked = new Map<number, string>();
  for (let i = 0; i < 40; i += 1) {
    const value = `${tag}-${i}-${'x'.repeat(200)}`;
    const path = `/v1/topics/${topic}/partitions/0/records?acks=all`;
    // A 503 (the replica still opening, or the ISR short) wrote nothing: ask again.
    const answer = await pollUntil(`acks=all write ${tag}-${i}`, 20_000, async () => {
      const sent = await c.post(leader, path, { records: [{ value }] });
      return sent.status === 503 ? undefined : sent;
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    acked.set(answer.body.baseOffset as number, value);
  }
  return acked;
}

async function segmentOf(c: RillCluster, id: number): Promise<string> {
  const dir = join(c.nodeDataDir(id), 'partitions', `${topic}-0`);
  const logs = (await readdir(dir)).filter((name) => name.endsWith('.log')).sort();
  return join(dir, logs[logs.length - 1] ?? '');
}

async function flipBit(path: string, random: SeededRandom): Promise<string> {
  const size = (await stat(path)).size;
  // Somewhere in the middle third: inside a batch that has batches after it.
  const position = Math.floor(size / 3) + random.int(Math.floor(size / 3));
  const file = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, position);
    byte[0] = (byte[0] as number) ^ (1 << random.int(8));
    await file.write(byte, 0, 1, position);
  } finally {
    await file.close();
  }
  return `bit flipped at byte ${position} of ${size}`;
}

async function tearTail(path: string, random: SeededRandom): Promise<string> {
  const size = (await stat(path)).size;
  const cut = 1 + random.int(150);
  await truncate(path, size - cut);
  return `last ${cut} bytes of ${size} cut`;
}

async function readAll(c: RillCluster, id: number): Promise<Map<number, string>> {
  const answer = await c.get(
    id,
    `/v1/topics/${topic}/partitions/0/records?offset=0&maxBytes=10000000`,
  );
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  const records = answer.body.records as { offset: number; value: string }[];
  return new Map(records.map((r) => [r.offset, r.value]));
}

for (const damage of ['flip', 'tear'] as const) {
  test(`a follower's segment with a ${damage === 'flip' ? 'flipped bit' : 'torn tail'} is repaired from the leader, never served`, async () => {
    const seed = Date.now() % 2 ** 31;
    console.log(`disk-damage ${damage} seed=${seed}`);
    const random = new SeededRandom(seed);
    cluster = await start();
    const c = cluster;
    const leader = (await view(c, 1)).leader as number;
    const acked = await produceAcked(c, leader, 'a');
    const follower = c.ids.find((id) => id !== leader) as number;
    await pollUntil('the follower caught up', 10_000, async () => {
      const hw = Math.max(...acked.keys()) + 1;
      const [ours, theirs] = await Promise.all([
        batchBytesBelow(c.nodeDataDir(leader), topic, 0, hw),
        batchBytesBelow(c.nodeDataDir(follower), topic, 0, hw),
      ]);
      return ours.equals(theirs) ? true : undefined;
    });
    await c.kill(follower);
    const segment = await segmentOf(c, follower);
    const what =
      damage === 'flip' ? await flipBit(segment, random) : await tearTail(segment, random);
    console.log(`node ${follower}: ${what}`);
    await c.startNode(follower);
    for (const [offset, value] of await produceAcked(c, leader, 'b')) acked.set(offset, value);
    const hw = Math.max(...acked.keys()) + 1;
    await pollUntil(
      'the damaged follower byte-identical to the leader below the HW',
      30_000,
      async () => {
        const [ours, theirs] = await Promise.all([
          batchBytesBelow(c.nodeDataDir(leader), topic, 0, hw),
          batchBytesBelow(c.nodeDataDir(follower), topic, 0, hw),
        ]);
        return ours.equals(theirs) ? true : undefined;
      },
    );
    await pollUntil('the repaired follower back in the ISR', 20_000, async () =>
      (await view(c, leader)).isr.includes(follower) ? true : undefined,
    );
    // Byte-identical below the HW: whatever the repaired node serves as a follower or a future
    // leader is what the leader serves now, every acknowledged record unchanged.
    const read = await readAll(c, leader);
    for (const [offset, value] of acked) expect(read.get(offset), `offset ${offset}`).toBe(value);
  }, 150_000);
}
