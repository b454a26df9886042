// The consumer-group part of `npm run bench` (issue 8): against the three-node cluster, the
// rebalance time of a group of 10 members over 30 partitions when a member joins and when one
// is killed (it stops heartbeating without leaving: the coordinator notices at its session
// timeout), and the throughput of a group of three members beside a single member reading the
// same records. Members are GroupConsumers in this process, each with its own RillClient.
import { RillClient, type GroupConsumer, type TopicPartition } from '../../src/api/client/index.ts';
import type { Report } from './report.ts';

const partitions = 30;
const members = 10;
/** Generous bound on one rebalance: a kill waits out the coordinator's session timeout. */
const rebalanceWaitMsMax = 60_000;

interface Member {
  readonly client: RillClient;
  readonly consumer: GroupConsumer;
  readonly running: Promise<void>;
}

/** A member reading `topic` in `group`, counting what it receives in `counter`. */
function startMember(
  urls: readonly string[],
  group: string,
  topic: string,
  counter: { records: number },
): Member {
  const client = new RillClient({ bootstrapUrls: urls });
  const consumer = client.consumer({
    groupId: group,
    autoOffsetReset: 'earliest',
    pollWaitMs: 200,
  });
  consumer.subscribe([topic]);
  const running = consumer
    .run({
      eachBatch: ({ records }) => {
        counter.records += records.length;
      },
    })
    .catch(() => {}); // A killed member's loop fails with CLIENT_CLOSED: expected here.
  return { client, consumer, running };
}

async function stopMember(member: Member): Promise<void> {
  await member.consumer.close().catch(() => {});
  await member.running;
  await member.client.close();
}

/** Kill: the member's connections close under it; it never leaves the group. */
async function killMember(member: Member): Promise<void> {
  await member.client.close().catch(() => {});
}

/** Every partition owned by exactly one of `live`, each owning its fair share (±1). */
function isBalanced(live: readonly Member[]): boolean {
  const owned = live.map((m) => m.consumer.assignment());
  const all = owned.flat().map((tp: TopicPartition) => `${tp.topic}/${tp.partition}`);
  if (all.length !== partitions || new Set(all).size !== partitions) return false;
  const low = Math.floor(partitions / live.length);
  return owned.every((list) => list.length >= low && list.length <= low + 1);
}

async function waitBalanced(live: readonly Member[], what: string): Promise<number> {
  const startMs = performance.now();
  while (!isBalanced(live)) {
    if (performance.now() - startMs > rebalanceWaitMsMax) {
      throw new Error(`${what}: not balanced within ${rebalanceWaitMsMax} ms`);
    }
    await new Promise((done) => setTimeout(done, 10));
  }
  return performance.now() - startMs;
}

/**
 * One round: 9 members settle, a 10th joins (→ join ms: until all 10 own 3 partitions each),
 * then one is killed (→ kill ms: until the other 9 own all 30 again).
 */
export async function groupRebalanceRound(
  admin: RillClient,
  urls: readonly string[],
  round: number,
  report: Report,
): Promise<void> {
  const topic = `bench-groups-rebalance-${round}`;
  await admin.admin().createTopic({ name: topic, partitions, replicationFactor: 1 });
  const group = `bench-rebalance-${round}-${Date.now()}`;
  const counter = { records: 0 };
  const live: Member[] = [];
  try {
    for (let i = 0; i < members - 1; i += 1) live.push(startMember(urls, group, topic, counter));
    await waitBalanced(live, 'the first 9 members');
    live.push(startMember(urls, group, topic, counter));
    const joinMs = await waitBalanced(live, 'a 10th member joining');
    report.add('groups.rebalance.joinMs', joinMs);
    const victim = live.splice(round % live.length, 1)[0] as Member;
    await killMember(victim);
    const killMs = await waitBalanced(live, 'after a member was killed');
    report.add('groups.rebalance.killMs', killMs);
  } finally {
    await Promise.all(live.map(stopMember));
  }
}

/** Produces `records` records of `recordBytes` to a 6-partition RF=3 topic, once. */
export async function createGroupThroughputTopic(
  client: RillClient,
  options: { records: number; recordBytes: number },
): Promise<string> {
  const topic = 'bench-groups-throughput';
  await client.admin().createTopic({ name: topic, partitions: 6, replicationFactor: 3 });
  const producer = client.producer({ acks: 1, lingerMs: 5, batchSizeBytes: 256 * 1024 });
  const value = Buffer.alloc(options.recordBytes, 'g');
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < options.records; i += 1) sends.push(producer.send({ topic, value }));
  await Promise.all(sends);
  await producer.flush();
  return topic;
}

/** A fresh group of `size` members reads the whole topic: records/s until the last arrives. */
export async function groupThroughputOnce(
  urls: readonly string[],
  topic: string,
  options: { records: number; size: number; round: number },
  report: Report,
): Promise<void> {
  const group = `bench-throughput-${options.size}-${options.round}-${Date.now()}`;
  const counter = { records: 0 };
  const startMs = performance.now();
  const started: Member[] = [];
  for (let i = 0; i < options.size; i += 1) started.push(startMember(urls, group, topic, counter));
  try {
    while (counter.records < options.records) {
      if (performance.now() - startMs > 120_000) throw new Error('group throughput: too slow');
      await new Promise((done) => setTimeout(done, 5));
    }
    const seconds = (performance.now() - startMs) / 1000;
    const series = options.size === 1 ? 'groups.single' : `groups.members${options.size}`;
    report.add(`${series}.recordsPerSecond`, options.records / seconds, {
      records: counter.records,
      seconds: Math.round(seconds * 1000) / 1000,
    });
  } finally {
    await Promise.all(started.map(stopMember));
  }
}
