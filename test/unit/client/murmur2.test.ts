// Goal: keys land on the partition Kafka's Java client would choose. Method: the vectors of
// Kafka's own UtilsTest.testMurmur2, its toPositive edge, and a seeded comparison against
// KafkaJS's Java-compatible murmur2 (an independent implementation) over random keys.
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import { murmur2, partitionForKey, toPositive } from '../../../src/api/murmur2.ts';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (
  key: Buffer,
) => number;

// org.apache.kafka.common.utils.UtilsTest#testMurmur2 (and the empty array).
const kafkaVectors: [string, number][] = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
  ['', 275646681],
];

describe('murmur2', () => {
  test.each(kafkaVectors)('murmur2(%j) is %d as in Kafka', (input, expected) => {
    expect(murmur2(Buffer.from(input, 'utf8'))).toBe(expected);
  });

  test('toPositive clears the sign bit, also for -2^31', () => {
    expect(toPositive(-790332482)).toBe(1357151166);
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(5)).toBe(5);
  });

  test('partitionForKey is toPositive(murmur2(key)) % count', () => {
    expect(partitionForKey(Buffer.from('foobar'), 50)).toBe(16);
    expect(partitionForKey(Buffer.from('21'), 7)).toBe(toPositive(-973932308) % 7);
  });

  test('agrees with KafkaJS Java-compatible murmur2 on random keys of every tail length', () => {
    const seed = Date.now() % 1_000_000;
    console.log(`murmur2 cross-check seed ${seed}`);
    const random = new SeededRandom(seed);
    for (let i = 0; i < 2_000; i += 1) {
      const key = Buffer.alloc(random.int(40));
      for (let j = 0; j < key.length; j += 1) key[j] = random.int(256);
      expect(murmur2(key), `seed ${seed} key ${key.toString('hex')}`).toBe(kafkajsMurmur2(key));
    }
  });
});
