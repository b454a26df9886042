// Goal: consumer groups work end to end with real processes — queue mode (three `rill consume
// --group g` members split the partitions and together print every record exactly once when
// nothing fails), publish-subscribe (a second group gets every record), resume from committed
// offsets after every member stopped with Ctrl-C, and kill -9 of a member: its partitions move
// within the session timeout and no record is lost (at-least-once). Method: a three-node
// cluster of `rill broker` processes, members as `rill consume --group … --json` children,
// the group observed through GET /v1/groups/{group}.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { RillClient } from '../../src/api/client/index.ts';
import { ConsumeMember, deliveries } from '../support/cluster/consume-member.ts';
import { RillCluster } from '../support/cluster/rill-cluster.ts';
import { pollUntil } from '../support/poll.ts';

const topic = 'orders';
const partitionCount = 6;
/** The brokers' default group.consumer.session.timeout.ms (docs/api.md). */
const groupSessionTimeoutMs = 10_000;
let cluster: RillCluster;
let client: RillClient;
let bootstrap: string;
let produced = 0;
const members: ConsumeMember[] = [];

beforeAll(async () => {
  cluster = await RillCluster.start(3, 3_000);
  bootstrap = cluster.ids.map((id) => cluster.url(id)).join(',');
  client = new RillClient({ bootstrapUrls: bootstrap.split(',') });
  await client
    .admin()
    .createTopic({ name: topic, partitions: partitionCount, replicationFactor: 3 });
});

afterAll(async () => {
  await Promise.all(members.map((m) => m.kill()));
  await client?.close();
  await cluster?.stopAll();
});

/** Produces `count` records, spread evenly over the partitions, acks=all. */
async function produce(count: number): Promise<void> {
  const producer = client.producer({ acks: 'all' });
  const sends = Array.from({ length: count }, (_, i) => {
    const n = produced + i;
    return producer.send({ topic, partition: n % partitionCount, value: `order-${n}` });
  });
  await Promise.all(sends);
  await producer.close();
  produced += count;
}

interface GroupView {
  state: string;
  members: { memberId: string; assignment: { topic: string; partitions: number[] }[] }[];
  offsets: { partition: number; owner: string | null; committedOffset: number | null }[];
}

async function describe(group: string): Promise<GroupView> {
  const response = await cluster.get(1, `/v1/groups/${group}`);
  if (response.status !== 200) throw new Error(`describe ${group}: ${response.status}`);
  return response.body as GroupView;
}

/** Waits until `count` members each own partitionCount / count partitions, all owned once. */
async function awaitSplit(group: string, count: number, timeoutMs = 30_000): Promise<GroupView> {
  return pollUntil(`group ${group} split over ${count} members`, timeoutMs, async () => {
    const view = await describe(group);
    const owned = view.members.map((m) => m.assignment.flatMap((a) => a.partitions));
    const all = owned.flat();
    const even = owned.every((list) => list.length === partitionCount / count);
    const whole = all.length === partitionCount && new Set(all).size === partitionCount;
    return view.members.length === count && even && whole ? view : undefined;
  });
}

function start(group: string, extra?: readonly string[]): ConsumeMember {
  const member = new ConsumeMember(bootstrap, topic, group, extra);
  members.push(member);
  return member;
}

test('queue: three members split the partitions and print each record once', async () => {
  const queue = [start('g'), start('g'), start('g')];
  await awaitSplit('g', 3);
  await produce(300);
  await pollUntil('300 records printed by the group', 30_000, () =>
    deliveries(queue).size === 300 ? true : undefined,
  );
  const counts = deliveries(queue);
  expect([...counts.values()].every((n) => n === 1)).toBe(true);
  // Each partition went to one member, and every member had some.
  const sets = queue.map((m) => m.partitions());
  expect(sets.every((s) => s.size === 2)).toBe(true);
  expect(new Set(sets.flatMap((s) => [...s])).size).toBe(partitionCount);
});

test('publish-subscribe: another group receives every record too', async () => {
  const other = start('h', ['--from-beginning', '--max-messages', '300']);
  expect(await other.exited, other.stderr).toBe(0);
  expect(new Set(other.records.map((r) => r.value)).size).toBe(300);
});

test('resume: members stopped with Ctrl-C commit; a restarted one reads only what is new', async () => {
  const queue = members.slice(0, 3);
  const codes = await Promise.all(queue.map((m) => m.interrupt()));
  expect(codes).toEqual([0, 0, 0]);
  const view = await describe('g');
  expect(view.members).toEqual([]);
  const committed = [...view.offsets].sort((a, b) => a.partition - b.partition);
  expect(committed.map((o) => o.committedOffset)).toEqual(Array(partitionCount).fill(50));
  await produce(60);
  const resumed = start('g');
  await pollUntil('the 60 new records', 30_000, () =>
    resumed.records.length >= 60 ? true : undefined,
  );
  expect(resumed.records.every((r) => r.offset >= 50)).toBe(true);
  expect(new Set(resumed.records.map((r) => r.value)).size).toBe(60);
});

test('kill -9 of a member: its partitions move within the session timeout, none lost', async () => {
  const live = [members.at(-1) as ConsumeMember, start('g'), start('g')];
  await awaitSplit('g', 3);
  await live[2]?.kill();
  const killedAtMs = performance.now();
  await produce(60);
  await awaitSplit('g', 2, groupSessionTimeoutMs + 15_000);
  const movedMs = performance.now() - killedAtMs;
  console.log(
    `kill -9 of a member: partitions owned by the others after ${Math.round(movedMs)} ms`,
  );
  expect(movedMs).toBeLessThan(groupSessionTimeoutMs + 10_000);
  // At-least-once: every record produced so far printed by someone (the victim included).
  await pollUntil('every record printed', 30_000, () =>
    deliveries(members.filter((_, i) => i !== 3)).size === produced ? true : undefined,
  );
});
