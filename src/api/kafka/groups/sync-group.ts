// SyncGroup (key 14), v0-v5 (flexible from v4): the leader sends every member's assignment;
// each member waits for its own. v3+ carries group.instance.id, v5+ the protocol type and name
// (checked against the generation's).
import type { KafkaApi } from '../dispatcher.ts';
import { KafkaWriter } from '../protocol/writer.ts';
import { checkGroupId, groupErrorCode, membersPerRequestMax } from './group-common.ts';
import { readMessage, v, writeMessage, type Field, type Message } from './message-schema.ts';

const assignment: readonly Field[] = [
  { name: 'memberId', type: 'string', versions: v(0) },
  { name: 'assignment', type: 'bytes', versions: v(0) },
];

export const syncGroupRequest: readonly Field[] = [
  { name: 'groupId', type: 'string', versions: v(0) },
  { name: 'generationId', type: 'int32', versions: v(0) },
  { name: 'memberId', type: 'string', versions: v(0) },
  { name: 'groupInstanceId', type: 'string', versions: v(3), nullableFrom: 3 },
  { name: 'protocolType', type: 'string', versions: v(5), nullableFrom: 5 },
  { name: 'protocolName', type: 'string', versions: v(5), nullableFrom: 5 },
  { name: 'assignments', type: { of: assignment, max: membersPerRequestMax }, versions: v(0) },
];

export const syncGroupResponse: readonly Field[] = [
  { name: 'throttleTimeMs', type: 'int32', versions: v(1) },
  { name: 'errorCode', type: 'int16', versions: v(0) },
  { name: 'protocolType', type: 'string', versions: v(5), nullableFrom: 5 },
  { name: 'protocolName', type: 'string', versions: v(5), nullableFrom: 5 },
  { name: 'assignment', type: 'bytes', versions: v(0) },
];

export const syncGroupApi: KafkaApi = {
  apiKey: 14,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 4,
  async handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readMessage(reader, syncGroupRequest, version, flexible);
    const group = request['groupId'] as string;
    let response: Message;
    try {
      checkGroupId(group);
      const answer = await context.services.groups.syncGroup(group, {
        memberId: request['memberId'] as string,
        instanceId: request['groupInstanceId'] as string | null,
        generationId: request['generationId'] as number,
        protocolType: request['protocolType'] as string | null,
        protocolName: request['protocolName'] as string | null,
        assignments: (request['assignments'] as Message[]).map((a) => ({
          memberId: a['memberId'] as string,
          assignment: Uint8Array.from(a['assignment'] as Uint8Array),
        })),
      });
      response = { errorCode: 0, ...answer };
    } catch (error) {
      response = {
        errorCode: groupErrorCode(error),
        protocolType: null,
        protocolName: null,
        assignment: new Uint8Array(),
      };
    }
    const body = new KafkaWriter(128);
    return writeMessage(body, syncGroupResponse, version, flexible, {
      throttleTimeMs: 0,
      ...response,
    });
  },
};
