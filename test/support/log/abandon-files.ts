// Simulates a process crash for an in-process PartitionLog: closes every file descriptor this
// process holds under `dir` without running any of the log's shutdown code. Linux only
// (/proc/self/fd); the abandoned log object must not be used afterwards.
import { closeSync, readdirSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';

export function abandonFilesUnder(dir: string): number {
  const root = `${resolve(dir)}/`;
  let closed = 0;
  for (const name of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(join('/proc/self/fd', name));
    } catch (error) {
      // The fd listing itself is closed by the time it is read; nothing to do for it.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    const path = target.replace(/ \(deleted\)$/, '');
    if (path.startsWith(root)) {
      closeSync(Number(name));
      closed += 1;
    }
  }
  return closed;
}
