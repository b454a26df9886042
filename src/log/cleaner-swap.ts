// How a cleaned segment replaces the live one so that a kill -9 at any point loses nothing.
// The cleaner writes `<base>.{index,timeindex,log}.cleaned` and syncs them; the swap renames
// them to `.swap` (indexes first, the log last: `<base>.log.swap` existing is the commit
// point), syncs the directory, then renames each `.swap` over the live name (indexes first,
// the log last) and syncs again. At open, finishInterruptedCleans discards every `.cleaned`
// file and any `.swap` without its `.log.swap` (a clean not yet committed), and completes a
// committed one: the log file is moved into place and the segment's indexes are deleted, so
// recovery rebuilds them from the log rather than trusting a half-renamed pair.
import { join } from 'node:path';
import { syncDirectory } from './checkpoint-file.ts';
import { nodeFilePort, type FilePort } from './file-port.ts';
import { INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, segmentFileName } from './segment.ts';

export const CLEANED_SUFFIX = '.cleaned';
export const SWAP_SUFFIX = '.swap';

/** One step of a swap: a rename, or a directory sync that makes the renames before it last. */
export type SwapStep =
  | { readonly kind: 'rename'; readonly from: string; readonly to: string }
  | { readonly kind: 'sync-directory' };

/** The steps that install segment `baseOffset`'s cleaned files, in order (pure). */
export function swapPlan(baseOffset: number): readonly SwapStep[] {
  // Indexes before the log both times: the log's rename is what commits each phase.
  const names = [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX].map((suffix) =>
    segmentFileName(baseOffset, suffix),
  );
  const steps: SwapStep[] = [];
  for (const name of names) {
    steps.push({ kind: 'rename', from: name + CLEANED_SUFFIX, to: name + SWAP_SUFFIX });
  }
  steps.push({ kind: 'sync-directory' });
  for (const name of names) steps.push({ kind: 'rename', from: name + SWAP_SUFFIX, to: name });
  steps.push({ kind: 'sync-directory' });
  return steps;
}

export function runSwapStep(dir: string, step: SwapStep, fs: FilePort = nodeFilePort): void {
  if (step.kind === 'rename') fs.renameSync(join(dir, step.from), join(dir, step.to));
  else syncDirectory(dir, fs);
}

/** Removes the staged files of segment `baseOffset` (a clean abandoned before its swap). */
export function discardCleaned(dir: string, baseOffset: number, fs: FilePort = nodeFilePort): void {
  for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]) {
    unlinkIfExists(join(dir, segmentFileName(baseOffset, suffix) + CLEANED_SUFFIX), fs);
  }
}

/**
 * Finishes or discards every clean interrupted in `dir` (see the top of the file); returns
 * the base offsets of segments whose swap it completed. Runs before the segments are listed.
 */
export function finishInterruptedCleans(dir: string, fs: FilePort = nodeFilePort): number[] {
  const names = fs.readdirSync(dir);
  const staged = names.filter((n) => n.endsWith(CLEANED_SUFFIX) || n.endsWith(SWAP_SUFFIX));
  if (staged.length === 0) return [];
  const committed = new Set(
    names
      .filter((name) => name.endsWith(LOG_SUFFIX + SWAP_SUFFIX))
      .map((name) => name.slice(0, -(LOG_SUFFIX + SWAP_SUFFIX).length)),
  );
  const completed: number[] = [];
  for (const stem of committed) {
    fs.renameSync(join(dir, stem + LOG_SUFFIX + SWAP_SUFFIX), join(dir, stem + LOG_SUFFIX));
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      unlinkIfExists(join(dir, stem + suffix), fs);
      unlinkIfExists(join(dir, stem + suffix + SWAP_SUFFIX), fs);
    }
    completed.push(Number(stem));
  }
  // What is left is uncommitted (or was moved above, which unlinkIfExists tolerates).
  for (const name of staged) unlinkIfExists(join(dir, name), fs);
  syncDirectory(dir, fs);
  return completed.sort((a, b) => a - b);
}

function unlinkIfExists(path: string, fs: FilePort): void {
  try {
    fs.unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
