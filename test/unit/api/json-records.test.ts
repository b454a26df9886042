// The JSON produce body's timestamp bound: a batch whose timestamps lie 2^52 ms apart once
// encoded a delta varint no reader could decode (found by the HTTP fuzz suite, seed 264492793).
import { describe, expect, test } from 'vitest';
import { parseJsonRecords, timestampMsMax } from '../../../src/api/server/json-records.ts';
import { decodeBatches, encodeBatch } from '../../../src/log/index.ts';

describe('parseJsonRecords timestamps', () => {
  test('the widest accepted spread of timestamps encodes a batch that decodes', async () => {
    const records = parseJsonRecords(
      {
        records: [
          { value: 'a', timestamp: 0 },
          { value: 'b', timestamp: timestampMsMax },
        ],
      },
      'utf8',
      1,
    );
    const batch = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: 0,
      records,
      compression: 'none',
    });
    const [decoded] = await decodeBatches(batch);
    expect(decoded?.records.map((r) => r.timestampMs)).toEqual([0, timestampMsMax]);
  });

  test('a timestamp past the bound is refused before encoding', () => {
    const body = { records: [{ value: 'a', timestamp: 4_870_000_000_000_000 }] };
    expect(() => parseJsonRecords(body, 'utf8', 1)).toThrow(/at most/);
  });
});
