// Goal: the follower's fetcher hands a corrupt fetched batch to the core's onLogCorruption (the
// replica turns ineligible for leadership, backs off, reconciles and fetches again until caught
// up) instead of refetching forever, and reports a source leader whose port refuses the
// connection through onNodeRefused.
// Method: one follower Partition on a real PartitionLog in a temporary directory, driven by a
// ReplicaFetcher whose transport is a scripted leader; polls with a deadline, never sleeps.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { Partition } from '../../../src/broker/partition.ts';
import {
  ReplicaFetcher,
  defaultReplicaFetcherConfig,
  type ReplicaTransport,
  type SessionFetchAnswer,
  type SessionFetchCall,
} from '../../../src/broker/replica-fetcher.ts';
import { defaultTopicConfig, partitionLogConfig } from '../../../src/broker/topic-config.ts';
import { encodeBatch, PartitionLog } from '../../../src/log/index.ts';
import { realClock, realLogClock } from '../../support/real-clock.ts';
import { until } from '../../support/poll.ts';

const leaderId = 1;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function followerPartition(): Promise<Partition> {
  const dir = await mkdtemp(join(tmpdir(), 'rill-fetcher-'));
  const log = await PartitionLog.open(dir, partitionLogConfig(defaultTopicConfig), {
    clock: realLogClock,
  });
  const identity = { topic: 't', partition: 0, topicId: 'x', nodeId: 2 };
  const replica = new Partition(identity, log, defaultTopicConfig);
  const image = { partition: 0, replicas: [1, 2], isr: [1, 2], leader: leaderId };
  replica.applyImage({ ...image, leaderEpoch: 0, partitionEpoch: 0 }, realClock.nowMs());
  cleanups.push(async () => {
    replica.close();
    await log.close();
    await rm(dir, { recursive: true, force: true });
  });
  return replica;
}

function startFetcher(transport: ReplicaTransport, onNodeRefused?: (id: number) => void) {
  const warnings: string[] = [];
  const logger = {
    debug() {},
    info() {},
    warn: (_fields: unknown, message: string) => warnings.push(message),
    error() {},
  };
  const fetcher = new ReplicaFetcher(
    { ...defaultReplicaFetcherConfig, nodeId: 2, idleMs: 5, corruptionBackoffMs: 100 },
    {
      transport,
      clock: realClock,
      logger,
      nodeUrl: () => 'http://leader.invalid',
      ...(onNodeRefused === undefined ? {} : { onNodeRefused }),
    },
  );
  cleanups.push(() => fetcher.stop());
  return { fetcher, warnings };
}

function recordsAnswer(records: Uint8Array, nextOffset: number, sessionId = 7) {
  return {
    kind: 'ok',
    sessionId,
    partitions: [
      {
        topic: 't',
        partition: 0,
        kind: 'records',
        records,
        nextOffset,
        highWatermark: nextOffset,
        logEndOffset: nextOffset,
        leaderEpoch: 0,
      },
    ],
  } as const satisfies SessionFetchAnswer;
}

test('a corrupt fetched batch makes the replica ineligible until it has caught up again', async () => {
  const good = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: 0,
    compression: 'none',
    records: [{ key: null, value: Buffer.from('v'), headers: [], timestampMs: 1 }],
  });
  const corrupt = Buffer.from(good);
  corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] ?? 0) ^ 0xff; // fails the CRC
  const calls: { call: SessionFetchCall; atMs: number }[] = [];
  const transport: ReplicaTransport = {
    epochEndOffset: () => Promise.resolve({ kind: 'ok', epoch: 0, endOffset: 1 }),
    sessionFetch: (_url, call) => {
      calls.push({ call, atMs: realClock.nowMs() });
      if (calls.length === 1) return Promise.resolve(recordsAnswer(corrupt, 1));
      if (call.partitions.some((p) => p.fetchOffset === 0)) {
        return Promise.resolve(recordsAnswer(good, 1));
      }
      return new Promise((resolve) =>
        setTimeout(() => resolve({ kind: 'ok', sessionId: 7, partitions: [] }), 20),
      );
    },
    close: () => Promise.resolve(),
  };
  const replica = await followerPartition();
  const { fetcher, warnings } = startFetcher(transport);
  fetcher.follow(replica);
  await until('the corruption reached the core', () => warnings.length > 0);
  expect(warnings[0]).toContain('corrupt batch');
  const core = replica.followerReplica;
  expect(core?.eligibleForLeadership).toBe(false);
  await until('the good batch is appended', () => replica.log.logEndOffset === 1);
  await until('caught up: eligible again', () => core?.eligibleForLeadership === true);
  // The refetch waited for the backoff instead of spinning on the bad answer.
  const first = calls[0]?.atMs ?? 0;
  const refetch = calls.find(
    (c) => c.call.partitions.some((p) => p.fetchOffset === 0) && c !== calls[0],
  );
  expect((refetch?.atMs ?? 0) - first).toBeGreaterThanOrEqual(90);
  expect(warnings.filter((w) => w.includes('corrupt'))).toHaveLength(1);
});

