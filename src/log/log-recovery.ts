// Opening a partition directory after a clean close or a crash. Files: the segments, and the
// checkpoints `recovery-point` ("0\n<offset> <cleanBytes>\n"; cleanBytes ≥ 0 only after a clean
// close), `log-start-offset` ("0\n<offset>\n") and `leader-epoch-checkpoint`. Rules: segments
// before the recovery point are trusted after cheap index checks; every segment from the one
// holding it is re-validated batch by batch (CRC, magic, length, dense offsets), the first bad
// or torn batch and everything after it are cut, and the indexes are rebuilt. A clean
// interrupted by a crash is finished or discarded first (./cleaner-swap.ts).
import { join } from 'node:path';
import { assert } from '../common/index.ts';
import { CHECKPOINT_TMP_SUFFIX, readCheckpoint } from './checkpoint-file.ts';
import { CLEANER_CHECKPOINT_FILE } from './cleaner-checkpoint.ts';
import { finishInterruptedCleans } from './cleaner-swap.ts';
import { nodeFilePort, type FilePort } from './file-port.ts';
import { LeaderEpochCache, type EpochEntry } from './leader-epoch-cache.ts';
import {
  INDEX_SUFFIX,
  LOG_SUFFIX,
  Segment,
  TIME_INDEX_SUFFIX,
  parseSegmentFileName,
} from './segment.ts';

export const RECOVERY_POINT_FILE = 'recovery-point';
export const LOG_START_OFFSET_FILE = 'log-start-offset';
export const LEADER_EPOCH_FILE = 'leader-epoch-checkpoint';

export interface RecoveryPoint {
  readonly offset: number;
  /** The active segment's size at a clean close, or -1 while the log is open or crashed. */
  readonly cleanBytes: number;
}

export interface RecoveredLog {
  readonly segments: Segment[];
  readonly logStartOffset: number;
  readonly epochs: LeaderEpochCache;
  /** Segments re-validated batch by batch, and bytes cut from torn or corrupt tails. */
  readonly recoveredSegments: number;
  readonly truncatedBytes: number;
  /** Whether the checkpoint files already say what the recovered log says. */
  readonly checkpointsMatch: { readonly logStartOffset: boolean; readonly epochs: boolean };
}

export function formatRecoveryPoint(point: RecoveryPoint): string {
  return `0\n${point.offset} ${point.cleanBytes}\n`;
}

export function formatLogStartOffset(offset: number): string {
  return `0\n${offset}\n`;
}

function parseRecoveryPoint(text: string | null): RecoveryPoint | null {
  const match = text === null ? null : /^0\n(\d+) (-1|\d+)\n$/.exec(text);
  if (match === null) return null;
  const offset = Number(match[1]);
  const cleanBytes = Number(match[2]);
  return Number.isSafeInteger(offset) && Number.isSafeInteger(cleanBytes)
    ? { offset, cleanBytes }
    : null;
}

function parseLogStartOffset(text: string | null): number | null {
  const match = text === null ? null : /^0\n(\d+)\n$/.exec(text);
  const offset = match === null ? Number.NaN : Number(match[1]);
  return Number.isSafeInteger(offset) ? offset : null;
}

/** Temporary files of our own checkpoints; other files in the directory are not ours to touch. */
const checkpointTemps: ReadonlySet<string> = new Set(
  [RECOVERY_POINT_FILE, LOG_START_OFFSET_FILE, LEADER_EPOCH_FILE, CLEANER_CHECKPOINT_FILE].map(
    (name) => `${name}${CHECKPOINT_TMP_SUFFIX}`,
  ),
);

/** Lists segment base offsets, removing our temporary files and indexes without a log. */
function listSegments(dir: string, fs: FilePort): number[] {
  const names = fs.readdirSync(dir);
  const bases = names
    .map((name) => parseSegmentFileName(name, LOG_SUFFIX))
    .filter((base): base is number => base !== null)
    .sort((a, b) => a - b);
  const known = new Set(bases);
  for (const name of names) {
    const index =
      parseSegmentFileName(name, INDEX_SUFFIX) ?? parseSegmentFileName(name, TIME_INDEX_SUFFIX);
    const orphan = index !== null && !known.has(index);
    if (orphan || checkpointTemps.has(name)) fs.unlinkSync(join(dir, name));
  }
  return bases;
}

