// Goal: a producer given `onEvent` (what `rill produce --verbose` prints) is told of each retry —
// with the code, attempt and backoff — and of a retried request going to a new leader, and is
// told nothing when every send succeeds at once. Method: the fake in-memory cluster as the
// Transport port and a ManualClock; seeded randomness, seed printed.
import { expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import { MetadataCache, defaultMetadataConfig } from '../../../src/api/client/metadata-cache.ts';
import { Producer, type ProducerEvent } from '../../../src/api/client/producer.ts';
import { FakeCluster } from './fake-cluster.ts';
import { ManualClock } from './manual-clock.ts';

const seed = Date.now() % 1_000_000;
console.log(`producer-events test seed ${seed}`);

function setup() {
  const clock = new ManualClock();
  const cluster = new FakeCluster('t', 1, () => clock.nowMs());
  const metadata = new MetadataCache(
    { ...defaultMetadataConfig, bootstrapUrls: [FakeCluster.url(1)] },
    { transport: cluster, clock },
  );
  const events: ProducerEvent[] = [];
  const producer = new Producer(
    {
      lingerMs: 0,
      retryBackoff: { backoffMs: 100, backoffMaxMs: 1_000, jitter: 0.2 },
      onEvent: (event) => events.push(event),
    },
    {
      transport: cluster,
      metadata,
      clock,
      wallClock: { wallMs: () => 1_700_000_000_000 + clock.nowMs() },
      random: new SeededRandom(seed),
    },
  );
  return { clock, cluster, producer, events };
}

test('a leader move is reported as a retry, then a leader change', async () => {
  const { clock, cluster, producer, events } = setup();
  const warm = producer.send({ topic: 't', partition: 0, value: 'warm' });
  await clock.advance(0);
  await warm;
  expect(events).toEqual([]);
  cluster.leaders.set(0, 2); // The producer still points at broker 1.
  const ack = producer.send({ topic: 't', partition: 0, value: 'moved' });
  await clock.advance(2_000);
  expect((await ack).offset).toBe(1);
  expect(events).toHaveLength(2);
  const [retry, change] = events;
  expect(retry).toMatchObject({
    type: 'retry',
    topic: 't',
    partition: 0,
    attempt: 1,
    code: 'NOT_LEADER_OR_FOLLOWER',
    records: 1,
  });
  const backoffMs = retry?.type === 'retry' ? retry.backoffMs : -1;
  expect(backoffMs, `seed ${seed}`).toBeGreaterThanOrEqual(80);
  expect(backoffMs, `seed ${seed}`).toBeLessThanOrEqual(120);
  expect(change).toMatchObject({ type: 'leader-change', fromLeaderId: 1, toLeaderId: 2 });
});

test('failures on one leader: retries numbered 1, 2, 3, no leader change', async () => {
  const { clock, cluster, producer, events } = setup();
  for (let i = 0; i < 3; i += 1)
    cluster.failures.push({ status: 503, code: 'NOT_ENOUGH_REPLICAS' });
  const ack = producer.send({ topic: 't', partition: 0, value: 'x' });
  await clock.advance(10_000);
  expect((await ack).offset).toBe(0);
  expect(events.map((e) => (e.type === 'retry' ? e.attempt : e.type))).toEqual([1, 2, 3]);
});
