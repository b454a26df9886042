// Goal: the idempotence check sits in the one append path, atomically with offset assignment
// (issue 9): however concurrent produces of several producers interleave — each batch sent up
// to three times at once, out of order — no batch is stored twice, every answer for one batch
// carries the same offsets, distinct batches get distinct offsets, and once the refused ones
// are resent in order every batch is stored exactly once, each producer's in sequence order.
// Method: fast-check over batch plans against a real Partition on a real PartitionLog (flush
// `always`, group commit) in a temporary directory; all sends of a round fire at once; the
// seed is printed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Partition, type AppendResult } from '../../../src/broker/partition.ts';
import { FileProducerStateFiles } from '../../../src/broker/producer-state-store.ts';
import { defaultTopicConfig, partitionLogConfig } from '../../../src/broker/topic-config.ts';
import { PartitionLog, decodeBatches, encodeBatch } from '../../../src/log/index.ts';
import { realLogClock } from '../../support/real-clock.ts';

interface PlannedBatch {
  readonly producer: number;
  readonly sequence: number;
  readonly records: number;
  readonly bytes: Buffer;
}

async function plan(sizes: readonly (readonly number[])[]): Promise<PlannedBatch[]> {
  const batches: PlannedBatch[] = [];
  for (const [producer, producerSizes] of sizes.entries()) {
    let sequence = 0;
    for (const records of producerSizes) {
      const values = Array.from({ length: records }, (_, i) => `${producer}:${sequence + i}`);
      const bytes = await encodeBatch({
        baseOffset: 0,
        partitionLeaderEpoch: -1,
        compression: 'none',
        producerId: BigInt(producer),
        producerEpoch: 0,
        baseSequence: sequence,
        records: values.map((v) => ({
          key: null,
          value: Buffer.from(v),
          headers: [],
          timestampMs: 1,
        })),
      });
      batches.push({ producer, sequence, records, bytes });
      sequence += records;
    }
  }
  return batches;
}

async function run(
  sizes: readonly (readonly number[])[],
  copies: readonly number[],
  order: readonly number[],
) {
  const dir = await mkdtemp(join(tmpdir(), 'rill-idem-'));
  const log = await PartitionLog.open(dir, partitionLogConfig(defaultTopicConfig), {
    clock: realLogClock,
  });
  try {
    const replica = new Partition(
      { topic: 't', partition: 0, topicId: 'x', nodeId: 1 },
      log,
      defaultTopicConfig,
    );
    replica.applyImage(
      { partition: 0, replicas: [1], leader: 1, leaderEpoch: 0, isr: [1], partitionEpoch: 0 },
      0,
    );
    const batches = await plan(sizes);
    const answers = new Map<PlannedBatch, AppendResult[]>();
    const send = async (batch: PlannedBatch): Promise<void> => {
      const { batches: headers, recordCount, producer } = replica.validateBatches(batch.bytes);
      try {
        const bytes = Buffer.from(batch.bytes); // Stamped in place: every send its own copy.
        const answer = await replica.appendAsLeader(
          bytes,
          0,
          recordCount,
          () => 0,
          headers,
          producer,
        );
        answers.set(batch, [...(answers.get(batch) ?? []), answer]);
      } catch (error) {
        const code = (error as { code?: string }).code;
        expect(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID']).toContain(code);
      }
    };
    // Round 1: everything at once, shuffled, some batches several times.
    const sends: Promise<void>[] = [];
    for (const index of order) {
      const batch = batches[index % batches.length] as PlannedBatch;
      for (let c = 0; c < (copies[index % copies.length] ?? 1); c += 1) sends.push(send(batch));
    }
    await Promise.all(sends);
    // Then the client's recovery: every batch not yet stored is resent, in sequence order.
    for (const batch of batches) if (!answers.has(batch)) await send(batch);
    for (const batch of batches) {
      const got = answers.get(batch) ?? [];
      expect(got.length).toBeGreaterThan(0);
      const first = got[0] as AppendResult;
      for (const other of got) {
        expect([other.baseOffset, other.lastOffset]).toEqual([first.baseOffset, first.lastOffset]);
      }
      expect(first.lastOffset - first.baseOffset + 1).toBe(batch.records);
    }
    const offsets = batches.map((b) => (answers.get(b) as AppendResult[])[0]?.baseOffset);
    expect(new Set(offsets).size).toBe(batches.length);
    const total = batches.reduce((n, b) => n + b.records, 0);
    expect(log.logEndOffset).toBe(total);
    // The log itself: each value once, each producer's in sequence order.
    const read = await log.read(0, 64 * 1024 * 1024, log.logEndOffset);
    const bytes = await new FileProducerStateFiles(dir).readSlices(read.slices);
    read.release();
    const values = (await decodeBatches(bytes)).flatMap((b) =>
      b.records.map((r) => Buffer.from(r.value ?? []).toString()),
    );
    expect(new Set(values).size).toBe(total);
    const last = new Map<string, number>();
    for (const value of values) {
      const [producer = '', sequence = ''] = value.split(':');
      expect(Number(sequence)).toBeGreaterThan(last.get(producer) ?? -1);
      last.set(producer, Number(sequence));
    }
  } finally {
    await log.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('idempotent appends under concurrency', () => {
  test('no batch twice, same offsets for every answer, order per producer', async () => {
    const seed = Date.now() ^ (Math.random() * 0x7fffffff);
    console.log(`idempotent-append property seed=${seed}`);
    const sizes = fc.array(
      fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 }),
      {
        minLength: 1,
        maxLength: 3,
      },
    );
    await fc.assert(
      fc.asyncProperty(
        sizes,
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 18 }),
        fc.array(fc.nat(17), { minLength: 1, maxLength: 30 }),
        (s, copies, order) => run(s, copies, order),
      ),
      { seed, numRuns: 40 },
    );
  }, 60_000);
});
