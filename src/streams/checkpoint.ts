// A task's checkpoint: what one commit made durable, written as ONE record keyed by the task
// to the application's compacted checkpoint topic, so it is atomic: the input offsets, stream
// time, how far each store's changelog partition is covered, and where each output partition
// ended. Restore applies a changelog only up to its covered offset (anything after was written
// by a commit that never finished, and is rewritten as a repair) and suppresses outputs found
// after the recorded ends whose origin (input record and index) a replay produces again.
import { StreamsError } from './errors.ts';

export interface TaskCheckpoint {
  /** The task's stable key: its sorted source topics and partition (`lines#0`). */
  readonly task: string;
  /** Commits of this task so far (1 for the first). */
  readonly seq: number;
  /** Input topic → the offset after the last record processed. */
  readonly offsets: Readonly<Record<string, number>>;
  readonly streamTimeMs: number;
  /** Store → the changelog partition's end offset this checkpoint covers. */
  readonly changelogs: Readonly<Record<string, number>>;
  /** `topic/partition` → that output partition's end offset at the commit. */
  readonly outputs: Readonly<Record<string, number>>;
}

/** Headers stamped on every output record: the producing task and the record's origin. */
export const taskHeader = 'rill.task';
export const originHeader = 'rill.origin';
/** On outputs of a task with several inputs: every input's position (see StreamTask). */
export const positionsHeader = 'rill.positions';

/** The stable key of a task: it names the checkpoint and the outputs' task header. */
export function taskKey(sourceTopics: readonly string[], partition: number): string {
  return `${[...sourceTopics].sort().join('+')}#${partition}`;
}

export function encodeCheckpoint(checkpoint: TaskCheckpoint): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(checkpoint));
}

/** Codes: STREAMS_CHECKPOINT_INVALID when the bytes are not a checkpoint. */
export function decodeCheckpoint(bytes: Uint8Array): TaskCheckpoint {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw invalid('is not JSON', error);
  }
  const c = parsed as Partial<TaskCheckpoint> | null;
  const isRecord = (v: unknown): boolean => typeof v === 'object' && v !== null;
  if (
    !isRecord(c) ||
    typeof c?.task !== 'string' ||
    typeof c.seq !== 'number' ||
    typeof c.streamTimeMs !== 'number' ||
    !isRecord(c.offsets) ||
    !isRecord(c.changelogs) ||
    !isRecord(c.outputs)
  ) {
    throw invalid('lacks a field');
  }
  return c as TaskCheckpoint;
}

function invalid(why: string, cause?: unknown): StreamsError {
  return new StreamsError('STREAMS_CHECKPOINT_INVALID', `a checkpoint record ${why}`, { cause });
}

/** One changelog record as read back, with its offset. */
export interface StoredChange {
  readonly offset: number;
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

/**
 * Splits a changelog partition's records at the covered offset: the changes to apply, and the
 * keys written after it (by a commit that did not finish), which the next commit rewrites.
 */
export function splitChangelog(
  records: readonly StoredChange[],
  coveredEnd: number,
): { apply: StoredChange[]; repair: Uint8Array[] } {
  const apply: StoredChange[] = [];
  const repair: Uint8Array[] = [];
  for (const record of records) {
    if (record.offset < coveredEnd) apply.push(record);
    else repair.push(record.key);
  }
  return { apply, repair };
}

/** An output's origin as text: `<input topic>@<input offset>.<index>` (the header's value). */
export function originText(topic: string, offset: number, index: number): string {
  return `${topic}@${offset}.${index}`;
}

function decimalDigits(n: number): number {
  let digits = 1;
  for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
  return digits;
}

function writeDecimal(into: Uint8Array, at: number, digits: number, n: number): void {
  let rest = n;
  for (let i = at + digits - 1; i >= at; i -= 1) {
    into[i] = 0x30 + (rest % 10);
    rest = Math.floor(rest / 10);
  }
}

/**
 * The UTF-8 bytes of originText(topic, offset, index) given `prefix` = the bytes of
 * `<topic>@`, written straight into one small buffer: no string per output record.
 */
export function originBytes(prefix: Uint8Array, offset: number, index: number): Uint8Array {
  const offsetDigits = decimalDigits(offset);
  const indexDigits = decimalDigits(index);
  const bytes = Buffer.allocUnsafe(prefix.length + offsetDigits + 1 + indexDigits);
  bytes.set(prefix, 0);
  writeDecimal(bytes, prefix.length, offsetDigits, offset);
  bytes[prefix.length + offsetDigits] = 0x2e; // '.'
  writeDecimal(bytes, prefix.length + offsetDigits + 1, indexDigits, index);
  return bytes;
}