test('a refused connection to the source leader is reported through onNodeRefused', async () => {
  const refusal = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
    code: 'ECONNREFUSED',
  });
  const transport: ReplicaTransport = {
    epochEndOffset: () => Promise.reject(new Error('unused', { cause: refusal })),
    sessionFetch: () => Promise.reject(new Error('POST failed', { cause: refusal })),
    close: () => Promise.resolve(),
  };
  const refused: number[] = [];
  const replica = await followerPartition();
  const { fetcher } = startFetcher(transport, (id) => refused.push(id));
  fetcher.follow(replica);
  await until('the refusal was reported', () => refused.length > 0);
  expect(refused[0]).toBe(leaderId);
});

test('a timeout is not a refusal', async () => {
  const transport: ReplicaTransport = {
    epochEndOffset: () => Promise.reject(new Error('timeout')),
    sessionFetch: () =>
      Promise.reject(Object.assign(new Error('no answer'), { code: 'CLIENT_TIMEOUT' })),
    close: () => Promise.resolve(),
  };
  const refused: number[] = [];
  let failures = 0;
  const replica = await followerPartition();
  const counting: ReplicaTransport = {
    ...transport,
    sessionFetch: (url, call) => {
      failures += 1;
      return transport.sessionFetch(url, call);
    },
  };
  const { fetcher } = startFetcher(counting, (id) => refused.push(id));
  fetcher.follow(replica);
  await until('a few failed rounds', () => failures >= 3);
  expect(refused).toEqual([]);
});

test('an epoch request that fails is asked again without further metadata', async () => {
  // Issue 7 (dormant follower slots): a failed OffsetsForLeaderEpoch left the core counting
  // the request as in flight and the slot not due, so nothing asked again until a metadata
  // record re-followed the partition. Here follow() is called once; the follower must still
  // reconcile and fetch.
  const batch = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: 0,
    compression: 'none',
    records: [{ key: null, value: Buffer.from('v'), headers: [], timestampMs: 1 }],
  });
  let epochAsks = 0;
  const fetchOffsets: number[] = [];
  const transport: ReplicaTransport = {
    epochEndOffset: () => {
      epochAsks += 1;
      if (epochAsks === 1) return Promise.reject(new Error('replica request answered 503'));
      return Promise.resolve({ kind: 'ok', epoch: 0, endOffset: 1 });
    },
    sessionFetch: (_url, call) => {
      for (const p of call.partitions) fetchOffsets.push(p.fetchOffset);
      return new Promise((resolve) =>
        setTimeout(() => resolve({ kind: 'ok', sessionId: 7, partitions: [] }), 20),
      );
    },
    close: () => Promise.resolve(),
  };
  const replica = await followerPartition();
  await replica.log.appendAsFollower(batch);
  // A new leader epoch with a non-empty log: the core reconciles by epoch before fetching.
  const image = { partition: 0, replicas: [1, 2], isr: [1, 2], leader: leaderId };
  replica.applyImage({ ...image, leaderEpoch: 1, partitionEpoch: 1 }, realClock.nowMs());
  const { fetcher } = startFetcher(transport);
  fetcher.follow(replica);
  await until('the epoch request was asked again', () => epochAsks >= 2, 5_000);
  await until('fetching from its log end', () => fetchOffsets.includes(1), 5_000);
  expect(replica.followerReplica?.state.kind).toBe('fetching');
});
