// Real network partitions (issue 10 item 3): three nodes, each in a network namespace of its
// own, the test process reaching all of them over a bridge. Cutting the partition leader off
// from the other two nodes (the kernel drops the packets) must move leadership to the majority
// side, keep acks=all writes working there, never acknowledge an acks=all write on the
// isolated side, and after the heal leave every replica with the same records, every
// acknowledged one among them. Skipped where namespaces cannot be made (not root, no iproute2).
import { afterEach, describe, expect, it } from 'vitest';
import { batchBytesBelow } from '../../support/cluster/log-compare.ts';
import { NetnsNetwork } from '../../support/cluster/netns.ts';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

const canPartition = await NetnsNetwork.available();
let cluster: RillCluster | null = null;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = null;
});

interface Produced {
  readonly status: number;
  readonly offset: number | null;
}

async function produce(c: RillCluster, id: number, value: string, timeoutMs: number) {
  const path = `/v1/topics/cut/partitions/0/records?acks=all&timeoutMs=${timeoutMs}`;
  const answer = await c.post(id, path, { records: [{ value }] });
  const offset = answer.body?.baseOffset ?? null;
  return { status: answer.status, offset: typeof offset === 'number' ? offset : null };
}

async function leaderSeenBy(c: RillCluster, id: number): Promise<number | null> {
  const answer = await c.get(id, '/v1/topics/cut?local=true');
  return answer.body?.partitions?.[0]?.leader ?? null;
}

/** The records below the HW, read from the leader, as `offset:value`. */
async function readAll(c: RillCluster, leader: number): Promise<{ hw: number; records: string[] }> {
  const answer = await c.get(leader, '/v1/topics/cut/partitions/0/records?offset=0');
  if (answer.status !== 200) throw new Error(`fetch: ${JSON.stringify(answer.body)}`);
  const records = (answer.body.records ?? []) as { offset: number; value: string }[];
  return { hw: answer.body.highWatermark, records: records.map((r) => `${r.offset}:${r.value}`) };
}

describe.skipIf(!canPartition)('a partition leader cut off by the network', () => {
  it('loses leadership; acks=all works on the majority side and never on the cut side', async () => {
    const network = await NetnsNetwork.create([1, 2, 3]);
    cluster = await RillCluster.start(3, 1_500, 3, [], network);
    const c = cluster;
    const created = await c.post(1, '/v1/topics', {
      name: 'cut',
      partitions: 1,
      replicationFactor: 3,
      configs: { 'min.insync.replicas': '2' },
    });
    expect(created.status).toBe(201);
    const acked: string[] = [];
    const before = await pollUntil('a first acks=all write', 20_000, async () => {
      const leader = await leaderSeenBy(c, 1);
      if (leader === null) return undefined;
      const answer = await produce(c, leader, 'before', 2_000);
      return answer.status === 200 ? { leader, answer } : undefined;
    });
    acked.push(`${before.answer.offset}:before`);
    const old = before.leader;
    const others = c.ids.filter((id) => id !== old);

    await network.isolate(old);
    // The cut side: its acks=all write cannot reach min.insync.replicas=2 and must not succeed.
    const cutSide: Promise<Produced> = produce(c, old, 'cut-side', 4_000);
    const next = await pollUntil('a new leader on the majority side', 30_000, async () => {
      const leader = await leaderSeenBy(c, others[0] ?? 0);
      return leader !== null && leader !== old ? leader : undefined;
    });
    const after = await pollUntil('an acks=all write on the majority side', 20_000, async () => {
      const answer = await produce(c, next, 'majority', 2_000);
      return answer.status === 200 ? answer : undefined;
    });
    acked.push(`${after.offset}:majority`);
    const cut = await cutSide;
    expect(cut.status, 'the isolated leader acknowledged an acks=all write').not.toBe(200);

    await network.heal();
    const { hw, records } = await readAll(c, next);
    for (const record of acked) expect(records).toContain(record);
    expect(records.some((r) => r.endsWith(':cut-side'))).toBe(false);
    // Whatever the cut side appended but never acknowledged is truncated away on every replica:
    // below the HW the three logs become byte-identical.
    await pollUntil('every replica holds the same batches below the HW', 30_000, async () => {
      const logs = await Promise.all(
        c.ids.map((id) => batchBytesBelow(c.nodeDataDir(id), 'cut', 0, hw)),
      );
      return logs.every((log) => log.equals(logs[0] as Buffer)) ? true : undefined;
    });
  }, 120_000);
});
