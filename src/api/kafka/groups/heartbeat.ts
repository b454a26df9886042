// Heartbeat (key 12), v0-v4 (flexible from v4): a classic member's liveness; the answer says
// REBALANCE_IN_PROGRESS while the group gathers members for a new generation.
import type { KafkaApi } from '../dispatcher.ts';
import { kafkaErrorCode } from '../error-codes.ts';
import { KafkaWriter } from '../protocol/writer.ts';
import { checkGroupId, groupErrorCode } from './group-common.ts';
import { readMessage, v, writeMessage, type Field } from './message-schema.ts';

export const heartbeatRequest: readonly Field[] = [
  { name: 'groupId', type: 'string', versions: v(0) },
  { name: 'generationId', type: 'int32', versions: v(0) },
  { name: 'memberId', type: 'string', versions: v(0) },
  { name: 'groupInstanceId', type: 'string', versions: v(3), nullableFrom: 3 },
];

export const heartbeatResponse: readonly Field[] = [
  { name: 'throttleTimeMs', type: 'int32', versions: v(1) },
  { name: 'errorCode', type: 'int16', versions: v(0) },
];

export const heartbeatApi: KafkaApi = {
  apiKey: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readMessage(reader, heartbeatRequest, version, flexible);
    const group = request['groupId'] as string;
    let errorCode: number;
    try {
      checkGroupId(group);
      const who = {
        memberId: request['memberId'] as string,
        instanceId: request['groupInstanceId'] as string | null,
      };
      const answer = context.services.groups.classicHeartbeat(
        group,
        who,
        request['generationId'] as number,
      );
      errorCode = kafkaErrorCode[answer];
    } catch (error) {
      errorCode = groupErrorCode(error);
    }
    const body = new KafkaWriter(16);
    writeMessage(body, heartbeatResponse, version, flexible, { throttleTimeMs: 0, errorCode });
    return Promise.resolve(body);
  },
};
