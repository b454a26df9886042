// Goal: the group consumer's membership loop and offsets against the contract of docs/api.md —
// join, heartbeat, revoke-before-reassign with the in-flight handler finished and its offset
// committed first, rejoin after a fence without committing, 421/503 handling, close (commit,
// then leave with -1 or -2), the iterator's at-least-once commit point, pause/resume and
// bounded buffering. Method: FakeGroupCoordinator (an in-memory coordinator in front of the fake
// cluster) as the Transport and a ManualClock, time advanced in steps until a condition holds.
import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import type { ConsumerRecord } from '../../../src/api/client/consumer.ts';
import { GroupConsumer, type GroupConsumerConfig } from '../../../src/api/client/group-consumer.ts';
import { MetadataCache, defaultMetadataConfig } from '../../../src/api/client/metadata-cache.ts';
import { FakeCluster } from './fake-cluster.ts';
import { FakeGroupCoordinator } from './fake-group-coordinator.ts';
import { ManualClock } from './manual-clock.ts';

const seed = Date.now() % 1_000_000;
console.log(`group-consumer test seed ${seed}`);

function setup(partitions = 4, recordsPerPartition = 5) {
  const clock = new ManualClock();
  const cluster = new FakeCluster('t', partitions, () => clock.nowMs());
  for (let p = 0; p < partitions; p += 1) {
    cluster.logs.set(
      p,
      Array.from({ length: recordsPerPartition }, (_, i) => `${p}:${i}`),
    );
  }
  const coordinator = new FakeGroupCoordinator(cluster, partitions, () => clock.nowMs());
  let members = 0;
  const member = (config: Partial<GroupConsumerConfig> = {}): GroupConsumer => {
    const metadata = new MetadataCache(
      { ...defaultMetadataConfig, bootstrapUrls: [FakeCluster.url(1)] },
      { transport: coordinator, clock },
    );
    return new GroupConsumer(
      {
        groupId: 'g',
        autoOffsetReset: 'earliest',
        retryBackoff: { backoffMs: 100, backoffMaxMs: 1_000, jitter: 0.2 },
        fetchMaxWaitMs: 200,
        pollWaitMs: 200,
        ...config,
      },
      { transport: coordinator, metadata, clock, random: new SeededRandom(seed + members++) },
    );
  };
  /** Advances simulated time in steps until `condition` holds (fails after maxMs). */
  const until = async (condition: () => boolean, maxMs = 30_000, check = () => {}) => {
    for (let elapsed = 0; !condition(); elapsed += 50) {
      if (elapsed > maxMs) throw new Error(`condition not met within ${maxMs} ms (simulated)`);
      await clock.advance(50);
      check();
    }
  };
  /** Settles a promise while time moves. */
  const drive = async <T>(promise: Promise<T>): Promise<T> => {
    let settled = false;
    const tracked = promise.finally(() => {
      settled = true;
    });
    await until(() => settled);
    return tracked;
  };
  return { clock, cluster, coordinator, member, until, drive };
}

function label(record: ConsumerRecord): string {
  return Buffer.from(record.value ?? []).toString();
}

/** At most one member reports owning each partition. */
function checkSingleOwner(coordinator: FakeGroupCoordinator): void {
  for (const [partition, owners] of coordinator.owners()) {
    expect(owners.length, `partition ${partition} owners ${owners.join()}`).toBeLessThanOrEqual(1);
  }
}

