// A partition of a topic as one string key, `topic:partition` (topic names never hold ':'), so
// assignments are plain sets; and the conversions to and from the API's [{topic, partitions}].
import { assert } from '../../common/index.ts';

export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

export function topicOfKey(key: string): string {
  const at = key.lastIndexOf(':');
  assert(at > 0, `bad partition key ${key}`);
  return key.slice(0, at);
}

export function partitionOfKey(key: string): number {
  return Number(key.slice(key.lastIndexOf(':') + 1));
}

/** Sorted by topic, partitions ascending. */
export function toTopicPartitions(keys: Iterable<string>): TopicPartitions[] {
  const byTopic = new Map<string, number[]>();
  for (const key of keys) {
    const topic = topicOfKey(key);
    const list = byTopic.get(topic) ?? [];
    list.push(partitionOfKey(key));
    byTopic.set(topic, list);
  }
  return [...byTopic.keys()]
    .sort()
    .map((topic) => ({ topic, partitions: (byTopic.get(topic) ?? []).sort((a, b) => a - b) }));
}

export function fromTopicPartitions(list: readonly TopicPartitions[]): Set<string> {
  const keys = new Set<string>();
  for (const entry of list)
    for (const p of entry.partitions) keys.add(partitionKey(entry.topic, p));
  return keys;
}

export function sameKeys(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const key of a) if (!b.has(key)) return false;
  return true;
}
