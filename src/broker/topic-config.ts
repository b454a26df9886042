// Topic configs under Kafka's names. The metadata image stores only the overrides a user set,
// as strings (Kafka's form); `resolveTopicConfig` validates them and fills in defaults. Pure and
// deterministic, because the metadata state machine runs it at apply time on every node.
import type { FlushPolicy, PartitionLogConfig } from '../log/index.ts';

export type CompressionType = 'producer' | 'uncompressed' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** cleanup.policy: which of retention (`delete`) and compaction (`compact`) run on the topic. */
export interface CleanupPolicy {
  readonly delete: boolean;
  readonly compact: boolean;
}

/** Kafka's Long.MAX_VALUE for max.compaction.lag.ms, clamped to what a number holds exactly. */
export const compactionLagMsUnbounded = Number.MAX_SAFE_INTEGER;

export interface TopicConfig {
  readonly retentionMs: number; // retention.ms, -1 = keep forever
  readonly retentionBytes: number; // retention.bytes, -1 = unlimited
  readonly segmentBytes: number; // segment.bytes
  readonly segmentMs: number; // segment.ms
  readonly minInsyncReplicas: number; // min.insync.replicas
  readonly cleanupPolicy: CleanupPolicy; // cleanup.policy = delete | compact | compact,delete
  readonly minCleanableDirtyRatio: number; // min.cleanable.dirty.ratio, in [0, 1]
  readonly minCompactionLagMs: number; // min.compaction.lag.ms: younger records stay dirty
  readonly maxCompactionLagMs: number; // max.compaction.lag.ms: older dirt forces a clean
  readonly deleteRetentionMs: number; // delete.retention.ms: how long tombstones outlive a clean
  readonly maxMessageBytes: number; // max.message.bytes: the largest batch accepted
  readonly compressionType: CompressionType; // compression.type
  readonly uncleanLeaderElectionEnable: boolean; // unclean.leader.election.enable
  readonly indexIntervalBytes: number; // index.interval.bytes
  readonly flush: FlushPolicy; // log.flush = always | interval:MS | never
}

export const defaultTopicConfig: TopicConfig = {
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  minInsyncReplicas: 1,
  cleanupPolicy: { delete: true, compact: false },
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: compactionLagMsUnbounded,
  deleteRetentionMs: 24 * 3600 * 1000,
  maxMessageBytes: 1024 * 1024 + 12, // Kafka's default, 1 MiB plus a batch's log overhead
  compressionType: 'producer',
  uncleanLeaderElectionEnable: false,
  indexIntervalBytes: 4096,
  flush: { kind: 'always' }, // DESIGN.md §8: an acknowledgement means the record is on disk.
};

/** The largest segment or batch a config may ask for: the log's 32-bit file positions. */
const bytesConfigMax = 2 ** 31 - 1;
export const topicConfigCountMax = 64;
export const topicConfigValueCharsMax = 256;

type Parser = (value: string) => Partial<Mutable<TopicConfig>> | string;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function integer(min: number, max: number, set: (n: number) => Partial<Mutable<TopicConfig>>) {
  return (value: string): Partial<Mutable<TopicConfig>> | string => {
    if (!/^-?\d{1,16}$/.test(value)) return `must be an integer, got '${value}'`;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min || n > max) return `must be in [${min}, ${max}]`;
    return set(n);
  };
}

function oneOf<T extends string>(values: readonly T[], set: (v: T) => Partial<TopicConfig>) {
  return (value: string): Partial<TopicConfig> | string =>
    (values as readonly string[]).includes(value)
      ? set(value as T)
      : `must be one of ${values.join(', ')}`;
}

function parseCleanupPolicy(value: string): Partial<TopicConfig> | string {
  const parts = value.split(',').map((part) => part.trim());
  const known = parts.every((part) => part === 'delete' || part === 'compact');
  if (!known || parts.length > 2 || new Set(parts).size !== parts.length) {
    return `must be delete, compact or compact,delete, got '${value}'`;
  }
  return { cleanupPolicy: { delete: parts.includes('delete'), compact: parts.includes('compact') } };
}

function parseRatio(value: string): Partial<TopicConfig> | string {
  if (!/^(0(\.\d{1,16})?|1(\.0{1,16})?|\.\d{1,16})$/.test(value)) {
    return `must be a decimal in [0, 1], got '${value}'`;
  }
  return { minCleanableDirtyRatio: Number(value) };
}

function parseFlush(value: string): Partial<TopicConfig> | string {
  if (value === 'always' || value === 'never') return { flush: { kind: value } };
  const match = /^interval:(\d{1,9})$/.exec(value);
  const intervalMs = Number(match?.[1] ?? Number.NaN);
  if (!(intervalMs >= 1)) return `must be always, never or interval:MS (MS ≥ 1), got '${value}'`;
  return { flush: { kind: 'interval', intervalMs } };
}

