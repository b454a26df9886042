// The consumer-group part of `npm run bench` (issue 8): against the three-node cluster, the
// rebalance time of a group of 10 members over 30 partitions when a member joins and when one
// is killed (its connections are cut: it neither commits nor leaves, so the coordinator notices
// at its session timeout), and the catch-up throughput of a group of three members beside a
// single member reading the same records. Members are GroupConsumers in this process, each
// with its own RillClient and connections.
import {
  H2Transport,
  RillClient,
  systemClock,
  systemRandom,
  systemWallClock,
  type GroupConsumer,
  type TopicPartition,
} from '../../src/api/client/index.ts';
import type { Report } from './report.ts';

const rebalancePartitions = 30;
const rebalanceMembers = 10;
/** Generous bound on one rebalance: a kill waits out the coordinator's session timeout. */
const rebalanceWaitMsMax = 60_000;
const throughputPartitions = 6;

interface Member {
  readonly client: RillClient;
  readonly transport: H2Transport;
  readonly consumer: GroupConsumer;
  readonly running: Promise<void>;
}

/**
 * A member reading `topic` in `group`, counting what it receives in `counter`; with `paused`,
 * each partition is paused as it is assigned (the caller resumes them to start measuring).
 */
function startMember(
  urls: readonly string[],
  group: string,
  topic: string,
  counter: { records: number },
  paused = false,
): Member {
  const transport = new H2Transport();
  const deps = {
    transport,
    clock: systemClock,
    wallClock: systemWallClock,
    random: systemRandom(),
  };
  const client = new RillClient({ bootstrapUrls: urls }, deps);
  const consumer = client.consumer({
    groupId: group,
    autoOffsetReset: 'earliest',
    pollWaitMs: 200,
  });
  consumer.subscribe([topic], {
    onAssigned: (partitions) => {
      if (paused) consumer.pause(partitions);
    },
  });
  const running = consumer
    .run({
      eachBatch: ({ records }) => {
        counter.records += records.length;
      },
    })
    .catch(() => {}); // A killed member's loop fails with CLIENT_CLOSED: expected here.
  return { client, transport, consumer, running };
}

async function stopMember(member: Member): Promise<void> {
  await member.consumer.close().catch(() => {});
  await member.running;
  await member.client.close();
}

/** Kill: the member's connections close under it; it never commits or leaves the group. */
async function killMember(member: Member): Promise<void> {
  await member.transport.close();
  await member.running;
}

/** Every partition owned by exactly one of `live`, each owning its fair share (±1). */
function isBalanced(live: readonly Member[], partitionCount: number): boolean {
  const owned = live.map((m) => m.consumer.assignment());
  const all = owned.flat().map((tp: TopicPartition) => `${tp.topic}/${tp.partition}`);
  if (all.length !== partitionCount || new Set(all).size !== partitionCount) return false;
  const low = Math.floor(partitionCount / live.length);
  return owned.every((list) => list.length >= low && list.length <= low + 1);
}

async function waitBalanced(
  live: readonly Member[],
  what: string,
  partitionCount: number,
): Promise<number> {
  const startMs = performance.now();
  while (!isBalanced(live, partitionCount)) {
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
  const partitions = rebalancePartitions;
  await admin.admin().createTopic({ name: topic, partitions, replicationFactor: 1 });
  const group = `bench-rebalance-${round}-${Date.now()}`;
  const counter = { records: 0 };
  const live: Member[] = [];
  try {
    for (let i = 0; i < rebalanceMembers - 1; i += 1) {
      live.push(startMember(urls, group, topic, counter));
    }
    await waitBalanced(live, 'the first 9 members', partitions);
    live.push(startMember(urls, group, topic, counter));
    const joinMs = await waitBalanced(live, 'a 10th member joining', partitions);
    report.add('groups.rebalance.joinMs', joinMs);
    const victim = live.splice(round % live.length, 1)[0] as Member;
    const killedAtMs = performance.now();
    await killMember(victim);
    await waitBalanced(live, 'after a member was killed', partitions);
    report.add('groups.rebalance.killMs', performance.now() - killedAtMs);
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
  const partitions = throughputPartitions;
  await client.admin().createTopic({ name: topic, partitions, replicationFactor: 3 });
  const producer = client.producer({ acks: 1, lingerMs: 5, batchSizeBytes: 256 * 1024 });
  const value = Buffer.alloc(options.recordBytes, 'g');
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < options.records; i += 1) {
    sends.push(producer.send({ topic, partition: i % partitions, value }));
  }
  await Promise.all(sends);
  await producer.close();
  return topic;
}

/**
 * A fresh group of `size` members reads the whole topic: records/s from the moment the group
 * is balanced (each partition paused as assigned until then) until the last record arrives.
 */
export async function groupThroughputOnce(
  urls: readonly string[],
  topic: string,
  options: { records: number; size: number; round: number },
  report: Report,
): Promise<void> {
  const group = `bench-throughput-${options.size}-${options.round}-${Date.now()}`;
  const counter = { records: 0 };
  const started: Member[] = [];
  for (let i = 0; i < options.size; i += 1) {
    started.push(startMember(urls, group, topic, counter, true));
  }
  try {
    const formMs = await waitBalanced(started, `a group of ${options.size}`, throughputPartitions);
    const startMs = performance.now();
    for (const member of started) member.consumer.resume(member.consumer.assignment());
    while (counter.records < options.records) {
      if (performance.now() - startMs > 120_000) throw new Error('group throughput: too slow');
      await new Promise((done) => setTimeout(done, 5));
    }
    const seconds = (performance.now() - startMs) / 1000;
    const series = options.size === 1 ? 'groups.single' : `groups.members${options.size}`;
    report.add(`${series}.recordsPerSecond`, options.records / seconds, {
      records: counter.records,
      seconds: Math.round(seconds * 1000) / 1000,
      groupFormedMs: Math.round(formMs),
    });
  } finally {
    await Promise.all(started.map(stopMember));
  }
}
