// OffsetCommit (key 8), v0-v8 (flexible from v8): committed offsets go to __consumer_offsets as
// the HTTP commits do. A classic member is fenced by its generation; a consumer without group
// membership commits with generation -1 and no member id, only while the group has no members.
// v1 sends a commit timestamp and v2-v4 a retention time: both are read and ignored, as Kafka
// 2.1+ ignores them (offsets.retention.minutes governs). A whole-request failure is every
// partition's code.
import type { CommitOutcome } from '../../../broker/index.ts';
import type { KafkaApi } from '../dispatcher.ts';
import { kafkaCodeByRillCode } from '../error-codes.ts';
import { KafkaWriter } from '../protocol/writer.ts';
import {
  checkGroupId,
  groupErrorCode,
  partitionsPerTopicMax,
  topicsPerRequestMax,
} from './group-common.ts';
import { readMessage, v, writeMessage, type Field, type Message } from './message-schema.ts';

const partition: readonly Field[] = [
  { name: 'partitionIndex', type: 'int32', versions: v(0) },
  { name: 'committedOffset', type: 'int64', versions: v(0) },
  { name: 'committedLeaderEpoch', type: 'int32', versions: v(6), absent: -1 },
  { name: 'commitTimestamp', type: 'int64', versions: v(1, 1), absent: -1 },
  { name: 'committedMetadata', type: 'string', versions: v(0), nullableFrom: 0 },
];

const topic: readonly Field[] = [
  { name: 'name', type: 'string', versions: v(0) },
  { name: 'partitions', type: { of: partition, max: partitionsPerTopicMax }, versions: v(0) },
];

export const offsetCommitRequest: readonly Field[] = [
  { name: 'groupId', type: 'string', versions: v(0) },
  { name: 'generationId', type: 'int32', versions: v(1), absent: -1 },
  { name: 'memberId', type: 'string', versions: v(1), absent: '' },
  { name: 'groupInstanceId', type: 'string', versions: v(7), nullableFrom: 7 },
  { name: 'retentionTimeMs', type: 'int64', versions: v(2, 4), absent: -1 },
  { name: 'topics', type: { of: topic, max: topicsPerRequestMax }, versions: v(0) },
];

const partitionResult: readonly Field[] = [
  { name: 'partitionIndex', type: 'int32', versions: v(0) },
  { name: 'errorCode', type: 'int16', versions: v(0) },
];

const topicResult: readonly Field[] = [
  { name: 'name', type: 'string', versions: v(0) },
  {
    name: 'partitions',
    type: { of: partitionResult, max: partitionsPerTopicMax },
    versions: v(0),
  },
];

export const offsetCommitResponse: readonly Field[] = [
  { name: 'throttleTimeMs', type: 'int32', versions: v(3) },
  { name: 'topics', type: { of: topicResult, max: topicsPerRequestMax }, versions: v(0) },
];

export const offsetCommitApi: KafkaApi = {
  apiKey: 8,
  name: 'OffsetCommit',
  minVersion: 0,
  maxVersion: 8,
  flexibleFrom: 8,
  async handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readMessage(reader, offsetCommitRequest, version, flexible);
    const group = request['groupId'] as string;
    const topics = request['topics'] as Message[];
    const offsets = topics.flatMap((t) =>
      (t['partitions'] as Message[]).map((p) => ({
        topic: t['name'] as string,
        partition: p['partitionIndex'] as number,
        offset: p['committedOffset'] as number,
        metadata: (p['committedMetadata'] as string | null) ?? '',
      })),
    );
    let codeOf: (topic: string, partition: number) => number;
    try {
      checkGroupId(group);
      const outcomes = await context.services.groups.commitClassic(
        group,
        {
          memberId: request['memberId'] as string,
          instanceId: request['groupInstanceId'] as string | null,
        },
        request['generationId'] as number,
        offsets,
      );
      const codes = new Map(outcomes.map((o) => [`${o.topic}:${o.partition}`, codeOfOutcome(o)]));
      codeOf = (t, p) => codes.get(`${t}:${p}`) ?? 0;
    } catch (error) {
      const code = groupErrorCode(error);
      codeOf = () => code;
    }
    const body = new KafkaWriter(128);
    return writeMessage(body, offsetCommitResponse, version, flexible, {
      throttleTimeMs: 0,
      topics: topics.map((t) => ({
        name: t['name'],
        partitions: (t['partitions'] as Message[]).map((p) => ({
          partitionIndex: p['partitionIndex'],
          errorCode: codeOf(t['name'] as string, p['partitionIndex'] as number),
        })),
      })),
    });
  },
};

function codeOfOutcome(outcome: CommitOutcome): number {
  return outcome.error === undefined ? 0 : kafkaCodeByRillCode[outcome.error.code];
}
