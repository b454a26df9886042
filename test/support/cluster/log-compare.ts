// Reads a partition's segment files straight from a node's data directory and returns the
// raw bytes of the batches wholly below an offset, so tests can check that replicas are
// byte-identical below the HW. Stops at the first batch it cannot frame (a torn tail).
// Compacted topics differ below each replica's own cleaner point (every replica compacts on
// its own): for them compare latestValuesBelow, and batchBytesBelow from the cleaner point.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  CLEANER_CHECKPOINT_FILE,
  LOG_OVERHEAD_BYTES,
  batchSize,
  decodeBatches,
  lastOffsetOf,
  readBatchHeader,
} from '../../../src/log/index.ts';

export async function batchBytesBelow(
  dataDir: string,
  topic: string,
  partition: number,
  offsetLimit: number,
  fromOffset = 0,
): Promise<Buffer> {
  const directory = join(dataDir, 'partitions', `${topic}-${partition}`);
  const names = (await readdir(directory)).filter((name) => name.endsWith('.log')).sort();
  const kept: Buffer[] = [];
  for (const name of names) {
    const bytes = await readFile(join(directory, name));
    for (let position = 0; position + LOG_OVERHEAD_BYTES <= bytes.length;) {
      if (bytes.readInt32BE(position + 8) <= 0) break;
      let size: number;
      let last: number;
      try {
        const header = readBatchHeader(bytes, position);
        size = batchSize(header);
        last = lastOffsetOf(header);
      } catch {
        break;
      }
      if (position + size > bytes.length || last >= offsetLimit) break;
      if (last >= fromOffset) kept.push(bytes.subarray(position, position + size));
      position += size;
    }
  }
  return Buffer.concat(kept);
}

/** A compacted replica's cleaner point (0 before its first clean). */
export async function cleanerPointOf(
  dataDir: string,
  topic: string,
  partition: number,
): Promise<number> {
  const path = join(dataDir, 'partitions', `${topic}-${partition}`, CLEANER_CHECKPOINT_FILE);
  try {
    return Number((await readFile(path, 'utf8')).split('\n')[1]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

/**
 * key → "offset:value" of each key's latest record wholly below `offsetLimit`; a key whose
 * latest record is a tombstone is left out (one replica may have removed it already).
 */
export async function latestValuesBelow(
  dataDir: string,
  topic: string,
  partition: number,
  offsetLimit: number,
): Promise<Map<string, string>> {
  const bytes = await batchBytesBelow(dataDir, topic, partition, offsetLimit);
  const latest = new Map<string, string>();
  for (const batch of await decodeBatches(bytes)) {
    for (const record of batch.records) {
      const key = record.key === null ? '' : Buffer.from(record.key).toString('base64');
      if (record.value === null) latest.delete(key);
      else latest.set(key, `${record.offset}:${Buffer.from(record.value).toString('base64')}`);
    }
  }
  return latest;
}
