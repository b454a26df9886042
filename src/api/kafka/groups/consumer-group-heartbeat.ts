// ConsumerGroupHeartbeat (key 68), v0 (flexible; KIP-848): Kafka clients of the new consumer
// protocol join Rill's own server-side-assigned groups, the same groups and heartbeat as
// POST /v1/groups/{group}/heartbeat. Topics travel as topic ids (Metadata's ids); an owned
// partition of an unknown id is left out. Server assignors: Rill's `uniform` and `range`.
import type { AssignorName, MemberHeartbeat } from '../../../broker/index.ts';
import { GroupError } from '../../../broker/index.ts';
import type { KafkaApi, KafkaServices } from '../dispatcher.ts';
import { topicIdBytes } from '../kafka-topics.ts';
import { KafkaWriter } from '../protocol/writer.ts';
import {
  checkGroupId,
  clientHostOf,
  groupErrorCode,
  partitionsPerTopicMax,
  topicsPerRequestMax,
} from './group-common.ts';
import { readMessage, v, writeMessage, type Field, type Message } from './message-schema.ts';

const topicPartitions: readonly Field[] = [
  { name: 'topicId', type: 'uuid', versions: v(0) },
  { name: 'partitions', type: { of: 'int32', max: partitionsPerTopicMax }, versions: v(0) },
];

export const consumerGroupHeartbeatRequest: readonly Field[] = [
  { name: 'groupId', type: 'string', versions: v(0) },
  { name: 'memberId', type: 'string', versions: v(0) },
  { name: 'memberEpoch', type: 'int32', versions: v(0) },
  { name: 'instanceId', type: 'string', versions: v(0), nullableFrom: 0 },
  { name: 'rackId', type: 'string', versions: v(0), nullableFrom: 0 },
  { name: 'rebalanceTimeoutMs', type: 'int32', versions: v(0) },
  {
    name: 'subscribedTopicNames',
    type: { of: 'string', max: topicsPerRequestMax },
    versions: v(0),
    nullableFrom: 0,
  },
  { name: 'serverAssignor', type: 'string', versions: v(0), nullableFrom: 0 },
  {
    name: 'topicPartitions',
    type: { of: topicPartitions, max: topicsPerRequestMax },
    versions: v(0),
    nullableFrom: 0,
  },
];

/** Before the nullable Assignment struct, which the handler writes itself. */
export const consumerGroupHeartbeatResponseHead: readonly Field[] = [
  { name: 'throttleTimeMs', type: 'int32', versions: v(0) },
  { name: 'errorCode', type: 'int16', versions: v(0) },
  { name: 'errorMessage', type: 'string', versions: v(0), nullableFrom: 0 },
  { name: 'memberId', type: 'string', versions: v(0), nullableFrom: 0 },
  { name: 'memberEpoch', type: 'int32', versions: v(0) },
  { name: 'heartbeatIntervalMs', type: 'int32', versions: v(0) },
];

const assignors: readonly AssignorName[] = ['uniform', 'range'];

/** Topic ids (hex) to names, and back, for the user topics. */
function topicIds(services: KafkaServices): { name: Map<string, string>; id: Map<string, Buffer> } {
  const name = new Map<string, string>();
  const id = new Map<string, Buffer>();
  for (const listing of services.broker.listTopics()) {
    if (listing.name.startsWith('__')) continue;
    const bytes = topicIdBytes(services.broker.describeTopic(listing.name).topicId);
    name.set(bytes.toString('hex'), listing.name);
    id.set(listing.name, bytes);
  }
  return { name, id };
}

function heartbeatOf(request: Message, ids: Map<string, string>, host: string): MemberHeartbeat {
  const assignor = request['serverAssignor'] as string | null;
  if (assignor !== null && !assignors.includes(assignor as AssignorName)) {
    throw new GroupError('INVALID_REQUEST', `server assignors: ${assignors.join(', ')}`);
  }
  const owned = request['topicPartitions'] as Message[] | null;
  const rebalance = request['rebalanceTimeoutMs'] as number;
  const instanceId = request['instanceId'] as string | null;
  const topics = request['subscribedTopicNames'] as string[] | null;
  return {
    memberId: request['memberId'] as string,
    memberEpoch: request['memberEpoch'] as number,
    clientHost: host,
    ...(instanceId === null ? {} : { instanceId }),
    ...(rebalance < 0 ? {} : { rebalanceTimeoutMs: rebalance }),
    ...(topics === null ? {} : { subscribedTopics: topics }),
    ...(assignor === null ? {} : { assignor: assignor as AssignorName }),
    ...(owned === null
      ? {}
      : {
          ownedPartitions: owned.flatMap((t) => {
            const topic = ids.get(Buffer.from(t['topicId'] as Uint8Array).toString('hex'));
            return topic === undefined ? [] : [{ topic, partitions: t['partitions'] as number[] }];
          }),
        }),
  };
}

export const consumerGroupHeartbeatApi: KafkaApi = {
  apiKey: 68,
  name: 'ConsumerGroupHeartbeat',
  minVersion: 0,
  maxVersion: 0,
  flexibleFrom: 0,
  async handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readMessage(reader, consumerGroupHeartbeatRequest, version, flexible);
    const group = request['groupId'] as string;
    const body = new KafkaWriter(128);
    try {
      checkGroupId(group);
      const ids = topicIds(context.services);
      const host = clientHostOf(context.remoteAddress);
      const answer = await context.services.groups.heartbeat(
        group,
        heartbeatOf(request, ids.name, host),
      );
      writeMessage(
        body,
        consumerGroupHeartbeatResponseHead,
        version,
        flexible,
        {
          throttleTimeMs: 0,
          errorCode: 0,
          errorMessage: null,
          memberId: answer.memberId,
          memberEpoch: answer.memberEpoch,
          heartbeatIntervalMs: answer.heartbeatIntervalMs ?? 0,
        },
        false,
      );
      // Assignment: a nullable struct (int8 -1 null, 1 present) of topic partitions.
      const assigned = (answer.assignment ?? []).flatMap((t) => {
        const id = ids.id.get(t.topic);
        return id === undefined ? [] : [{ topicId: id, partitions: t.partitions }];
      });
      body.int8(1);
      body.compactArray(assigned, (w, t) => {
        writeMessage(w, topicPartitions, version, flexible, t);
      });
      body.taggedFields();
    } catch (error) {
      const epoch = error instanceof GroupError ? error.details['memberEpoch'] : undefined;
      writeMessage(
        body,
        consumerGroupHeartbeatResponseHead,
        version,
        flexible,
        {
          throttleTimeMs: 0,
          errorCode: groupErrorCode(error),
          errorMessage: error instanceof Error ? error.message : null,
          memberId: null,
          memberEpoch: typeof epoch === 'number' ? epoch : -1,
          heartbeatIntervalMs: 0,
        },
        false,
      );
      body.int8(-1);
    }
    body.taggedFields();
    return body;
  },
};
