// The `cleaner-checkpoint` file of a compacted partition: where the cleaner stopped and when
// each fully cleaned segment was first cleaned (tombstones expire from that time). Text:
// "0\n<firstDirtyOffset>\n<n>\n" then n lines "<segment base offset> <first cleaned at, ms>".
// Written with ./checkpoint-file.ts after each clean; losing it only makes the next clean
// redo work (cleaning is idempotent) and keep tombstones longer, never lose a record.

export const CLEANER_CHECKPOINT_FILE = 'cleaner-checkpoint';

export interface CleanerCheckpoint {
  /** Offsets below it were cleaned: each key appears there at most once. */
  readonly firstDirtyOffset: number;
  /** Segment base offset → wall time of the first clean that covered the whole segment. */
  readonly firstCleanedAtMs: ReadonlyMap<number, number>;
}

export const emptyCleanerCheckpoint: CleanerCheckpoint = {
  firstDirtyOffset: 0,
  firstCleanedAtMs: new Map(),
};

export function formatCleanerCheckpoint(checkpoint: CleanerCheckpoint): string {
  const lines = [...checkpoint.firstCleanedAtMs].map(([base, atMs]) => `${base} ${atMs}\n`);
  return `0\n${checkpoint.firstDirtyOffset}\n${lines.length}\n${lines.join('')}`;
}

/** The checkpoint in `text`, or null when it is missing or malformed (start over). */
export function parseCleanerCheckpoint(text: string | null): CleanerCheckpoint | null {
  if (text === null) return null;
  const lines = text.split('\n');
  if (lines[0] !== '0' || lines.at(-1) !== '') return null;
  const firstDirtyOffset = safeInteger(lines[1]);
  const count = safeInteger(lines[2]);
  if (firstDirtyOffset === null || count === null || lines.length !== count + 4) return null;
  const firstCleanedAtMs = new Map<number, number>();
  for (const line of lines.slice(3, 3 + count)) {
    const [base, atMs] = line.split(' ').map(safeInteger);
    if (base === null || base === undefined || atMs === null || atMs === undefined) return null;
    firstCleanedAtMs.set(base, atMs);
  }
  return { firstDirtyOffset, firstCleanedAtMs };
}

function safeInteger(text: string | undefined): number | null {
  if (text === undefined || !/^-?\d{1,16}$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}
