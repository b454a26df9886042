// Goal: the broker's produce/fetch/admin logic — HW, long polling, acks and min.insync.replicas,
// leadership from metadata, validation codes — independent of files and HTTP.
// Method: a Broker on twins (memory metadata log, memory partition logs, manual clock); time
// moves only through clock.advance, so every wait is deterministic.
import { beforeEach, describe, expect, test } from 'vitest';
import { Partition } from '../../../src/broker/partition.ts';
import {
  Broker,
  defaultTopicConfig,
  MetadataImage,
  type BrokerConfig,
  type MetadataCommand,
  type PartitionStore,
} from '../../../src/broker/index.ts';
import { SeededRandom } from '../../../src/common/index.ts';
import { encodeBatch } from '../../../src/log/index.ts';
import { ManualClock } from '../../support/broker/manual-clock.ts';
import { MemoryMetadataLog } from '../../support/broker/memory-metadata-log.ts';
import { MemoryPartitionLog } from '../../support/broker/memory-partition-log.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

class MemoryStore implements PartitionStore {
  readonly logs = new Map<string, MemoryPartitionLog>();
  readonly removed: string[] = [];
  async open(ref: { topic: string; partition: number }) {
    const log = new MemoryPartitionLog();
    this.logs.set(`${ref.topic}-${ref.partition}`, log);
    return log;
  }
  async remove(ref: { topic: string; partition: number }) {
    this.removed.push(`${ref.topic}-${ref.partition}`);
  }
  async list() {
    return [];
  }
}

interface Fixture {
  broker: Broker;
  clock: ManualClock;
  metadata: MemoryMetadataLog<MetadataCommand>;
  store: MemoryStore;
  image: MetadataImage;
}

async function startBroker(overrides: Partial<BrokerConfig> = {}): Promise<Fixture> {
  const clock = new ManualClock();
  const image = new MetadataImage();
  const metadata = new MemoryMetadataLog<MetadataCommand>(1, image);
  const store = new MemoryStore();
  const config: BrokerConfig = {
    nodeId: 1,
    advertisedUrl: 'http://n1',
    fetchWaitersMax: 100,
    produceWaitersMax: 100,
    heartbeatIntervalMs: 1000,
    retentionCheckIntervalMs: 60_000,
    registrationRetryMs: 100,
    ...overrides,
  };
  const broker = new Broker(config, {
    clock,
    wallClock: { wallMs: () => 1_700_000_000_000 + clock.nowMs() },
    random: new SeededRandom(7),
    image,
    metadata,
    store,
    logger: quiet,
  });
  await broker.start();
  return { broker, clock, metadata, store, image };
}

const batch = (values: string[], timestampMs = 1000) =>
  encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    records: values.map((v) => ({
      key: null,
      value: Buffer.from(v),
      headers: [],
      timestampMs,
    })),
  });

