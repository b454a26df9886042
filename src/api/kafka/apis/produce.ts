// Produce (key 0), v3-v9 (RecordBatch v2 only, as Kafka 4 accepts): each partition's record
// bytes go to the same broker.produce the HTTP routes call — acks 0/1/-1, min.insync.replicas,
// idempotent sequence checks, max.message.bytes — on this node only: a partition led elsewhere
// answers NOT_LEADER_OR_FOLLOWER and the client refreshes its metadata, as with Kafka. An
// unknown topic is auto-created (auto.create.topics.enable). acks=0 gets no response.
import type { Acks } from '../../../broker/index.ts';
import { userTopicParam } from '../../server/request-checks.ts';
import type { KafkaApi, KafkaRequestContext } from '../dispatcher.ts';
import { kafkaErrorCode, kafkaErrorCodeOf } from '../error-codes.ts';
import { describeOrCreate } from '../kafka-topics.ts';
import type { KafkaReader } from '../protocol/reader.ts';
import { KafkaWriter } from '../protocol/writer.ts';

/** Topics, and partitions per topic, one Produce request may carry. */
export const produceTopicsMax = 10_000;
export const producePartitionsMax = 100_000;

interface ProducePartition {
  readonly partition: number;
  readonly records: Buffer;
}

interface ProduceTopic {
  readonly name: string;
  readonly partitions: readonly ProducePartition[];
}

export interface ProduceRequestBody {
  readonly transactionalId: string | null;
  readonly acks: number;
  readonly timeoutMs: number;
  readonly topics: readonly ProduceTopic[];
}

export function readProduceRequest(reader: KafkaReader, flexible: boolean): ProduceRequestBody {
  const transactionalId = reader.nullableStringOf(flexible);
  const acks = reader.int16();
  const timeoutMs = reader.int32();
  const topics = reader.arrayOf(
    flexible,
    (r) => {
      const name = r.stringOf(flexible);
      const partitions = r.arrayOf(
        flexible,
        (pr) => {
          const partition = pr.int32();
          const records = pr.nullableBytesOf(flexible) ?? Buffer.alloc(0);
          pr.tagsOf(flexible);
          return { partition, records };
        },
        producePartitionsMax,
      );
      r.tagsOf(flexible);
      return { name, partitions };
    },
    produceTopicsMax,
  );
  reader.tagsOf(flexible);
  return { transactionalId, acks, timeoutMs, topics };
}

interface PartitionAnswer {
  readonly partition: number;
  readonly errorCode: number;
  readonly baseOffset: number;
  readonly logStartOffset: number;
  readonly errorMessage: string | null;
}

function acksOf(acks: number): Acks | null {
  if (acks === -1) return 'all';
  if (acks === 0 || acks === 1) return acks;
  return null;
}

async function produceTopic(
  context: KafkaRequestContext,
  request: ProduceRequestBody,
  topic: ProduceTopic,
): Promise<PartitionAnswer[]> {
  const { services, signal } = context;
  const failAll = (errorCode: number, message: string | null): PartitionAnswer[] =>
    topic.partitions.map(({ partition }) => ({
      partition,
      errorCode,
      baseOffset: -1,
      logStartOffset: -1,
      errorMessage: message,
    }));
  const acks = acksOf(request.acks);
  if (acks === null) return failAll(kafkaErrorCode.INVALID_REQUIRED_ACKS, 'acks is -1, 0 or 1');
  if (request.transactionalId !== null) {
    return failAll(kafkaErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'no transactions');
  }
  try {
    userTopicParam(topic.name);
    await describeOrCreate(services, topic.name, true);
  } catch (error) {
    return failAll(kafkaErrorCodeOf(error), (error as Error).message);
  }
  const timeoutMs = Math.max(0, Math.min(request.timeoutMs, services.config.fetchWaitMsMax));
  return Promise.all(
    topic.partitions.map(async ({ partition, records }): Promise<PartitionAnswer> => {
      try {
        const produce = { topic: topic.name, partition, batches: records, acks, timeoutMs, signal };
        const result = await services.broker.produce(produce);
        services.metrics.countProduced(topic.name, records.length);
        services.metrics.produceRecords.inc(result.recordCount);
        const { logStartOffset } = services.broker.listOffsets(topic.name, partition);
        const baseOffset = result.baseOffset;
        return { partition, errorCode: 0, baseOffset, logStartOffset, errorMessage: null };
      } catch (error) {
        const errorCode = kafkaErrorCodeOf(error);
        const errorMessage = (error as Error).message;
        return { partition, errorCode, baseOffset: -1, logStartOffset: -1, errorMessage };
      }
    }),
  );
}

export const produceApi: KafkaApi = {
  apiKey: 0,
  name: 'Produce',
  minVersion: 3,
  maxVersion: 9,
  flexibleFrom: 9,
  async handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readProduceRequest(reader, flexible);
    const answers = await Promise.all(
      request.topics.map(async (topic) => ({
        name: topic.name,
        partitions: await produceTopic(context, request, topic),
      })),
    );
    if (request.acks === 0) return null;
    const w = new KafkaWriter(256);
    w.arrayOf(flexible, answers, (tw, topic) => {
      tw.stringOf(flexible, topic.name);
      tw.arrayOf(flexible, topic.partitions, (pw, answer) => {
        pw.int32(answer.partition).int16(answer.errorCode).int64(answer.baseOffset);
        pw.int64(-1); // log_append_time_ms: -1 for CreateTime topics
        if (version >= 5) pw.int64(answer.logStartOffset);
        if (version >= 8) {
          pw.arrayOf(flexible, [], () => undefined); // record_errors
          pw.nullableStringOf(flexible, answer.errorCode === 0 ? null : answer.errorMessage);
        }
        pw.tagsOf(flexible);
      });
      tw.tagsOf(flexible);
    });
    w.int32(0); // throttle_time_ms
    return w.tagsOf(flexible);
  },
};
