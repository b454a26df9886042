// Where local replicas live: `<data-dir>/partitions/<topic>-<partition>/`, holding the log's
// segments and a `partition.json` {topicId} that ties the directory to one incarnation of the
// topic, so a topic deleted and re-created while this node was down is never mixed with the
// old data. The broker sees only the PartitionStore port; tests use an in-memory twin.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PartitionLogApi, PartitionLogConfig } from '../log/index.ts';
import { FileProducerStateFiles, type ProducerStateFiles } from './producer-state-store.ts';

export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export interface PartitionStore {
  /** Opens (creating or recovering) the replica's log; wipes a directory of another topicId. */
  open(ref: PartitionRef, topicId: string, config: PartitionLogConfig): Promise<PartitionLogApi>;
  /** Deletes the replica's directory; the log must be closed. */
  remove(ref: PartitionRef): Promise<void>;
  /** Replicas found on disk (to delete those the metadata no longer assigns here). */
  list(): Promise<PartitionRef[]>;
  /** Where the replica's producer state is snapshotted; absent: it is rebuilt from nothing. */
  producerStateFiles?(ref: PartitionRef): ProducerStateFiles;
}

/** `<topic>-<partition>`: topic names cannot hold '/', and the last '-' starts the number. */
export function partitionDirectoryName(ref: PartitionRef): string {
  return `${ref.topic}-${ref.partition}`;
}

export function parsePartitionDirectoryName(name: string): PartitionRef | null {
  const match = /^(.+)-(\d{1,9})$/.exec(name);
  if (match === null) return null;
  return { topic: match[1] as string, partition: Number(match[2]) };
}

export interface FilePartitionStoreConfig {
  /** `<data-dir>/partitions`. */
  readonly directory: string;
}

export interface FilePartitionStoreDeps {
  /** Opens or recovers the partition log in `directory` (built by the composition root). */
  readonly openLog: (directory: string, config: PartitionLogConfig) => Promise<PartitionLogApi>;
}

const identityFile = 'partition.json';

/** The real store: one directory per replica under the data directory. */
export class FilePartitionStore implements PartitionStore {
  readonly #config: FilePartitionStoreConfig;
  readonly #deps: FilePartitionStoreDeps;

  constructor(config: FilePartitionStoreConfig, deps: FilePartitionStoreDeps) {
    this.#config = config;
    this.#deps = deps;
  }

  async open(ref: PartitionRef, topicId: string, config: PartitionLogConfig) {
    const directory = join(this.#config.directory, partitionDirectoryName(ref));
    const identityPath = join(directory, identityFile);
    const found = await readFile(identityPath, 'utf8').then(
      (text) => (JSON.parse(text) as { topicId?: unknown }).topicId,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw error;
      },
    );
    if (found !== topicId) {
      // Another incarnation of the topic (or a directory without identity): start empty.
      await rm(directory, { recursive: true, force: true });
      await mkdir(directory, { recursive: true });
      const temporary = `${identityPath}.tmp`;
      await writeFile(temporary, JSON.stringify({ topicId }), { flush: true });
      await rename(temporary, identityPath);
    }
    return this.#deps.openLog(directory, config);
  }

  producerStateFiles(ref: PartitionRef): ProducerStateFiles {
    return new FileProducerStateFiles(join(this.#config.directory, partitionDirectoryName(ref)));
  }

  async remove(ref: PartitionRef): Promise<void> {
    await rm(join(this.#config.directory, partitionDirectoryName(ref)), {
      recursive: true,
      force: true,
    });
  }

  async list(): Promise<PartitionRef[]> {
    await mkdir(this.#config.directory, { recursive: true });
    const refs: PartitionRef[] = [];
    for (const entry of await readdir(this.#config.directory, { withFileTypes: true })) {
      const ref = entry.isDirectory() ? parsePartitionDirectoryName(entry.name) : null;
      if (ref !== null) refs.push(ref);
    }
    return refs;
  }
}
