// Goal: the bounded LZ4 frame decoder reads what lz4-napi writes (with and without block and
// content checksums, several frames back to back, a skippable frame between), refuses output
// past its limit before writing past it, and refuses malformed frames with LOG_CORRUPT_BATCH.
import { randomBytes } from 'node:crypto';
import { compressFrameSync } from 'lz4-napi';
import { describe, expect, test } from 'vitest';
import { lz4BoundedDecompress } from '../../../src/log/lz4-frame.ts';

const samples: [string, Buffer][] = [
  ['zeros', Buffer.alloc(300_000)],
  ['random', randomBytes(70_000)],
  ['text', Buffer.from('the quick brown fox jumps over the lazy dog. '.repeat(5_000))],
];

describe('lz4BoundedDecompress', () => {
  test.each(samples)('reads lz4-napi frames of %s, with every checksum option', (_, data) => {
    for (const options of [
      {},
      { blockChecksums: true },
      { contentChecksum: true },
      { blockChecksums: true, contentChecksum: true },
    ]) {
      const frame = compressFrameSync(data, options);
      expect(lz4BoundedDecompress(frame, data.length).equals(data)).toBe(true);
    }
  });

  test('frames back to back, with a skippable frame between', () => {
    const [a, b] = [Buffer.from('first '.repeat(1000)), randomBytes(5000)];
    const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
    const joined = Buffer.concat([compressFrameSync(a), skippable, compressFrameSync(b)]);
    expect(lz4BoundedDecompress(joined, 1 << 20).equals(Buffer.concat([a, b]))).toBe(true);
  });

  test('output one byte past the limit is refused', () => {
    const data = Buffer.alloc(100_000, 7);
    const frame = compressFrameSync(data);
    expect(() => lz4BoundedDecompress(frame, data.length - 1)).toThrow(
      expect.objectContaining({
        code: 'LOG_CORRUPT_BATCH',
        message: expect.stringMatching(/expand/),
      }),
    );
  });

  test('malformed frames are LOG_CORRUPT_BATCH, never another error', () => {
    const frame = compressFrameSync(Buffer.from('hello hello hello hello hello hello'));
    const cases = [
      Buffer.alloc(0).subarray(0, 0),
      Buffer.from([1, 2, 3]),
      frame.subarray(0, frame.length - 2),
      Buffer.concat([frame.subarray(0, 4), Buffer.from([0xff, 0xff, 0])]),
    ];
    for (let i = 7; i < frame.length - 4; i += 1) {
      const damaged = Buffer.from(frame);
      damaged[i] = (damaged[i] as number) ^ 0xa5;
      cases.push(damaged);
    }
    for (const bytes of cases) {
      try {
        lz4BoundedDecompress(bytes, 1 << 16);
      } catch (error) {
        expect(error).toMatchObject({ code: 'LOG_CORRUPT_BATCH' });
      }
    }
  });
});
