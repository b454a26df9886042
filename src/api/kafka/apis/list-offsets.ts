// ListOffsets (key 2), v0-v5: the offset for a timestamp per partition through the same
// broker.offsetForTimestamp as GET …/offsets?timestamp=T: -1 latest (the high watermark), -2
// earliest (the log start), else the first offset whose timestamp is at or after it (-1 when
// none). The found record's own timestamp is not kept, so the answer's timestamp is -1.
import { topicParam } from '../../server/request-checks.ts';
import type { KafkaApi, KafkaRequestContext } from '../dispatcher.ts';
import { kafkaErrorCodeOf } from '../error-codes.ts';
import type { KafkaReader } from '../protocol/reader.ts';
import { KafkaWriter } from '../protocol/writer.ts';

/** Topics, and partitions per topic, one ListOffsets request may name. */
export const listOffsetsTopicsMax = 10_000;
export const listOffsetsPartitionsMax = 100_000;

interface AskedPartition {
  readonly partition: number;
  readonly timestamp: number;
}

export function readListOffsetsRequest(
  reader: KafkaReader,
  version: number,
): { name: string; partitions: AskedPartition[] }[] {
  reader.int32(); // replica_id
  if (version >= 2) reader.int8(); // isolation_level
  return reader.array((r) => {
    const name = r.string();
    const partitions = r.array((pr) => {
      const partition = pr.int32();
      if (version >= 4) pr.int32(); // current_leader_epoch
      const timestamp = pr.int64Number();
      if (version === 0) pr.int32(); // max_num_offsets: one is answered
      return { partition, timestamp };
    }, listOffsetsPartitionsMax);
    return { name, partitions };
  }, listOffsetsTopicsMax);
}

interface Answer {
  readonly partition: number;
  readonly errorCode: number;
  readonly offset: number;
  readonly leaderEpoch: number;
}

async function answerPartition(
  context: KafkaRequestContext,
  topic: string,
  { partition, timestamp }: AskedPartition,
): Promise<Answer> {
  const { broker } = context.services;
  try {
    topicParam(topic);
    const found = await broker.offsetForTimestamp(topic, partition, timestamp);
    const leaderEpoch = broker.describeTopic(topic).partitions[partition]?.leaderEpoch ?? -1;
    return { partition, errorCode: 0, offset: found ?? -1, leaderEpoch };
  } catch (error) {
    return { partition, errorCode: kafkaErrorCodeOf(error), offset: -1, leaderEpoch: -1 };
  }
}

export const listOffsetsApi: KafkaApi = {
  apiKey: 2,
  name: 'ListOffsets',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 6,
  async handle(context, reader, header) {
    const version = header.apiVersion;
    const topics = readListOffsetsRequest(reader, version);
    const answers = await Promise.all(
      topics.map(async (topic) => ({
        name: topic.name,
        partitions: await Promise.all(
          topic.partitions.map((asked) => answerPartition(context, topic.name, asked)),
        ),
      })),
    );
    const w = new KafkaWriter(256);
    if (version >= 2) w.int32(0); // throttle_time_ms
    w.array(answers, (tw, topic) => {
      tw.string(topic.name);
      tw.array(topic.partitions, (pw, answer) => {
        pw.int32(answer.partition).int16(answer.errorCode);
        if (version === 0) {
          pw.array(answer.offset === -1 ? [] : [answer.offset], (ow, offset) => ow.int64(offset));
          return;
        }
        pw.int64(-1).int64(answer.offset); // timestamp, offset
        if (version >= 4) pw.int32(answer.leaderEpoch);
      });
    });
    return w;
  },
};