describe('GroupConsumer', { timeout: 20_000 }, () => {
  test('joins, receives every partition, and auto-commits what its handler finished', async () => {
    const { coordinator, member, until, drive } = setup();
    const consumer = member({ autoCommitIntervalMs: 5_000 });
    const seen: string[] = [];
    const assigned: number[] = [];
    consumer.subscribe(['t'], {
      onAssigned: (tps) => {
        assigned.push(...tps.map((tp) => tp.partition));
      },
    });
    const running = consumer.run({ eachMessage: (record) => void seen.push(label(record)) });
    await until(() => seen.length === 20);
    expect(assigned.sort()).toEqual([0, 1, 2, 3]);
    expect(new Set(seen).size).toBe(20);
    await until(() => [0, 1, 2, 3].every((p) => coordinator.committed.get(p) === 5));
    await drive(consumer.close());
    await running;
    expect(coordinator.heartbeats.at(-1)?.memberEpoch).toBe(-1);
    expect(coordinator.members.size).toBe(0);
  });

  test('a second member: partitions move after the first committed them; each record once', async () => {
    const { cluster, coordinator, member, until, drive } = setup(4, 5);
    const first = member({ autoCommitIntervalMs: 60_000 });
    const second = member({ autoCommitIntervalMs: 60_000 });
    const seen = new Map<string, number>();
    const count = (record: ConsumerRecord) => {
      seen.set(label(record), (seen.get(label(record)) ?? 0) + 1);
    };
    first.subscribe(['t']);
    const runFirst = first.run({ eachMessage: count });
    await until(() => seen.size === 20);
    second.subscribe(['t']);
    const runSecond = second.run({ eachMessage: count });
    const check = () => checkSingleOwner(coordinator);
    await until(() => second.assignment().length === 2, 30_000, check);
    // The first member committed the revoked partitions before giving them up.
    expect(coordinator.committed.get(1)).toBe(5);
    expect(coordinator.committed.get(3)).toBe(5);
    for (let p = 0; p < 4; p += 1) cluster.logs.get(p)?.push(`${p}:5`, `${p}:6`);
    await until(() => seen.size === 28, 30_000, check);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(first.assignment().map((tp) => tp.partition)).toEqual([0, 2]);
    await drive(Promise.all([first.close(), second.close()]));
    await Promise.all([runFirst, runSecond]);
  });

  test('revocation waits for the handler in flight, then commits after its record', async () => {
    const { coordinator, member, until, clock, drive } = setup(2, 3);
    const first = member({ autoCommitIntervalMs: 60_000 });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const handledByFirst: string[] = [];
    first.subscribe(['t']);
    const runFirst = first.run({
      eachMessage: async (record) => {
        if (label(record) === '1:0') await gate;
        handledByFirst.push(label(record));
      },
    });
    await until(() => first.assignment().length === 2 && handledByFirst.includes('0:2'));
    const second = member({ autoCommitIntervalMs: 60_000 });
    const handledBySecond: string[] = [];
    second.subscribe(['t']);
    const runSecond = second.run({
      eachMessage: (record) => void handledBySecond.push(label(record)),
    });
    await clock.advance(5_000);
    // Partition 1 is still the first member's: its handler has not finished.
    expect(coordinator.owners().get(1)).toEqual([first.memberId]);
    expect(second.assignment()).toEqual([]);
    release();
    await until(() => second.assignment().length === 1);
    expect(coordinator.committed.get(1)).toBe(1); // After 1:0, whose handler finished.
    await until(() => handledBySecond.length === 2);
    expect(handledBySecond).toEqual(['1:1', '1:2']);
    expect(handledByFirst).not.toContain('1:1');
    await drive(Promise.all([first.close(), second.close()]));
    await Promise.all([runFirst, runSecond]);
  });

  test('FENCED_MEMBER_EPOCH: drops its partitions without committing, then rejoins', async () => {
    const { coordinator, member, until, drive } = setup(2, 3);
    const consumer = member({ autoCommitIntervalMs: 60_000 });
    const lost: boolean[] = [];
    consumer.subscribe(['t'], { onRevoked: (_tps, info) => void lost.push(info.lost) });
    const seen: string[] = [];
    const running = consumer.run({ eachMessage: (record) => void seen.push(label(record)) });
    await until(() => seen.length === 6);
    const oldId = consumer.memberId;
    coordinator.failures.push({
      route: 'POST /heartbeat',
      status: 409,
      code: 'FENCED_MEMBER_EPOCH',
    });
    await until(() => lost.length === 1);
    expect(lost).toEqual([true]);
    expect(consumer.assignment()).toEqual([]);
    const rejoin = coordinator.heartbeats.find((h, i) => i > 0 && h.memberId === '');
    expect(rejoin?.memberEpoch).toBe(0);
    expect(coordinator.commits).toEqual([]); // Nothing committed by the fenced member.
    // The old member id holds its partitions until its session expires; then the new one.
    await until(() => consumer.assignment().length === 2);
    expect(consumer.memberId).not.toBe(oldId);
    await drive(consumer.close());
    await running;
  });

  test('follows 421 NOT_COORDINATOR and waits out COORDINATOR_LOAD_IN_PROGRESS', async () => {
    const { coordinator, member, until, drive } = setup(1, 1);
    coordinator.lookupAnswerId = 1; // A stale look-up: broker 1 answers 421 naming broker 2.
    coordinator.failures.push(
      { route: 'POST /heartbeat', status: 503, code: 'COORDINATOR_LOAD_IN_PROGRESS' },
      { route: 'POST /heartbeat', status: 503, code: 'COORDINATOR_LOAD_IN_PROGRESS' },
    );
    const consumer = member();
    consumer.subscribe(['t']);
    await until(() => consumer.assignment().length === 1);
    const heartbeatUrls = coordinator.routesSeen.filter((r) => r.startsWith('POST /heartbeat'));
    expect(heartbeatUrls.some((r) => r.endsWith(FakeCluster.url(1)))).toBe(true);
    expect(coordinator.heartbeats.every((h) => h.url === FakeCluster.url(2))).toBe(true);
    await drive(consumer.close());
  });

  test('UNRELEASED_INSTANCE_ID (a static member restarted at once) is retried', async () => {
    const { coordinator, member, until, drive } = setup(1, 1);
    const unreleased = { route: 'POST /heartbeat', status: 409, code: 'UNRELEASED_INSTANCE_ID' };
    coordinator.failures.push(unreleased, unreleased);
    const consumer = member({ groupInstanceId: 'i-1' });
    consumer.subscribe(['t']);
    await until(() => consumer.assignment().length === 1);
    expect(coordinator.failures).toEqual([]);
    await drive(consumer.close());
  });

  test('close commits, then leaves: -1, or -2 for a static member', async () => {
    for (const [instanceId, epoch] of [
      [null, -1],
      ['i-1', -2],
    ] as const) {
      const { coordinator, member, until, drive } = setup(1, 4);
      const consumer = member({ autoCommitIntervalMs: 60_000, groupInstanceId: instanceId });
      const seen: string[] = [];
      consumer.subscribe(['t']);
      const running = consumer.run({ eachMessage: (record) => void seen.push(label(record)) });
      await until(() => seen.length === 4);
      expect(coordinator.commits).toEqual([]);
      await drive(consumer.close());
      await running;
      expect(coordinator.committed.get(0)).toBe(4);
      const last = coordinator.heartbeats.at(-1);
      expect(last?.memberEpoch).toBe(epoch);
    }
  });

  test('the iterator commits only records the loop asked past (or left with break)', async () => {
    const { coordinator, member, drive } = setup(1, 6);
    const consumer = member({ autoCommitIntervalMs: 60_000 });
    consumer.subscribe(['t']);
    const seen: string[] = [];
    await drive(
      (async () => {
        for await (const record of consumer) {
          seen.push(label(record));
          if (seen.length === 3) break;
        }
      })(),
    );
    await drive(consumer.commit());
    expect(seen).toEqual(['0:0', '0:1', '0:2']);
    expect(coordinator.committed.get(0)).toBe(3);
    await drive(consumer.close());
  });

  test('pause stops a partition until resume; a slow handler does not grow the buffer', async () => {
    const { cluster, member, until, clock, drive } = setup(2, 3);
    const consumer = member({ autoCommitIntervalMs: 60_000 });
    const seen: string[] = [];
    consumer.subscribe(['t'], {
      onAssigned: () => consumer.pause([{ topic: 't', partition: 1 }]),
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const running = consumer.run({
      eachMessage: async (record) => {
        seen.push(label(record));
        if (label(record) === '0:2') await gate;
      },
    });
    await until(() => seen.length === 3);
    const fetchesWhileBlocked = cluster.fetches.length;
    for (let p = 0; p < 2; p += 1) cluster.logs.get(p)?.push(`${p}:3`);
    await clock.advance(10_000);
    // One buffered answer per partition at most: no fetch while the handler is blocked.
    expect(cluster.fetches.length - fetchesWhileBlocked).toBeLessThanOrEqual(1);
    expect(seen).toEqual(['0:0', '0:1', '0:2']);
    release();
    await until(() => seen.length === 4);
    expect(seen.at(-1)).toBe('0:3');
    consumer.resume([{ topic: 't', partition: 1 }]);
    await until(() => seen.length === 8);
    expect(seen.slice(4)).toEqual(['1:0', '1:1', '1:2', '1:3']);
    await drive(consumer.close());
    await running;
  });

  test('STALE_MEMBER_EPOCH on commit: retried after the next heartbeat', async () => {
    const { coordinator, member, until, drive } = setup(1, 2);
    const consumer = member({ autoCommitIntervalMs: 60_000 });
    consumer.subscribe(['t']);
    const seen: string[] = [];
    const running = consumer.run({ eachMessage: (record) => void seen.push(label(record)) });
    await until(() => seen.length === 2);
    coordinator.failures.push({ route: 'POST /offsets', status: 409, code: 'STALE_MEMBER_EPOCH' });
    await drive(consumer.commit());
    expect(coordinator.committed.get(0)).toBe(2);
    await drive(consumer.close());
    await running;
  });

  test('a member starts at the committed offset, else at autoOffsetReset', async () => {
    const { coordinator, member, until, drive } = setup(2, 4);
    coordinator.committed.set(0, 3);
    const consumer = member({ autoOffsetReset: 'latest' });
    consumer.subscribe(['t']);
    const seen: string[] = [];
    const running = consumer.run({ eachMessage: (record) => void seen.push(label(record)) });
    await until(() => seen.length === 1);
    await until(() => coordinator.committed.get(1) === 4); // latest: the position, committed.
    expect(seen).toEqual(['0:3']);
    await drive(consumer.close());
    await running;
  });
});
