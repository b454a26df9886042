// Goal: the producer-state table decides every batch as Kafka's ProducerStateManager does: a
// retry of any of a producer's last five batches answers its original offsets, the next
// sequence (wrapping at 2^31-1) appends, a gap is OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch
// INVALID_PRODUCER_EPOCH, and a new epoch restarts at 0 — so a log model fed only the
// "append" decisions holds every batch exactly once, per producer in send order.
// Method: fast-check commands over a few producers against a model log (an array of batches);
// invariants after every step; the seed is printed so a failure replays with `seed`.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  ProducerStateTable,
  addSequence,
  batchesPerProducer,
  sequenceMax,
  type BatchIdentity,
} from '../../../src/broker/producer-state.ts';

interface SentBatch {
  readonly identity: BatchIdentity;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

interface ProducerModel {
  epoch: number;
  nextSequence: number;
  readonly sent: SentBatch[];
}

type Command =
  | { readonly kind: 'send'; readonly producer: number; readonly records: number }
  | { readonly kind: 'retry'; readonly producer: number; readonly back: number }
  | { readonly kind: 'gap'; readonly producer: number; readonly by: number }
  | { readonly kind: 'bump'; readonly producer: number }
  | { readonly kind: 'stale'; readonly producer: number };

const producers = 3;
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('send' as const),
      producer: fc.nat(producers - 1),
      records: fc.integer({ min: 1, max: 5 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('retry' as const),
      producer: fc.nat(producers - 1),
      back: fc.nat(batchesPerProducer - 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('gap' as const),
      producer: fc.nat(producers - 1),
      by: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('bump' as const), producer: fc.nat(producers - 1) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('stale' as const), producer: fc.nat(producers - 1) }),
  },
);

function run(commands: readonly Command[], startSequences: readonly number[]): void {
  const table = new ProducerStateTable({ producersMax: 100, expirationMs: 1_000_000 });
  const log: SentBatch[] = [];
  let logEnd = 0;
  const models: ProducerModel[] = startSequences.map(() => ({
    epoch: 0,
    nextSequence: 0,
    sent: [],
  }));
  // Each producer starts near the wrap: one batch recorded at its start sequence.
  startSequences.forEach((start, id) => {
    const identity = { producerId: id, producerEpoch: 0, baseSequence: start, recordCount: 1 };
    table.record(identity, logEnd, logEnd, 0);
    const entry = { identity, baseOffset: logEnd, lastOffset: logEnd };
    log.push(entry);
    (models[id] as ProducerModel).sent.push(entry);
    (models[id] as ProducerModel).nextSequence = addSequence(start, 1);
    logEnd += 1;
  });
  for (const c of commands) {
    const model = models[c.producer] as ProducerModel;
    const base = { producerId: c.producer, producerEpoch: model.epoch };
    switch (c.kind) {
      case 'send':
      case 'bump': {
        if (c.kind === 'bump') {
          model.epoch += 1;
          model.nextSequence = 0;
          model.sent.length = 0;
        }
        const records = c.kind === 'send' ? c.records : 1;
        const identity = {
          ...base,
          producerEpoch: model.epoch,
          baseSequence: model.nextSequence,
          recordCount: records,
        };
        expect(table.check(identity, 1)).toEqual({ kind: 'append' });
        const entry = { identity, baseOffset: logEnd, lastOffset: logEnd + records - 1 };
        table.record(identity, entry.baseOffset, entry.lastOffset, 1);
        logEnd += records;
        log.push(entry);
        model.sent.push(entry);
        model.nextSequence = addSequence(model.nextSequence, records);
        break;
      }
      case 'retry': {
        const recent = model.sent.slice(-batchesPerProducer);
        const target = recent[recent.length - 1 - c.back];
        if (target === undefined) break;
        const { baseOffset, lastOffset } = target;
        expect(table.check(target.identity, 1)).toEqual({
          kind: 'duplicate',
          baseOffset,
          lastOffset,
        });
        break;
      }
      case 'gap': {
        const identity = {
          ...base,
          baseSequence: addSequence(model.nextSequence, c.by),
          recordCount: 1,
        };
        expect(table.check(identity, 1)).toMatchObject({
          kind: 'refused',
          code: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
        });
        break;
      }
      case 'stale': {
        if (model.epoch === 0) break;
        const identity = {
          ...base,
          producerEpoch: model.epoch - 1,
          baseSequence: model.nextSequence,
          recordCount: 1,
        };
        expect(table.check(identity, 1)).toMatchObject({
          kind: 'refused',
          code: 'INVALID_PRODUCER_EPOCH',
        });
        break;
      }
    }
    table.checkInvariants();
  }
  // The log holds each appended batch once, at distinct dense offsets, in send order.
  let expected = 0;
  for (const entry of log) {
    expect(entry.baseOffset).toBe(expected);
    expected = entry.lastOffset + 1;
  }
  // A snapshot restores to the same decisions.
  const restored = new ProducerStateTable({ producersMax: 100, expirationMs: 1_000_000 });
  restored.restore(JSON.parse(JSON.stringify(table.snapshot(logEnd))));
  for (const model of models) {
    const last = model.sent.at(-1);
    if (last !== undefined) expect(restored.check(last.identity, 1).kind).toBe('duplicate');
  }
}

describe('producer state', () => {
  test('retries dedupe, gaps and stale epochs are refused, sequences wrap', () => {
    const seed = Date.now() ^ (Math.random() * 0x7fffffff);
    console.log(`producer-state property seed=${seed}`);
    const start = fc.oneof(fc.constant(0), fc.integer({ min: sequenceMax - 12, max: sequenceMax }));
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 120 }),
        fc.array(start, { minLength: producers, maxLength: producers }),
        (commands, starts) => run(commands, starts),
      ),
      { seed, numRuns: 300 },
    );
  });
});
