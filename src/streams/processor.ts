// The processor contract the engine runs: a processor gets one record at a time and forwards
// records to its children through its context; a table's changes travel as Change values. Pure:
// time comes in as stream time (the largest record timestamp the task has seen).
import type { KeyValueStore } from './state-store.ts';

export interface StreamRecord {
  readonly key: unknown;
  readonly value: unknown;
  readonly timestampMs: number;
}

/** A table update: the key's new and previous value (null: absent / deleted). */
export interface Change {
  readonly newValue: unknown;
  readonly oldValue: unknown;
}

export type DropReason = 'late' | 'null-key';

export interface ProcessorContext {
  readonly taskId: string;
  readonly partition: number;
  /** Hands `record` to every child of this processor, depth first. */
  forward(record: StreamRecord): void;
  /**
   * Serialized output to a topic (sinks only); the engine picks the partition from the key and
   * stamps the record's origin (the input record being processed and an index within it).
   */
  send(topic: string, key: Uint8Array | null, value: Uint8Array | null, timestampMs: number): void;
  store(name: string): KeyValueStore;
  streamTimeMs(): number;
  /** Counts a dropped record in the task's metrics: drops are never silent. */
  countDrop(reason: DropReason): void;
}

export interface Processor {
  process(record: StreamRecord): void;
  /** Called after stream time advanced: close windows, emit final results, purge. */
  onStreamTime?(streamTimeMs: number): void;
  /** Called once after the task's stores were restored: rebuild in-memory indexes. */
  onRestored?(): void;
}

export type ProcessorFactory = (context: ProcessorContext) => Processor;

/** Reads a table's current value of a key inside a task (null: absent). */
export type TableGetter = (key: unknown) => unknown;
export type TableGetterFactory = (context: ProcessorContext) => TableGetter;
