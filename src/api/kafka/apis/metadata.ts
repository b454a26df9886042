// Metadata (key 3), v0-v12: the alive brokers with host and port, the cluster id, a real
// controller, and each asked topic's partitions (leader, epoch, replicas, ISR). Unknown topics
// are created when auto.create.topics.enable and the request allows it (always before v4;
// allow_auto_topic_creation from v4). Null topics (v1+) or an empty list (v0) ask for all.
import type { TopicDescription } from '../../../broker/index.ts';
import type { KafkaApi, KafkaServices } from '../dispatcher.ts';
import { kafkaErrorCode, kafkaErrorCodeOf } from '../error-codes.ts';
import { controllerIdOf, describeOrCreate, kafkaEndpoints, topicIdBytes } from '../kafka-topics.ts';
import type { KafkaReader } from '../protocol/reader.ts';
import { KafkaWriter } from '../protocol/writer.ts';

/** Topics one Metadata request may name. */
export const metadataTopicsMax = 10_000;
/** Kafka's "authorized operations not asked for" value. */
const operationsUnknown = -2147483648;
const zeroUuid = Buffer.alloc(16);

interface MetadataRequest {
  /** null: every topic. */
  readonly topics: readonly string[] | null;
  readonly allowAutoCreate: boolean;
}

export function readMetadataRequest(
  reader: KafkaReader,
  version: number,
  flexible: boolean,
): MetadataRequest {
  const topics = reader.nullableArrayOf(
    flexible,
    (r) => {
      if (version >= 10) r.uuid();
      const name = version >= 10 ? r.nullableStringOf(flexible) : r.stringOf(flexible);
      r.tagsOf(flexible);
      return name ?? '';
    },
    metadataTopicsMax,
  );
  const allowAutoCreate = version >= 4 ? reader.boolean() : true;
  if (version >= 8 && version <= 10) reader.boolean(); // include_cluster_authorized_operations
  if (version >= 8) reader.boolean(); // include_topic_authorized_operations
  reader.tagsOf(flexible);
  const isAll = topics === null || (version === 0 && topics.length === 0);
  return { topics: isAll ? null : topics, allowAutoCreate };
}

type TopicAnswer =
  | { readonly name: string; readonly description: TopicDescription }
  | { readonly name: string; readonly errorCode: number };

async function answerTopics(
  services: KafkaServices,
  request: MetadataRequest,
): Promise<TopicAnswer[]> {
  const { broker } = services;
  const names = request.topics ?? broker.listTopics().map((topic) => topic.name);
  const answers: TopicAnswer[] = [];
  for (const name of [...new Set(names)]) {
    try {
      const mayCreate = request.topics !== null && request.allowAutoCreate;
      answers.push({ name, description: await describeOrCreate(services, name, mayCreate) });
    } catch (error) {
      answers.push({ name, errorCode: kafkaErrorCodeOf(error) });
    }
  }
  return answers;
}

function writeTopic(w: KafkaWriter, answer: TopicAnswer, version: number, flexible: boolean): void {
  const description = 'description' in answer ? answer.description : null;
  w.int16('errorCode' in answer ? answer.errorCode : kafkaErrorCode.NONE);
  if (version >= 12) w.compactNullableString(answer.name);
  else w.stringOf(flexible, answer.name);
  if (version >= 10) w.uuid(description === null ? zeroUuid : topicIdBytes(description.topicId));
  if (version >= 1) w.boolean(answer.name.startsWith('__'));
  w.arrayOf(flexible, description?.partitions ?? [], (pw, partition) => {
    const hasLeader = partition.leader !== null;
    pw.int16(hasLeader ? kafkaErrorCode.NONE : kafkaErrorCode.LEADER_NOT_AVAILABLE);
    pw.int32(partition.partition).int32(partition.leader ?? -1);
    if (version >= 7) pw.int32(partition.leaderEpoch);
    pw.arrayOf(flexible, partition.replicas, (iw, id) => iw.int32(id));
    pw.arrayOf(flexible, partition.isr, (iw, id) => iw.int32(id));
    if (version >= 5) {
      const offline = partition.replicas.filter((id) => !partition.isr.includes(id));
      pw.arrayOf(flexible, offline, (iw, id) => iw.int32(id));
    }
    pw.tagsOf(flexible);
  });
  if (version >= 8) w.int32(operationsUnknown);
  w.tagsOf(flexible);
}

export const metadataApi: KafkaApi = {
  apiKey: 3,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 12,
  flexibleFrom: 9,
  async handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readMetadataRequest(reader, version, flexible);
    const { broker } = context.services;
    const topics = await answerTopics(context.services, request);
    const w = new KafkaWriter(1024);
    if (version >= 3) w.int32(0); // throttle_time_ms
    w.arrayOf(flexible, kafkaEndpoints(broker), (bw, endpoint) => {
      bw.int32(endpoint.nodeId).stringOf(flexible, endpoint.host).int32(endpoint.port);
      if (version >= 1) bw.nullableStringOf(flexible, null); // rack
      bw.tagsOf(flexible);
    });
    if (version >= 2) w.nullableStringOf(flexible, broker.describeCluster().clusterId);
    if (version >= 1) w.int32(controllerIdOf(broker));
    w.arrayOf(flexible, topics, (tw, answer) => writeTopic(tw, answer, version, flexible));
    if (version >= 8 && version <= 10) w.int32(operationsUnknown);
    return w.tagsOf(flexible);
  },
};
