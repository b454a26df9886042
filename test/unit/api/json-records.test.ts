// The JSON produce body's timestamp bound: a batch whose timestamps lie 2^52 ms apart once
// encoded a delta varint no reader could decode (found by the HTTP fuzz suite, seed 264492793).
// JSON keys and values (issue 13 item 6): non-string JSON is stored as its text, and parsed back.
import { describe, expect, test } from 'vitest';
import {
  parsedOrText,
  parseJsonRecords,
  timestampMsMax,
} from '../../../src/api/server/json-records.ts';
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

describe('JSON keys and values', () => {
  test('non-string JSON is its UTF-8 JSON text; base64 applies to strings only', () => {
    const body = {
      records: [
        { key: [1, 'é'], value: { a: { b: null } } },
        { value: 0 },
        { value: true },
        { key: null, value: 'aGk=' },
      ],
    };
    const records = parseJsonRecords(body, 'base64', 1);
    const text = (bytes: Uint8Array | null) =>
      bytes === null ? null : Buffer.from(bytes).toString();
    expect(records.map((r) => text(r.value))).toEqual(['{"a":{"b":null}}', '0', 'true', 'hi']);
    expect(records.map((r) => text(r.key))).toEqual(['[1,"é"]', null, null, null]);
  });

  test('parsedOrText parses JSON text and returns anything else unchanged', () => {
    expect(parsedOrText('{"a":[1,2]}')).toEqual({ a: [1, 2] });
    expect(parsedOrText(' -3.5')).toBe(-3.5);
    expect(parsedOrText('null')).toBeNull();
    expect(parsedOrText('"quoted"')).toBe('quoted');
    for (const text of ['hello', '', '{not json', 'true story', '12abc']) {
      expect(parsedOrText(text)).toBe(text);
    }
  });
});
