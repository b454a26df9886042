// Reads a partition's segment files straight from a node's data directory and returns the
// raw bytes of the batches wholly below an offset, so tests can check that replicas are
// byte-identical below the HW. Stops at the first batch it cannot frame (a torn tail).
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  LOG_OVERHEAD_BYTES,
  batchSize,
  lastOffsetOf,
  readBatchHeader,
} from '../../../src/log/index.ts';

export async function batchBytesBelow(
  dataDir: string,
  topic: string,
  partition: number,
  offsetLimit: number,
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
      kept.push(bytes.subarray(position, position + size));
      position += size;
    }
  }
  return Buffer.concat(kept);
}