export function recoverLog(
  dir: string,
  indexIntervalBytes: number,
  nowMs: number,
  fs: FilePort = nodeFilePort,
): RecoveredLog {
  fs.mkdirSync(dir, { recursive: true });
  finishInterruptedCleans(dir, fs);
  const bases = listSegments(dir, fs);
  const point = parseRecoveryPoint(readCheckpoint(dir, RECOVERY_POINT_FILE, fs));
  const checkpointedStart = parseLogStartOffset(readCheckpoint(dir, LOG_START_OFFSET_FILE, fs));
  const epochText = readCheckpoint(dir, LEADER_EPOCH_FILE, fs);
  const parsedEpochs =
    epochText === null ? new LeaderEpochCache() : LeaderEpochCache.parse(epochText);
  if (bases.length === 0) {
    const start = checkpointedStart ?? 0;
    const segment = Segment.create(dir, start, indexIntervalBytes, nowMs, fs);
    const epochs = parsedEpochs ?? new LeaderEpochCache();
    epochs.truncateFromEnd(start);
    return {
      segments: [segment],
      logStartOffset: start,
      epochs,
      recoveredSegments: 0,
      truncatedBytes: 0,
      checkpointsMatch: { logStartOffset: false, epochs: false },
    };
  }
  const segments = bases.map((base) => Segment.existing(dir, base, indexIntervalBytes, nowMs, fs));
  // Without trustworthy epochs, every batch is read again to rebuild them.
  const firstToRecover = parsedEpochs === null ? 0 : firstSegmentToRecover(segments, point);
  const loaded = loadSegments(segments, firstToRecover, point);
  const last = loaded.segments.at(-1);
  assert(last !== undefined, 'a log keeps at least one segment');
  for (const segment of loaded.segments) if (segment !== last) segment.closeFiles();
  const logEndOffset = last.nextOffset;
  const logStartOffset = Math.min(
    Math.max(checkpointedStart ?? 0, loaded.segments[0]?.baseOffset ?? 0),
    logEndOffset,
  );
  const epochs = rebuildEpochs(
    parsedEpochs ?? new LeaderEpochCache(),
    loaded.epochs,
    logStartOffset,
    logEndOffset,
  );
  while (
    loaded.segments.length > 1 &&
    (loaded.segments[0]?.nextOffset ?? Infinity) <= logStartOffset
  ) {
    loaded.segments.shift()?.delete();
  }
  const checkpointsMatch = {
    logStartOffset: checkpointedStart === logStartOffset,
    epochs: epochText === epochs.serialize(),
  };
  return { ...loaded, logStartOffset, epochs, checkpointsMatch };
}

/** -1 … n: segments before the returned index are trusted; n means none needs recovery. */
function firstSegmentToRecover(segments: readonly Segment[], point: RecoveryPoint | null): number {
  if (point === null) return 0;
  const lastIndex = segments.length - 1;
  if (point.cleanBytes >= 0) return segments.length; // Clean close: checked in loadSegments.
  let holding = 0;
  segments.forEach((segment, i) => {
    if (segment.baseOffset <= point.offset) holding = i;
  });
  return Math.min(holding, lastIndex);
}

interface LoadedSegments {
  readonly segments: Segment[];
  readonly epochs: EpochEntry[];
  readonly recoveredSegments: number;
  readonly truncatedBytes: number;
}

function loadSegments(
  segments: Segment[],
  firstToRecover: number,
  point: RecoveryPoint | null,
): LoadedSegments {
  const epochs: EpochEntry[] = [];
  let recoveredSegments = 0;
  let truncatedBytes = 0;
  for (let i = 0; i < segments.length; i += 1) {
    const segment = segments[i];
    assert(segment !== undefined, 'dense segments');
    const next = segments[i + 1];
    const cleanEnd =
      point !== null && point.cleanBytes >= 0 && point.offset >= segment.baseOffset
        ? point.offset
        : null;
    const expectedNext = next?.baseOffset ?? cleanEnd;
    const trusted =
      i < firstToRecover &&
      expectedNext !== null &&
      segment.loadTrusted(expectedNext) &&
      (next !== undefined || segment.sizeBytes === point?.cleanBytes);
    if (trusted) continue;
    const result = segment.recover();
    recoveredSegments += 1;
    truncatedBytes += result.truncatedBytes;
    epochs.push(...result.epochs);
    if (
      next !== undefined &&
      (result.truncatedBytes > 0 || segment.nextOffset !== next.baseOffset)
    ) {
      // Batches after a hole cannot be served: the log ends here.
      for (const later of segments.splice(i + 1)) later.delete();
      break;
    }
  }
  return { segments, epochs, recoveredSegments, truncatedBytes };
}

function rebuildEpochs(
  cache: LeaderEpochCache,
  seen: readonly EpochEntry[],
  logStartOffset: number,
  logEndOffset: number,
): LeaderEpochCache {
  cache.truncateFromEnd(logEndOffset);
  for (const entry of seen) {
    const latest = cache.entries.at(-1);
    // The checkpoint is written before the batches of a new epoch, so it normally knows
    // every epoch; batches only fill in what a lost checkpoint forgot.
    if (
      latest === undefined ||
      (entry.epoch > latest.epoch && entry.startOffset >= latest.startOffset)
    ) {
      cache.assign(entry.epoch, entry.startOffset);
    }
  }
  cache.truncateFromStart(logStartOffset);
  return cache;
}
