// Goal: many partitions on one node cost a constant of memory and file descriptors each, not a
// segment's worth. Method: 32 real logs in one process, each written past several segments and
// read from its oldest data; count this process's fds under the root and its ArrayBuffer bytes.
import { mkdtempSync, readdirSync, readlinkSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, expect, test } from 'vitest';
import { IDLE_SEGMENT_FILES_MAX, PartitionLog, encodeBatch } from '../../../src/log/index.ts';

const root = mkdtempSync(join(tmpdir(), 'rill-many-'));

/**
 * ArrayBuffer bytes still reachable: full collections until the count stops falling (V8 frees
 * backing stores on a background thread), polled with a deadline rather than slept on.
 */
async function retainedArrayBufferBytes(): Promise<number> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const deadline = performance.now() + 5000;
  let last = Infinity;
  for (;;) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    const now = process.memoryUsage().arrayBuffers;
    if (now >= last || performance.now() > deadline) return now;
    last = now;
  }
}
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fdsUnder(dir: string): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(join('/proc/self/fd', fd)).startsWith(dir);
    } catch {
      return false; // The fd of the listing itself is gone by now.
    }
  }).length;
}

test('32 partitions: fds and buffers stay per-partition constants', async () => {
  const clock = { wallMs: () => 1_700_000_000_000, schedule: () => () => undefined };
  const config = {
    segmentBytesMax: 64 * 1024,
    segmentMsMax: 1e12,
    retentionMs: -1,
    retentionBytes: -1,
    maxMessageBytes: 1 << 20,
    indexIntervalBytes: 4096,
    flush: { kind: 'never' } as const,
  };
  const records = Array.from({ length: 16 }, () => ({
    key: null,
    value: Buffer.alloc(1024, 1),
    headers: [],
    timestampMs: 1,
  }));
  const batch = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: 0,
    records,
    compression: 'none',
  });
  const partitions = 32;
  const logs = await Promise.all(
    Array.from({ length: partitions }, (_, i) =>
      PartitionLog.open(join(root, `p${i}`), config, { clock }),
    ),
  );
  const buffersBefore = await retainedArrayBufferBytes();
  for (let round = 0; round < 16; round += 1)
    await Promise.all(logs.map((log) => log.appendAsLeader(batch, 0)));
  for (const log of logs) {
    expect(log.segmentCount).toBeGreaterThan(3);
    for (const offset of [0, 70, 140]) (await log.read(offset, 1, log.logEndOffset)).release();
    expect(log.openSegmentCount).toBeLessThanOrEqual(1 + IDLE_SEGMENT_FILES_MAX);
  }
  // 32 × 16 × 16.5 KiB ≈ 8.5 MB went through; what stays behind must be far less.
  const retainedBytes = (await retainedArrayBufferBytes()) - buffersBefore;
  expect(retainedBytes).toBeLessThan(512 * 1024);
  expect(fdsUnder(root)).toBeLessThanOrEqual(partitions * 3 * (1 + IDLE_SEGMENT_FILES_MAX));
  const first = logs[0];
  const pinned = await first?.read(0, 1, 16);
  const slice = pinned?.slices[0];
  expect(slice).toBeDefined();
  await first?.deleteRecordsBefore(200); // Deletes segment 0, which the read still holds.
  expect(first?.segmentCount).toBeLessThan(5);
  const bytes = Buffer.alloc(slice?.length ?? 0);
  expect(readSync(slice?.fd ?? -1, bytes, 0, bytes.length, slice?.position ?? 0)).toBe(
    bytes.length,
  );
  expect(bytes.equals(batch)).toBe(true); // The first batch: offset 0, epoch 0, as sent.
  pinned?.release();
  for (const log of logs) await log.close();
  expect(fdsUnder(root)).toBe(0);
});
