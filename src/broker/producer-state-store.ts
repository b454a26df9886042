// Where a replica's producer state survives a restart (Kafka's <offset>.snapshot files, one per
// partition here): `producer-state.json` in the partition directory holds a ProducerStateSnapshot
// as JSON, written to a temporary file and renamed, and read back at open; the log from its
// endOffset on is replayed on top of it. Losing or tearing the file only costs a longer replay.
import { read } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileSlice } from '../log/index.ts';

/** The port a Partition uses; tests without files pass none (nothing survives a restart). */
export interface ProducerStateFiles {
  /** The snapshot text, or null when there is none. */
  load(): Promise<string | null>;
  save(text: string): Promise<void>;
  /** The bytes of a log read's slices, in order (the replay reads batch headers from them). */
  readSlices(slices: readonly FileSlice[]): Promise<Buffer>;
}

export const producerStateFileName = 'producer-state.json';

export class FileProducerStateFiles implements ProducerStateFiles {
  readonly #path: string;

  constructor(directory: string) {
    this.#path = join(directory, producerStateFileName);
  }

  async load(): Promise<string | null> {
    try {
      return await readFile(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async save(text: string): Promise<void> {
    const temporary = `${this.#path}.tmp`;
    await writeFile(temporary, text);
    await rename(temporary, this.#path);
  }

  async readSlices(slices: readonly FileSlice[]): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (const slice of slices) parts.push(await readSlice(slice));
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }
}

function readSlice(slice: FileSlice): Promise<Buffer> {
  const buffer = Buffer.alloc(slice.length);
  return new Promise((resolve, reject) => {
    read(slice.fd, buffer, 0, slice.length, slice.position, (error, bytesRead) => {
      if (error !== null) reject(error);
      else resolve(buffer.subarray(0, bytesRead));
    });
  });
}
