// Goal: each codec round-trips, snappy reads both xerial-framed and raw blocks, and every
// decompression refuses to expand past its bound. Method: fixed inputs, hand-built frames.
import { describe, expect, test } from 'vitest';
import { compressSync } from 'snappy';
import { compress, decompress, type Compression } from '../../../src/log/index.ts';

const input = Buffer.from('rill '.repeat(20_000));
const codecs: Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

describe('compression', () => {
  test.each(codecs)('%s round-trips 100 KB', async (codec) => {
    const packed = await compress(codec, input);
    if (codec !== 'none') expect(packed.length).toBeLessThan(input.length / 10);
    expect((await decompress(codec, packed)).equals(input)).toBe(true);
  });

  test('snappy writes xerial framing in 32 KiB blocks and reads raw snappy too', async () => {
    const packed = await compress('snappy', input);
    expect(packed.subarray(0, 16).toString('hex')).toBe('82534e415050590000000001' + '00000001');
    const raw = compressSync(input);
    expect((await decompress('snappy', raw)).equals(input)).toBe(true);
  });

  test.each(codecs.filter((c) => c !== 'none'))(
    '%s refuses to expand past the bound',
    async (codec) => {
      const packed = await compress(codec, input);
      await expect(decompress(codec, packed, 1000)).rejects.toMatchObject({
        code: 'LOG_CORRUPT_BATCH',
      });
    },
  );

  test.each(codecs.filter((c) => c !== 'none'))(
    '%s garbage is LOG_CORRUPT_BATCH',
    async (codec) => {
      await expect(
        decompress(codec, Buffer.from('definitely not compressed data')),
      ).rejects.toMatchObject({ code: 'LOG_CORRUPT_BATCH' });
    },
  );

  test('xerial snappy counts the whole section against the bound, not one block', async () => {
    // 100 KB in four 32 KiB blocks, each within a 64 KiB bound: their sum is not.
    const packed = await compress('snappy', input);
    await expect(decompress('snappy', packed, 64 * 1024)).rejects.toThrow(
      'snappy records expand to 98304 bytes or more',
    );
  });
});
