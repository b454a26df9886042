// The records a coordinator appends to its __consumer_offsets partition, and their codec. Keys
// (JSON arrays, the first element a format version): [1, "g", group] group metadata,
// [1, "m", group, memberId] one member, [1, "o", group, topic, partition] one committed offset,
// [1, "c", group] a classic-protocol group's generation and members (classic-group-state.ts).
// Values are JSON objects holding the whole current state of what the key names, so compaction
// (latest value per key) keeps exactly what a new coordinator needs; a null value (tombstone)
// deletes the key. A record that does not decode is skipped on replay, never trusted.
import type { AssignorName } from './assignor.ts';
import { isClassicGroupValue, type ClassicGroupValue } from './classic-group-state.ts';
import type { TopicPartitions } from './topic-partitions.ts';

export type GroupProtocol = 'consumer' | 'classic';

export interface GroupMetadataValue {
  readonly protocol: GroupProtocol;
  readonly groupEpoch: number;
  readonly assignor: AssignorName;
}

export interface MemberValue {
  readonly instanceId: string | null;
  readonly clientHost: string | null;
  readonly subscribedTopics: readonly string[] | null;
  readonly subscribedTopicRegex: string | null;
  readonly rebalanceTimeoutMs: number;
  readonly memberEpoch: number;
  readonly previousMemberEpoch: number;
  /** The member's share of the target assignment. */
  readonly target: readonly TopicPartitions[];
  /** What the member may own now, revoked partitions included until it confirms. */
  readonly granted: readonly TopicPartitions[];
  /** A static member that left with epoch -2 and may be replaced. */
  readonly leftStatic: boolean;
}

export interface OffsetValue {
  readonly offset: number;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

export type GroupRecord =
  | { readonly type: 'group'; readonly group: string; readonly value: GroupMetadataValue | null }
  | {
      readonly type: 'member';
      readonly group: string;
      readonly memberId: string;
      readonly value: MemberValue | null;
    }
  | {
      readonly type: 'classic';
      readonly group: string;
      readonly value: ClassicGroupValue | null;
    }
  | {
      readonly type: 'offset';
      readonly group: string;
      readonly topic: string;
      readonly partition: number;
      readonly value: OffsetValue | null;
    };

export interface EncodedGroupRecord {
  readonly key: Uint8Array;
  readonly value: Uint8Array | null;
}

const version = 1;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeGroupRecord(record: GroupRecord): EncodedGroupRecord {
  const key =
    record.type === 'group'
      ? [version, 'g', record.group]
      : record.type === 'member'
        ? [version, 'm', record.group, record.memberId]
        : record.type === 'classic'
          ? [version, 'c', record.group]
          : [version, 'o', record.group, record.topic, record.partition];
  return {
    key: encoder.encode(JSON.stringify(key)),
    value: record.value === null ? null : encoder.encode(JSON.stringify(record.value)),
  };
}

/** The record, or null for bytes this version does not understand. */
export function decodeGroupRecord(
  key: Uint8Array | null,
  value: Uint8Array | null,
): GroupRecord | null {
  if (key === null) return null;
  let parsedKey: unknown;
  let parsedValue: unknown;
  try {
    parsedKey = JSON.parse(decoder.decode(key));
    parsedValue = value === null ? null : JSON.parse(decoder.decode(value));
  } catch {
    return null; // Not ours (written by hand?): a replay skips it.
  }
  if (!Array.isArray(parsedKey) || parsedKey[0] !== version || typeof parsedKey[2] !== 'string') {
    return null;
  }
  const group = parsedKey[2];
  const isObject = parsedValue === null || typeof parsedValue === 'object';
  if (!isObject || Array.isArray(parsedValue)) return null;
  if (parsedKey[1] === 'g' && parsedKey.length === 3) {
    return isGroupValue(parsedValue) ? { type: 'group', group, value: parsedValue } : null;
  }
  if (parsedKey[1] === 'c' && parsedKey.length === 3) {
    const ok = parsedValue === null || isClassicGroupValue(parsedValue);
    return ok ? { type: 'classic', group, value: parsedValue as ClassicGroupValue | null } : null;
  }
  if (parsedKey[1] === 'm' && parsedKey.length === 4 && typeof parsedKey[3] === 'string') {
    return isMemberValue(parsedValue)
      ? { type: 'member', group, memberId: parsedKey[3], value: parsedValue }
      : null;
  }
  const [, , , topic, partition] = parsedKey as unknown[];
  if (parsedKey[1] === 'o' && typeof topic === 'string' && Number.isInteger(partition)) {
    return isOffsetValue(parsedValue)
      ? { type: 'offset', group, topic, partition: partition as number, value: parsedValue }
      : null;
  }
  return null;
}

function isGroupValue(v: unknown): v is GroupMetadataValue | null {
  if (v === null) return true;
  const g = v as Record<string, unknown>;
  return (
    (g.protocol === 'consumer' || g.protocol === 'classic') &&
    Number.isSafeInteger(g.groupEpoch) &&
    (g.assignor === 'uniform' || g.assignor === 'range')
  );
}

function isMemberValue(v: unknown): v is MemberValue | null {
  if (v === null) return true;
  const m = v as Record<string, unknown>;
  return (
    Number.isSafeInteger(m.memberEpoch) &&
    Number.isSafeInteger(m.previousMemberEpoch) &&
    Number.isSafeInteger(m.rebalanceTimeoutMs) &&
    isPartitionList(m.target) &&
    isPartitionList(m.granted) &&
    typeof m.leftStatic === 'boolean' &&
    (m.subscribedTopics === null || isStringList(m.subscribedTopics)) &&
    (m.subscribedTopicRegex === null || typeof m.subscribedTopicRegex === 'string') &&
    (m.instanceId === null || typeof m.instanceId === 'string') &&
    (m.clientHost === null || typeof m.clientHost === 'string')
  );
}

function isOffsetValue(v: unknown): v is OffsetValue | null {
  if (v === null) return true;
  const o = v as Record<string, unknown>;
  return (
    Number.isSafeInteger(o.offset) &&
    typeof o.metadata === 'string' &&
    Number.isSafeInteger(o.commitTimestampMs)
  );
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

function isPartitionList(v: unknown): v is TopicPartitions[] {
  return (
    Array.isArray(v) &&
    v.every((e: unknown) => {
      const entry = e as Record<string, unknown> | null;
      return (
        entry !== null &&
        typeof entry.topic === 'string' &&
        Array.isArray(entry.partitions) &&
        entry.partitions.every((p) => Number.isInteger(p))
      );
    })
  );
}
