// Goal: store ids keep their byte layout after the throughput work — bytesToId gives one char
// per byte, a windowed suffix is start and end as 8-byte big-endian two's complement (what
// changelog keys and restore read back), and an ASCII string key's id is the string itself.
// Method: compare with a DataView / BigInt reference on edge values and seeded random ones.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { keyIdOf } from '../../../src/streams/aggregate.ts';
import { jsonSerde, stringSerde } from '../../../src/streams/serdes.ts';
import { bytesToId, idToBytes, windowSuffix } from '../../../src/streams/store-key.ts';

function referenceSuffix(startMs: number, endMs: number): number[] {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setBigInt64(0, BigInt(startMs));
  view.setBigInt64(8, BigInt(endMs));
  return [...bytes];
}

const seed = Number(process.env.STORE_KEY_SEED ?? Date.now() % 1_000_000);

test('windowSuffix is start and end as 8-byte big-endian two’s complement', () => {
  console.log(`store-key seed: ${seed} (STORE_KEY_SEED=${seed} to replay)`);
  const edges = [0, 1, -1, 255, -256, 2 ** 32, 2 ** 32 - 1, -(2 ** 32) - 1, 1_700_000_000_000];
  const safe = fc.oneof(
    fc.constantFrom(...edges, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  );
  fc.assert(
    fc.property(safe, safe, (start, end) => {
      const suffix = windowSuffix(start, end);
      expect([...idToBytes(suffix)]).toEqual(referenceSuffix(start, end));
    }),
    { seed, numRuns: 2_000 },
  );
});

test('bytesToId has one char per byte; string ids equal the serialized bytes’ ids', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.string(), (bytes, text) => {
      const id = bytesToId(bytes);
      expect([...idToBytes(id)]).toEqual([...bytes]);
      expect(keyIdOf(stringSerde, text)).toBe(bytesToId(stringSerde.serialize(text)));
    }),
    { seed, numRuns: 1_000 },
  );
  const cyrillic = 'привет';
  expect(keyIdOf(stringSerde, cyrillic)).toBe(bytesToId(stringSerde.serialize(cyrillic)));
  expect(keyIdOf(jsonSerde<string>(), 'a')).toBe('"a"');
});
