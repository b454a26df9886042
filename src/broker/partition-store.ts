// Where local replicas live: `<data-dir>/partitions/<topic>-<partition>/`, holding the log's
// segments and a `partition.json` {topicId} that ties the directory to one incarnation of the
// topic, so a topic deleted and re-created while this node was down is never mixed with the
// old data. The broker sees only the PartitionStore port; tests use an in-memory twin.
import type { PartitionLogApi, PartitionLogConfig } from '../log/index.ts';

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
