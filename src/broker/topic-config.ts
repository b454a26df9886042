// Topic configs under Kafka's names. The metadata image stores only the overrides a user set,
// as strings (Kafka's form); `resolveTopicConfig` validates them and fills in defaults. Pure and
// deterministic, because the metadata state machine runs it at apply time on every node.
import type { FlushPolicy, PartitionLogConfig } from '../log/index.ts';

export type CompressionType = 'producer' | 'uncompressed' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface TopicConfig {
  readonly retentionMs: number; // retention.ms, -1 = keep forever
  readonly retentionBytes: number; // retention.bytes, -1 = unlimited
  readonly segmentBytes: number; // segment.bytes
  readonly segmentMs: number; // segment.ms
  readonly minInsyncReplicas: number; // min.insync.replicas
  readonly cleanupPolicy: 'delete'; // cleanup.policy (compaction is not implemented)
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
  cleanupPolicy: 'delete',
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
  'cleanup.policy': oneOf(['delete'], () => ({ cleanupPolicy: 'delete' })),
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
  return { ok: true, config };
}

/** The part of a topic's config the partition log needs. */
export function partitionLogConfig(config: TopicConfig): PartitionLogConfig {
  return {
    segmentBytesMax: config.segmentBytes,
    segmentMsMax: config.segmentMs,
    retentionMs: config.retentionMs,
    retentionBytes: config.retentionBytes,
    maxMessageBytes: config.maxMessageBytes,
    indexIntervalBytes: config.indexIntervalBytes,
    flush: config.flush,
  };
}

/** The effective configs in Kafka's string form, for describe. */
export function describeTopicConfig(config: TopicConfig): Record<string, string> {
  const flush = config.flush;
  return {
    'cleanup.policy': config.cleanupPolicy,
    'compression.type': config.compressionType,
    'index.interval.bytes': String(config.indexIntervalBytes),
    'log.flush': flush.kind === 'interval' ? `interval:${flush.intervalMs}` : flush.kind,
    'max.message.bytes': String(config.maxMessageBytes),
    'min.insync.replicas': String(config.minInsyncReplicas),
    'retention.bytes': String(config.retentionBytes),
    'retention.ms': String(config.retentionMs),
    'segment.bytes': String(config.segmentBytes),
    'segment.ms': String(config.segmentMs),
    'unclean.leader.election.enable': String(config.uncleanLeaderElectionEnable),
  };
}
