// Goal: the consumer returns records from its position on (skipping the part of a batch before
// it), follows a leader move by refreshing metadata and fetching from the new leader after a
// backoff, retries OFFSET_NOT_AVAILABLE, and fails or resets on OFFSET_OUT_OF_RANGE per
// autoOffsetReset. Method: the fake in-memory cluster as the Transport and a ManualClock.
import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import { ClientError } from '../../../src/api/client/client-error.ts';
import { Consumer, type ConsumerConfig } from '../../../src/api/client/consumer.ts';
import { MetadataCache, defaultMetadataConfig } from '../../../src/api/client/metadata-cache.ts';
import { FakeCluster } from './fake-cluster.ts';
import { ManualClock } from './manual-clock.ts';

const seed = Date.now() % 1_000_000;
console.log(`consumer test seed ${seed}`);
const tp = { topic: 't', partition: 0 };

function setup(config: Partial<ConsumerConfig> = {}) {
  const clock = new ManualClock();
  const cluster = new FakeCluster('t', 1, () => clock.nowMs());
  cluster.logs.set(0, ['a', 'b', 'c', 'd']);
  const metadata = new MetadataCache(
    { ...defaultMetadataConfig, bootstrapUrls: [FakeCluster.url(1)] },
    { transport: cluster, clock },
  );
  const consumer = new Consumer(
    { retryBackoff: { backoffMs: 100, backoffMaxMs: 1_000, jitter: 0.2 }, ...config },
    { transport: cluster, metadata, clock, random: new SeededRandom(seed) },
  );
  consumer.assign([tp]);
  return { clock, cluster, consumer };
}

async function poll(clock: ManualClock, consumer: Consumer, waitMs = 1_000) {
  const polled = consumer.poll({ maxWaitMs: waitMs }).then(
    (records) => records.map((r) => Buffer.from(r.value ?? []).toString()),
    (error: unknown) => error as ClientError,
  );
  await clock.advance(waitMs);
  return polled;
}

describe('Consumer', { timeout: 10_000 }, () => {
  test('returns records from the position on, skipping the start of the batch', async () => {
    const { clock, consumer } = setup();
    consumer.seek(tp, 2);
    expect(await poll(clock, consumer)).toEqual(['c', 'd']);
    expect(consumer.position(tp)).toBe(4);
    expect(consumer.highWatermark(tp)).toBe(4);
  });

  test('NOT_LEADER_OR_FOLLOWER: refresh metadata, then fetch from the new leader', async () => {
    const { clock, cluster, consumer } = setup();
    consumer.seek(tp, 0);
    expect(await poll(clock, consumer)).toEqual(['a', 'b', 'c', 'd']);
    cluster.logs.get(0)?.push('e');
    cluster.leaders.set(0, 3);
    expect(await poll(clock, consumer, 2_000)).toEqual(['e']);
    const urls = cluster.fetches.map((f) => f.url);
    expect(urls).toContain(FakeCluster.url(3));
    expect(urls.at(-1)).toBe(FakeCluster.url(3));
    expect(consumer.position(tp)).toBe(5);
  });

  test('a dead leader: the consumer finds the new one through another broker', async () => {
    const { clock, cluster, consumer } = setup();
    consumer.seek(tp, 0);
    expect(await poll(clock, consumer)).toEqual(['a', 'b', 'c', 'd']);
    cluster.down.add(1);
    cluster.leaders.set(0, 2);
    cluster.logs.get(0)?.push('e');
    expect(await poll(clock, consumer, 3_000)).toEqual(['e']);
    expect(cluster.fetches.at(-1)?.url).toBe(FakeCluster.url(2));
  });

  test('OFFSET_NOT_AVAILABLE is retried after a backoff', async () => {
    const { clock, cluster, consumer } = setup();
    cluster.fetchFailures.push({ status: 503, code: 'OFFSET_NOT_AVAILABLE' });
    consumer.seek(tp, 3);
    expect(await poll(clock, consumer)).toEqual(['d']);
    expect(cluster.fetches.length).toBeGreaterThanOrEqual(2); // The refused one, then more.
  });

  test('OFFSET_OUT_OF_RANGE fails poll() with autoOffsetReset none', async () => {
    const { clock, consumer } = setup();
    consumer.seek(tp, 10);
    const error = await poll(clock, consumer);
    expect(error).toBeInstanceOf(ClientError);
    expect((error as ClientError).code).toBe('OFFSET_OUT_OF_RANGE');
  });

  test('OFFSET_OUT_OF_RANGE resets to the earliest offset when asked to', async () => {
    const { clock, consumer } = setup({ autoOffsetReset: 'earliest' });
    consumer.seek(tp, 10);
    expect(await poll(clock, consumer)).toEqual(['a', 'b', 'c', 'd']);
  });

  test('seekToEnd skips what is there; unassigned partitions are refused', async () => {
    const { clock, cluster, consumer } = setup();
    consumer.seekToEnd(tp);
    expect(await poll(clock, consumer)).toEqual([]);
    expect(consumer.position(tp)).toBe(4);
    cluster.logs.get(0)?.push('new');
    expect(await poll(clock, consumer)).toEqual(['new']);
    expect(() => consumer.seek({ topic: 't', partition: 9 }, 0)).toThrow(ClientError);
  });

  test('a partition with much buffered does not starve another (polls take in turn)', async () => {
    const clock = new ManualClock();
    const cluster = new FakeCluster('t', 2, () => clock.nowMs());
    cluster.logs.set(0, ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8']);
    cluster.logs.set(1, ['b0', 'b1']);
    const metadata = new MetadataCache(
      { ...defaultMetadataConfig, bootstrapUrls: [FakeCluster.url(1)] },
      { transport: cluster, clock },
    );
    const consumer = new Consumer(
      { pollRecordsMax: 3 },
      { transport: cluster, metadata, clock, random: new SeededRandom(seed) },
    );
    const tps = [tp, { topic: 't', partition: 1 }];
    consumer.assign(tps);
    for (const each of tps) consumer.seek(each, 0);
    const polls: string[][] = [];
    while (polls.flat().length < 11) {
      const polled = await poll(clock, consumer);
      if (polled instanceof ClientError) throw polled;
      polls.push(polled);
    }
    // Each partition stays in order, and b's records come before a's are all handed out
    // (taking partition 0 first until it is drained would hand b0 out only after a8).
    const values = polls.flat();
    expect(values.filter((v) => v.startsWith('a'))).toEqual(cluster.logs.get(0));
    expect(values.filter((v) => v.startsWith('b'))).toEqual(['b0', 'b1']);
    expect(values.indexOf('b0')).toBeLessThan(values.indexOf('a8'));
    expect(polls.every((p) => p.length <= 3)).toBe(true);
  });
});