/** Resolves whether `promise` has settled after the microtasks queued so far have run. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
  return settled;
}

let f: Fixture;
beforeEach(async () => {
  f = await startBroker();
});

describe('admin', () => {
  test('start registers the node in a new cluster', () => {
    const cluster = f.broker.describeCluster();
    expect(cluster.clusterId).toMatch(/^[0-9a-f]{32}$/);
    expect(cluster.controllerId).toBe(1);
    expect(cluster.brokers).toEqual([{ id: 1, url: 'http://n1', status: 'alive' }]);
    expect(f.broker.isReady()).toBe(true);
  });

  test('createTopic opens the local replicas and describes them', async () => {
    const topic = await f.broker.createTopic({
      name: 'orders',
      partitions: 3,
      replicationFactor: 1,
      configs: { 'retention.ms': '60000' },
    });
    expect(topic.partitions).toHaveLength(3);
    expect(topic.partitions[0]).toMatchObject({ leader: 1, isr: [1], highWatermark: 0 });
    expect(topic.configs['retention.ms']).toBe('60000');
    expect([...f.store.logs.keys()].sort()).toEqual(['orders-0', 'orders-1', 'orders-2']);
    expect(f.broker.listTopics()).toEqual([
      { name: 'orders', partitions: 3, replicationFactor: 1 },
    ]);
  });

  test.each([
    [{ name: 'a/b' }, 'INVALID_TOPIC_EXCEPTION'],
    [{ name: 'x'.repeat(250) }, 'INVALID_TOPIC_EXCEPTION'],
    [{ partitions: 0 }, 'INVALID_PARTITIONS'],
    [{ replicationFactor: 2 }, 'INVALID_REPLICATION_FACTOR'],
    [{ configs: { 'cleanup.policy': 'purge' } }, 'INVALID_CONFIG'],
    [{ name: 'taken' }, 'TOPIC_ALREADY_EXISTS'],
  ])('createTopic %j fails with %s', async (override, code) => {
    await f.broker.createTopic({ name: 'taken', partitions: 1, replicationFactor: 1, configs: {} });
    const request = { name: 'n', partitions: 1, replicationFactor: 1, configs: {}, ...override };
    await expect(f.broker.createTopic(request)).rejects.toMatchObject({ code });
  });

  test('deleteTopic closes and removes replicas and releases parked fetches', async () => {
    await f.broker.createTopic({ name: 't', partitions: 1, replicationFactor: 1, configs: {} });
    const parked = f.broker.fetch({
      topic: 't',
      partition: 0,
      offset: 0,
      maxBytes: 1000,
      maxWaitMs: 60_000,
    });
    await f.broker.deleteTopic('t');
    await expect(parked).rejects.toMatchObject({ code: 'UNKNOWN_TOPIC_OR_PARTITION' });
    expect(f.store.logs.get('t-0')?.closed).toBe(true);
    expect(f.store.removed).toEqual(['t-0']);
    await expect(f.broker.deleteTopic('t')).rejects.toMatchObject({
      code: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
  });

  test('a config change reopens the log with the new config', async () => {
    await f.broker.createTopic({ name: 't', partitions: 1, replicationFactor: 1, configs: {} });
    const first = f.store.logs.get('t-0');
    const described = await f.broker.setTopicConfigs('t', { 'segment.bytes': '1048576' });
    expect(described.configs['segment.bytes']).toBe('1048576');
    expect(first?.closed).toBe(true);
    expect(f.store.logs.get('t-0')).not.toBe(first);
  });

  test('a refusal from a metadata follower becomes NOT_CONTROLLER', async () => {
    f.metadata.refuseWith = Object.assign(new Error('not the Raft leader'), {
      code: 'RAFT_NOT_LEADER',
    });
    await expect(
      f.broker.createTopic({ name: 't', partitions: 1, replicationFactor: 1, configs: {} }),
    ).rejects.toMatchObject({ code: 'NOT_CONTROLLER', retriable: true });
  });
});

describe('produce and fetch', () => {
  beforeEach(async () => {
    await f.broker.createTopic({ name: 't', partitions: 2, replicationFactor: 1, configs: {} });
  });
  const produce = (values: string[], acks: 0 | 1 | 'all' = 'all', partition = 0) =>
    batch(values).then((batches) =>
      f.broker.produce({ topic: 't', partition, batches, acks, timeoutMs: 1000 }),
    );

  test('offsets are dense per partition and the HW follows durable appends', async () => {
    expect(await produce(['a', 'b'])).toMatchObject({
      baseOffset: 0,
      lastOffset: 1,
      recordCount: 2,
    });
    expect(await produce(['c'], 1)).toMatchObject({ baseOffset: 2, lastOffset: 2 });
    expect(await produce(['x'], 'all', 1)).toMatchObject({ baseOffset: 0, lastOffset: 0 });
    expect(f.broker.listOffsets('t', 0)).toEqual({ logStartOffset: 0, highWatermark: 3 });
    const fetched = await f.broker.fetch({
      topic: 't',
      partition: 0,
      offset: 1,
      maxBytes: 1 << 20,
      maxWaitMs: 0,
    });
    expect(fetched).toMatchObject({ highWatermark: 3, logStartOffset: 0, leaderEpoch: 0 });
    expect(fetched.read.nextOffset).toBe(3);
    fetched.read.release();
  });

  test('the HW does not advance while the append is not durable', async () => {
    const log = f.store.logs.get('t-0') as MemoryPartitionLog;
    let open = () => {};
    log.appendGate = new Promise((resolve) => (open = resolve));
    const pending = produce(['a']);
    expect(await isSettled(pending)).toBe(false);
    expect(f.broker.listOffsets('t', 0).highWatermark).toBe(0);
    open();
    await pending;
    expect(f.broker.listOffsets('t', 0).highWatermark).toBe(1);
  });

  test('acks=0 answers before the append with offsets -1', async () => {
    expect(await produce(['a'], 0)).toMatchObject({ baseOffset: -1, lastOffset: -1 });
  });

  test('a long-polling fetch wakes on a produce, not on a timer', async () => {
    const parked = f.broker.fetch({
      topic: 't',
      partition: 0,
      offset: 0,
      maxBytes: 1000,
      maxWaitMs: 30_000,
    });
    expect(await isSettled(parked)).toBe(false);
    expect(f.broker.gauges().waitingFetches).toBe(1);
    await produce(['a']);
    const result = await parked;
    expect(result.read.nextOffset).toBe(1);
    expect(f.clock.nowMs()).toBe(0);
    expect(f.broker.gauges().waitingFetches).toBe(0);
  });

  test('a long-polling fetch returns empty when maxWaitMs passes', async () => {
    const parked = f.broker.fetch({
      topic: 't',
      partition: 0,
      offset: 0,
      maxBytes: 1000,
      maxWaitMs: 500,
    });
    f.clock.advance(499);
    expect(await isSettled(parked)).toBe(false);
    f.clock.advance(1);
    const result = await parked;
    expect(result.read.slices).toHaveLength(0);
    expect(result.read.nextOffset).toBe(0);
  });

  test('waiting fetches are bounded: past fetchWaitersMax, BROKER_BUSY', async () => {
    const small = await startBroker({ fetchWaitersMax: 1 });
    await small.broker.createTopic({ name: 't', partitions: 1, replicationFactor: 1, configs: {} });
    const request = { topic: 't', partition: 0, offset: 0, maxBytes: 1000, maxWaitMs: 1000 };
    const first = small.broker.fetch(request);
    await expect(small.broker.fetch(request)).rejects.toMatchObject({
      code: 'BROKER_BUSY',
      retriable: true,
    });
    small.clock.advance(1000);
    await first;
  });

  test('offsets outside [logStartOffset, HW] answer OFFSET_OUT_OF_RANGE', async () => {
    await produce(['a', 'b', 'c']);
    await f.broker.deleteRecords('t', 0, 2);
    for (const offset of [1, 4]) {
      await expect(
        f.broker.fetch({ topic: 't', partition: 0, offset, maxBytes: 1000, maxWaitMs: 0 }),
      ).rejects.toMatchObject({
        code: 'OFFSET_OUT_OF_RANGE',
        details: { logStartOffset: 2, highWatermark: 3 },
      });
    }
  });

  test('offsetForTimestamp finds the first offset at or after the time, below the HW', async () => {
    await f.broker.produce({
      topic: 't',
      partition: 0,
      batches: await batch(['a'], 100),
      acks: 1,
      timeoutMs: 0,
    });
    await f.broker.produce({
      topic: 't',
      partition: 0,
      batches: await batch(['b'], 200),
      acks: 1,
      timeoutMs: 0,
    });
    expect(await f.broker.offsetForTimestamp('t', 0, 150)).toBe(1);
    expect(await f.broker.offsetForTimestamp('t', 0, 300)).toBeNull();
    expect(await f.broker.offsetForTimestamp('t', 0, -2)).toBe(0);
    expect(await f.broker.offsetForTimestamp('t', 0, -1)).toBe(2);
  });

  test.each([
    [
      'a corrupt batch',
      async () => {
        const bytes = Buffer.from(await batch(['a']));
        bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
        return bytes;
      },
      'CORRUPT_MESSAGE',
    ],
    ['a truncated batch', async () => (await batch(['a'])).subarray(0, 30), 'CORRUPT_MESSAGE'],
    ['no batch at all', async () => Buffer.alloc(0), 'INVALID_RECORD'],
  ])('%s is refused with %s and nothing is appended', async (_name, make, code) => {
    const batches = await make();
    await expect(
      f.broker.produce({ topic: 't', partition: 0, batches, acks: 1, timeoutMs: 0 }),
    ).rejects.toMatchObject({ code });
    expect(f.store.logs.get('t-0')?.logEndOffset).toBe(0);
  });

  test('max.message.bytes and compression.type are enforced per topic', async () => {
    await f.broker.setTopicConfigs('t', { 'max.message.bytes': '100', 'compression.type': 'zstd' });
    const big = await batch(['x'.repeat(200)]);
    await expect(
      f.broker.produce({ topic: 't', partition: 0, batches: big, acks: 1, timeoutMs: 0 }),
    ).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    await expect(
      f.broker.produce({
        topic: 't',
        partition: 0,
        batches: await batch(['x']),
        acks: 1,
        timeoutMs: 0,
      }),
    ).rejects.toMatchObject({ code: 'INVALID_RECORD' });
  });

  test('acks=all needs min.insync.replicas in the ISR; acks=1 does not', async () => {
    await f.broker.setTopicConfigs('t', { 'min.insync.replicas': '2' });
    await expect(produce(['a'], 'all')).rejects.toMatchObject({ code: 'NOT_ENOUGH_REPLICAS' });
    expect(await produce(['a'], 1)).toMatchObject({ baseOffset: 0 });
  });

  test('unknown partitions and topics answer UNKNOWN_TOPIC_OR_PARTITION', async () => {
    await expect(produce(['a'], 1, 2)).rejects.toMatchObject({
      code: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
    expect(() => f.broker.listOffsets('nope', 0)).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_TOPIC_OR_PARTITION' }),
    );
  });
});

describe('compacted topics', () => {
  test.each(['none', 'gzip'] as const)(
    'a record with a null key is refused with INVALID_RECORD (%s), a keyed one is taken',
    async (compression) => {
      const configs = { 'cleanup.policy': 'compact' };
      await f.broker.createTopic({ name: 'c', partitions: 1, replicationFactor: 1, configs });
      const encode = (key: Buffer | null) =>
        encodeBatch({
          baseOffset: 0,
          partitionLeaderEpoch: -1,
          compression,
          records: [{ key, value: Buffer.from('v'), headers: [], timestampMs: 1 }],
        });
      const produce = async (key: Buffer | null) =>
        f.broker.produce({
          topic: 'c',
          partition: 0,
          batches: await encode(key),
          acks: 1,
          timeoutMs: 1000,
        });
      await expect(produce(null)).rejects.toMatchObject({ code: 'INVALID_RECORD' });
      expect(await produce(Buffer.from('k'))).toMatchObject({ baseOffset: 0 });
    },
  );
});

describe('leadership comes from the metadata image', () => {
  beforeEach(async () => {
    f.metadata.commit({ type: 'register-node', nodeId: 2, url: 'http://n2', incarnationId: 'x' });
    await f.broker.createTopic({ name: 'r', partitions: 1, replicationFactor: 2, configs: {} });
  });
  const partition = () => f.image.partition('r', 0)!;
  const moveLeader = (leader: number | null, isr: number[]) => {
    const p = partition();
    f.metadata.commit({
      type: 'change-partition',
      topic: 'r',
      partition: 0,
      expectedPartitionEpoch: p.partitionEpoch,
      leader,
      leaderEpoch: p.leaderEpoch + 1,
      replicas: p.replicas,
      isr,
    });
  };

  test('a follower in the ISR holds the HW: acks=all times out, acks=1 does not', async () => {
    if (partition().leader !== 1) moveLeader(1, [1, 2]);
    await f.broker.whenReconciled();
    const batches = await batch(['a']);
    expect(
      await f.broker.produce({ topic: 'r', partition: 0, batches, acks: 1, timeoutMs: 0 }),
    ).toMatchObject({ baseOffset: 0 });
    expect(f.broker.listOffsets('r', 0).highWatermark).toBe(0);
    const waiting = f.broker.produce({
      topic: 'r',
      partition: 0,
      batches,
      acks: 'all',
      timeoutMs: 2000,
    });
    expect(await isSettled(waiting)).toBe(false);
    f.clock.advance(2000);
    await expect(waiting).rejects.toMatchObject({ code: 'REQUEST_TIMED_OUT' });
  });

  test('a record naming a partition or topic reconciles only that (issue 7)', async () => {
    await f.broker.createTopic({ name: 'wide', partitions: 40, replicationFactor: 1, configs: {} });
    await f.broker.whenReconciled();
    const applied: string[] = [];
    const original = Partition.prototype.applyImage;
    Partition.prototype.applyImage = function (this: Partition, ...args) {
      applied.push(this.key);
      return original.apply(this, args);
    };
    try {
      moveLeader(2, [1, 2]);
      await f.broker.whenReconciled();
      expect(applied).toEqual(['r-0']);
      applied.length = 0;
      await f.broker.setTopicConfigs('r', { 'retention.ms': '60000' });
      await f.broker.whenReconciled();
      expect(applied).toEqual(['r-0']);
      applied.length = 0;
      // A new topic: its own partitions only (a creation burst no longer costs O(hosted) each).
      await f.broker.createTopic({
        name: 'fresh',
        partitions: 3,
        replicationFactor: 1,
        configs: {},
      });
      await f.broker.whenReconciled();
      const fresh = f.image.topic('fresh')!.partitions.filter((p) => p.replicas.includes(1));
      expect([...applied].sort()).toEqual(fresh.map((p) => `fresh-${p.partition}`).sort());
      applied.length = 0;
      await f.broker.deleteTopic('fresh');
      await f.broker.whenReconciled();
      expect(applied).toEqual([]);
      expect(f.broker.describeTopic('wide').partitions).toHaveLength(40);
      const { brokerEpoch } = f.image.node(2)!;
      f.metadata.commit({ type: 'fence-node', nodeId: 2, brokerEpoch });
      await f.broker.whenReconciled();
      // A node event may touch any replica: every one hosted here is looked at.
      const hosted = f.image
        .topics()
        .flatMap((t) => t.partitions.filter((p) => p.replicas.includes(1)));
      expect(hosted.length).toBeGreaterThan(2);
      expect(applied.length).toBe(hosted.length);
    } finally {
      Partition.prototype.applyImage = original;
    }
  });

  test('a node that does not lead answers NOT_LEADER_OR_FOLLOWER with the leader', async () => {
    if (partition().leader !== 2) moveLeader(2, [1, 2]);
    await f.broker.whenReconciled();
    const batches = await batch(['a']);
    await expect(
      f.broker.produce({ topic: 'r', partition: 0, batches, acks: 1, timeoutMs: 0 }),
    ).rejects.toMatchObject({
      code: 'NOT_LEADER_OR_FOLLOWER',
      details: { leader: { id: 2, url: 'http://n2' } },
    });
  });

  test('losing leadership releases parked fetches with NOT_LEADER_OR_FOLLOWER', async () => {
    if (partition().leader !== 1) moveLeader(1, [1]);
    await f.broker.whenReconciled();
    const parked = f.broker.fetch({
      topic: 'r',
      partition: 0,
      offset: 0,
      maxBytes: 100,
      maxWaitMs: 60_000,
    });
    expect(await isSettled(parked)).toBe(false);
    moveLeader(null, [2]);
    await expect(parked).rejects.toMatchObject({ code: 'LEADER_NOT_AVAILABLE' });
  });
});

describe('metadata from elsewhere', () => {
  test('a snapshot restored into the image is reconciled into local replicas', async () => {
    const other = new MetadataImage();
    other.apply({ type: 'register-node', nodeId: 1, url: 'http://n1', incarnationId: 'a' }, 1);
    other.apply(
      {
        type: 'create-topic',
        name: 's',
        topicId: 'sid',
        partitions: [{ replicas: [1] }],
        configs: {},
      },
      2,
    );
    f.image.restore(other.snapshot());
    await f.broker.whenReconciled();
    expect(f.store.logs.has('s-0')).toBe(true);
    expect(f.broker.listOffsets('s', 0)).toEqual({ logStartOffset: 0, highWatermark: 0 });
  });

  test('garbage in the metadata log is refused; the broker keeps serving', async () => {
    expect(f.metadata.commit(null as unknown as MetadataCommand)).toMatchObject({ ok: false });
    expect(f.metadata.commit({ type: 'delete-topic' } as unknown as MetadataCommand)).toMatchObject(
      {
        ok: false,
      },
    );
    await f.broker.createTopic({ name: 'after', partitions: 1, replicationFactor: 1, configs: {} });
    expect(f.broker.listTopics().map((t) => t.name)).toContain('after');
  });
});

describe('shutdown', () => {
  test('drain answers parked fetches at once and parks no new ones', async () => {
    await f.broker.createTopic({ name: 'd', partitions: 1, replicationFactor: 1, configs: {} });
    const request = { topic: 'd', partition: 0, offset: 0, maxBytes: 100, maxWaitMs: 60_000 };
    const parked = f.broker.fetch(request);
    expect(await isSettled(parked)).toBe(false);
    f.broker.drain();
    expect((await parked).read.nextOffset).toBe(0);
    expect((await f.broker.fetch(request)).read.slices).toHaveLength(0);
    expect(f.broker.gauges().waitingFetches).toBe(0);
    await f.broker.stop();
    expect(f.store.logs.get('d-0')?.closed).toBe(true);
  });
});

describe('partition high watermark', () => {
  test('the HW is the smallest end offset over the ISR and never goes backwards', async () => {
    const log = new MemoryPartitionLog();
    const identity = { topic: 'h', partition: 0, topicId: 'x', nodeId: 1 };
    const replica = new Partition(identity, log, defaultTopicConfig);
    const image = { partition: 0, replicas: [1, 2, 3], isr: [1, 2], leader: 1 };
    replica.applyImage({ ...image, leaderEpoch: 0, partitionEpoch: 0 }, 0);
    const bytes = await batch(['a', 'b', 'c']);
    await replica.appendAsLeader(bytes, 0, 3, () => 0);
    expect(replica.highWatermark).toBe(0);
    const fetch = (replicaId: number, fetchOffset: number) =>
      replica.onFollowerFetch(
        { replicaId, fetchOffset, lastFetchedEpoch: null, currentLeaderEpoch: 0 },
        1,
      );
    fetch(3, 3); // not in the ISR: does not move the HW
    expect(replica.highWatermark).toBe(0);
    fetch(2, 2);
    expect(replica.highWatermark).toBe(2);
    fetch(2, 1); // a follower that truncated does not pull the HW back
    expect(replica.highWatermark).toBe(2);
    expect(fetch(2, 9)?.kind).toBe('outOfRange'); // never above the leader's own durable end
    fetch(2, 3);
    expect(replica.highWatermark).toBe(3);
  });
});
