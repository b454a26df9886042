// The node's log cleaner: every check interval it picks the dirtiest local replica of a
// compacted topic (dirty ratio ≥ min.cleanable.dirty.ratio, or dirt older than
// max.compaction.lag.ms) and cleans it (src/log/cleaner.ts), one partition at a time, with
// one key map of log.cleaner.dedupe.buffer.size bytes for the node. Each replica, leader or
// follower, compacts its own log below its own HW; nothing is replicated or coordinated.
import { assert, type Clock, type WallClock } from '../common/index.ts';
import { OffsetMap, type CleanerStatus } from '../log/index.ts';
import type { BrokerLogger } from './broker-logger.ts';
import type { Partition } from './partition.ts';
import type { TopicConfig } from './topic-config.ts';

export interface LogCleanerSettings {
  /** log.cleaner.dedupe.buffer.size: the key map, allocated at the first clean. */
  readonly dedupeBufferBytes: number;
  /** log.cleaner.backoff.ms: the pause between checks when nothing was dirty enough. */
  readonly checkIntervalMs: number;
}

export const defaultLogCleanerSettings: LogCleanerSettings = {
  dedupeBufferBytes: 16 * 1024 * 1024,
  checkIntervalMs: 15_000,
};

/** Partitions whose last clean time is kept for metrics; older entries are dropped first. */
export const cleanedPartitionsTrackedMax = 2_000;

export interface LogCleanerStats {
  readonly runs: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Bytes read per second of the last clean, in MiB/s (0 before the first). */
  readonly lastMibPerSecond: number;
  /** Wall time of each tracked partition's last clean, by `topic-partition` key. */
  readonly lastCleanMs: ReadonlyMap<string, { topic: string; partition: number; atMs: number }>;
}

export interface LogCleanerDeps {
  readonly clock: Clock;
  readonly wallClock: WallClock;
  readonly logger: BrokerLogger;
  /** The local replicas, every one open. */
  readonly replicas: () => readonly Partition[];
}

/** A replica worth cleaning now, and how dirty it is. */
export interface CleanCandidate {
  readonly replica: Partition;
  readonly status: CleanerStatus;
}

/**
 * The replica to clean next (pure): of the compacted ones with dirty bytes whose dirty ratio
 * reaches min.cleanable.dirty.ratio or whose dirt is older than max.compaction.lag.ms, the one
 * with the highest ratio; a lag-forced one wins over ratio. Null when none qualifies.
 */
export function pickCandidate(
  candidates: readonly { key: string; config: TopicConfig; status: CleanerStatus }[],
  nowMs: number,
): number | null {
  let best: number | null = null;
  let bestScore = -1;
  candidates.forEach((candidate, i) => {
    const { config, status } = candidate;
    if (!config.cleanupPolicy.compact || status.dirtyBytes === 0) return;
    const dirtySince = status.firstDirtyTimestampMs;
    const overdue = dirtySince !== null && nowMs - dirtySince > config.maxCompactionLagMs;
    if (!overdue && status.dirtyRatio < config.minCleanableDirtyRatio) return;
    const score = (overdue ? 1 : 0) + status.dirtyRatio;
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  });
  return best;
}

export class LogCleanerService {
  readonly #settings: LogCleanerSettings;
  readonly #deps: LogCleanerDeps;
  #map: OffsetMap | null = null;
  #cancelTimer: (() => void) | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  #runs = 0;
  #bytesRead = 0;
  #bytesWritten = 0;
  #lastMibPerSecond = 0;
  readonly #lastCleanMs = new Map<string, { topic: string; partition: number; atMs: number }>();

  constructor(settings: LogCleanerSettings, deps: LogCleanerDeps) {
    assert(settings.checkIntervalMs > 0, 'checkIntervalMs must be positive');
    assert(settings.dedupeBufferBytes > 0, 'dedupeBufferBytes must be positive');
    this.#settings = settings;
    this.#deps = deps;
  }

  start(): void {
    this.#schedule(this.#settings.checkIntervalMs);
  }

  /** Stops scheduling and waits for a clean in progress (it stops when its log closes). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = null;
    await this.#running;
  }

  stats(): LogCleanerStats {
    return {
      runs: this.#runs,
      bytesRead: this.#bytesRead,
      bytesWritten: this.#bytesWritten,
      lastMibPerSecond: this.#lastMibPerSecond,
      lastCleanMs: this.#lastCleanMs,
    };
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#cancelTimer = this.#deps.clock.schedule(delayMs, () => {
      this.#cancelTimer = null;
      this.#running = this.runOnce().then(
        (cleaned) => this.#schedule(cleaned ? 0 : this.#settings.checkIntervalMs),
        (error: unknown) => {
          // A failed clean changed nothing (or fenced its log, which reports it itself).
          this.#deps.logger.warn({ err: error }, 'log clean failed');
          this.#schedule(this.#settings.checkIntervalMs);
        },
      );
    });
  }

  /** Cleans the dirtiest eligible replica, if any; true when one was cleaned. */
  async runOnce(): Promise<boolean> {
    const nowMs = this.#deps.wallClock.wallMs();
    const replicas = this.#deps.replicas().filter((r) => r.config.cleanupPolicy.compact);
    const candidates = replicas.map((replica) => ({
      key: replica.key,
      config: replica.config,
      status: replica.log.cleanerStatus(limitsOf(replica, nowMs)),
    }));
    const picked = pickCandidate(candidates, nowMs);
    const replica = picked === null ? undefined : replicas[picked];
    if (replica === undefined) return false;
    this.#map ??= new OffsetMap(this.#settings.dedupeBufferBytes);
    const startedMs = this.#deps.clock.nowMs();
    const result = await replica.log.clean({
      ...limitsOf(replica, nowMs),
      deleteRetentionMs: replica.config.deleteRetentionMs,
      offsetMap: this.#map,
      yieldNow: () => this.#yieldNow(),
    });
    if (result.outcome === 'buffer-too-small') {
      this.#deps.logger.warn(
        { partition: replica.key, dedupeBufferBytes: this.#settings.dedupeBufferBytes },
        'log.cleaner.dedupe.buffer.size cannot hold one batch of keys; not cleaning',
      );
      return false;
    }
    const seconds = Math.max(this.#deps.clock.nowMs() - startedMs, 1) / 1000;
    this.#runs += 1;
    this.#bytesRead += result.bytesRead;
    this.#bytesWritten += result.bytesWritten;
    this.#lastMibPerSecond = result.bytesRead / (1024 * 1024) / seconds;
    this.#track(replica, nowMs);
    return result.outcome === 'cleaned';
  }

  #track(replica: Partition, atMs: number): void {
    this.#lastCleanMs.delete(replica.key);
    this.#lastCleanMs.set(replica.key, {
      topic: replica.topic,
      partition: replica.partition,
      atMs,
    });
    for (const key of this.#lastCleanMs.keys()) {
      if (this.#lastCleanMs.size <= cleanedPartitionsTrackedMax) break;
      this.#lastCleanMs.delete(key);
    }
  }

  /** A turn of the event loop (a timer of 0 ms), so produce and fetch run between reads. */
  #yieldNow(): Promise<void> {
    return new Promise((resolve) => {
      this.#deps.clock.schedule(0, resolve);
    });
  }
}

function limitsOf(replica: Partition, nowMs: number) {
  return {
    nowMs,
    highWatermark: replica.highWatermark,
    minCompactionLagMs: replica.config.minCompactionLagMs,
  };
}
