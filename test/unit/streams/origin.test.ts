// Goal: the origin header's bytes, now written straight into a buffer by originBytes (no string
// per output), are exactly the UTF-8 of originText — what restore decodes and compares.
// Method: edge offsets and indexes (0, 9, 10, powers of ten, 2^53 - 1) and seeded random ones,
// with ASCII and non-ASCII topic names.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { originBytes, originText } from '../../../src/streams/checkpoint.ts';

const seed = Number(process.env.STREAMS_ORIGIN_SEED ?? Date.now() % 1_000_000);

const bytesOf = (topic: string, offset: number, index: number): number[] => [
  ...originBytes(Buffer.from(`${topic}@`, 'utf8'), offset, index),
];
const textOf = (topic: string, offset: number, index: number): number[] => [
  ...Buffer.from(originText(topic, offset, index), 'utf8'),
];

test('originBytes equals the UTF-8 of originText on edge values', () => {
  const powers = Array.from({ length: 16 }, (_, i) => 10 ** i);
  const edges = [0, 11, 12345, 2 ** 40, 2 ** 53 - 1, ...powers, ...powers.map((p) => p - 1)];
  for (const topic of ['lines', 'nexmark-bid', 'слова', 'a']) {
    for (const offset of edges) {
      for (const index of [0, 1, 9, 10, 100]) {
        expect(bytesOf(topic, offset, index)).toEqual(textOf(topic, offset, index));
      }
    }
  }
});

test('originBytes equals the UTF-8 of originText (property)', () => {
  console.log(`origin seed ${seed} (STREAMS_ORIGIN_SEED to replay)`);
  fc.assert(
    fc.property(
      fc.string({ minLength: 1, maxLength: 30 }),
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      fc.nat({ max: 100_000 }),
      (topic, offset, index) => {
        expect(bytesOf(topic, offset, index)).toEqual(textOf(topic, offset, index));
      },
    ),
    { seed, numRuns: 500 },
  );
});
