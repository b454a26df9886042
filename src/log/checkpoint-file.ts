// Small state files of a partition directory (recovery point, log start offset, leader
// epochs), replaced atomically: write `NAME.tmp`, fsync it, rename over NAME, fsync the
// directory. A reader therefore sees the old file or the new one, never a torn mix.
import { closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';

export const CHECKPOINT_TMP_SUFFIX = '.tmp';

export async function writeCheckpoint(dir: string, name: string, text: string): Promise<void> {
  const path = join(dir, name);
  const tmp = `${path}${CHECKPOINT_TMP_SUFFIX}`;
  const file = await open(tmp, 'w');
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  syncDirectory(dir);
}

/** The file's text, or null when it does not exist. */
export function readCheckpoint(dir: string, name: string): string | null {
  try {
    return readFileSync(join(dir, name), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Makes created, renamed and deleted names in `dir` durable. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
