// Small state files of a partition directory (recovery point, log start offset, leader
// epochs), replaced atomically: write `NAME.tmp`, fsync it, rename over NAME, fsync the
// directory. A reader therefore sees the old file or the new one, never a torn mix.
import { join } from 'node:path';
import { nodeFilePort, type FilePort } from './file-port.ts';

export const CHECKPOINT_TMP_SUFFIX = '.tmp';

export async function writeCheckpoint(
  dir: string,
  name: string,
  text: string,
  fs: FilePort = nodeFilePort,
): Promise<void> {
  const path = join(dir, name);
  const tmp = `${path}${CHECKPOINT_TMP_SUFFIX}`;
  const bytes = Buffer.from(text, 'utf8');
  const fd = fs.openSync(tmp, 'w');
  try {
    for (let written = 0; written < bytes.length;) {
      const done = await fs.write(fd, bytes, written, bytes.length - written, written);
      written += done.bytesWritten;
    }
    await fs.fsync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
  syncDirectory(dir, fs);
}

/** The file's text, or null when it does not exist. */
export function readCheckpoint(
  dir: string,
  name: string,
  fs: FilePort = nodeFilePort,
): string | null {
  try {
    return fs.readFileSync(join(dir, name), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Makes created, renamed and deleted names in `dir` durable. */
export function syncDirectory(dir: string, fs: FilePort = nodeFilePort): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