const parsers: Readonly<Record<string, Parser>> = {
  'retention.ms': integer(-1, Number.MAX_SAFE_INTEGER, (retentionMs) => ({ retentionMs })),
  'retention.bytes': integer(-1, Number.MAX_SAFE_INTEGER, (retentionBytes) => ({ retentionBytes })),
  'segment.bytes': integer(1024, bytesConfigMax, (segmentBytes) => ({ segmentBytes })),
  'segment.ms': integer(1, Number.MAX_SAFE_INTEGER, (segmentMs) => ({ segmentMs })),
  'min.insync.replicas': integer(1, 255, (minInsyncReplicas) => ({ minInsyncReplicas })),
  'max.message.bytes': integer(64, bytesConfigMax, (maxMessageBytes) => ({ maxMessageBytes })),
  'index.interval.bytes': integer(1, bytesConfigMax, (indexIntervalBytes) => ({
    indexIntervalBytes,
  })),
  'cleanup.policy': parseCleanupPolicy,
  'min.cleanable.dirty.ratio': parseRatio,
  'min.compaction.lag.ms': integer(0, Number.MAX_SAFE_INTEGER, (minCompactionLagMs) => ({
    minCompactionLagMs,
  })),
  'max.compaction.lag.ms': integer(1, Number.MAX_SAFE_INTEGER, (maxCompactionLagMs) => ({
    maxCompactionLagMs,
  })),
  'delete.retention.ms': integer(0, Number.MAX_SAFE_INTEGER, (deleteRetentionMs) => ({
    deleteRetentionMs,
  })),
  'compression.type': oneOf(
    ['producer', 'uncompressed', 'gzip', 'snappy', 'lz4', 'zstd'] as const,
    (compressionType) => ({ compressionType }),
  ),
  'unclean.leader.election.enable': oneOf(['true', 'false'], (v) => ({
    uncleanLeaderElectionEnable: v === 'true',
  })),
  'log.flush': parseFlush,
};

export const topicConfigNames: readonly string[] = Object.keys(parsers).sort();

export type TopicConfigResult =
  | { readonly ok: true; readonly config: TopicConfig }
  | { readonly ok: false; readonly message: string };

/** Validates overrides (Kafka names → string values) and merges them over the defaults. */
export function resolveTopicConfig(overrides: Readonly<Record<string, string>>): TopicConfigResult {
  const entries = Object.entries(overrides);
  if (entries.length > topicConfigCountMax) {
    return { ok: false, message: `at most ${topicConfigCountMax} configs` };
  }
  let config: TopicConfig = defaultTopicConfig;
  for (const [name, value] of entries) {
    const parse = Object.hasOwn(parsers, name) ? parsers[name] : undefined;
    if (parse === undefined) return { ok: false, message: `unknown topic config '${name}'` };
    if (typeof value !== 'string' || value.length > topicConfigValueCharsMax) {
      return { ok: false, message: `config '${name}' must be a short string` };
    }
    const parsed = parse(value);
    if (typeof parsed === 'string') return { ok: false, message: `config '${name}' ${parsed}` };
    config = { ...config, ...parsed };
  }
  if (config.minCompactionLagMs > config.maxCompactionLagMs) {
    return { ok: false, message: `config 'min.compaction.lag.ms' must be ≤ max.compaction.lag.ms` };
  }
  return { ok: true, config };
}

/** The part of a topic's config the partition log needs. */
export function partitionLogConfig(config: TopicConfig): PartitionLogConfig {
  return {
    segmentBytesMax: config.segmentBytes,
    segmentMsMax: config.segmentMs,
    // Kafka: a topic without `delete` in cleanup.policy is never trimmed by time or size.
    retentionMs: config.cleanupPolicy.delete ? config.retentionMs : -1,
    retentionBytes: config.cleanupPolicy.delete ? config.retentionBytes : -1,
    maxMessageBytes: config.maxMessageBytes,
    indexIntervalBytes: config.indexIntervalBytes,
    flush: config.flush,
  };
}

/** The effective configs in Kafka's string form, for describe. */
export function describeTopicConfig(config: TopicConfig): Record<string, string> {
  const flush = config.flush;
  return {
    'cleanup.policy': cleanupPolicyName(config.cleanupPolicy),
    'compression.type': config.compressionType,
    'delete.retention.ms': String(config.deleteRetentionMs),
    'index.interval.bytes': String(config.indexIntervalBytes),
    'log.flush': flush.kind === 'interval' ? `interval:${flush.intervalMs}` : flush.kind,
    'max.compaction.lag.ms': String(config.maxCompactionLagMs),
    'max.message.bytes': String(config.maxMessageBytes),
    'min.cleanable.dirty.ratio': String(config.minCleanableDirtyRatio),
    'min.compaction.lag.ms': String(config.minCompactionLagMs),
    'min.insync.replicas': String(config.minInsyncReplicas),
    'retention.bytes': String(config.retentionBytes),
    'retention.ms': String(config.retentionMs),
    'segment.bytes': String(config.segmentBytes),
    'segment.ms': String(config.segmentMs),
    'unclean.leader.election.enable': String(config.uncleanLeaderElectionEnable),
  };
}

/** cleanup.policy in Kafka's string form. */
export function cleanupPolicyName(policy: CleanupPolicy): string {
  if (policy.compact && policy.delete) return 'compact,delete';
  return policy.compact ? 'compact' : 'delete';
}
