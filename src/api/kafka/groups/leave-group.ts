// LeaveGroup (key 13), v0-v4 (flexible from v4): members leave at once instead of timing out.
// v0-v2 name one member id; v3+ a batch of members, each by member id or by group.instance.id,
// with a code per member.
import type { KafkaApi } from '../dispatcher.ts';
import { KafkaWriter } from '../protocol/writer.ts';
import { checkGroupId, groupErrorCode, membersPerRequestMax } from './group-common.ts';
import { readMessage, v, writeMessage, type Field, type Message } from './message-schema.ts';

const identity: readonly Field[] = [
  { name: 'memberId', type: 'string', versions: v(3) },
  { name: 'groupInstanceId', type: 'string', versions: v(3), nullableFrom: 3 },
  { name: 'reason', type: 'string', versions: v(5), nullableFrom: 5 },
];

export const leaveGroupRequest: readonly Field[] = [
  { name: 'groupId', type: 'string', versions: v(0) },
  { name: 'memberId', type: 'string', versions: v(0, 2) },
  { name: 'members', type: { of: identity, max: membersPerRequestMax }, versions: v(3) },
];

const outcome: readonly Field[] = [
  { name: 'memberId', type: 'string', versions: v(3) },
  { name: 'groupInstanceId', type: 'string', versions: v(3), nullableFrom: 3 },
  { name: 'errorCode', type: 'int16', versions: v(3) },
];

export const leaveGroupResponse: readonly Field[] = [
  { name: 'throttleTimeMs', type: 'int32', versions: v(1) },
  { name: 'errorCode', type: 'int16', versions: v(0) },
  { name: 'members', type: { of: outcome, max: membersPerRequestMax }, versions: v(3) },
];

export const leaveGroupApi: KafkaApi = {
  apiKey: 13,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  async handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readMessage(reader, leaveGroupRequest, version, flexible);
    const group = request['groupId'] as string;
    const who =
      version >= 3
        ? (request['members'] as Message[]).map((m) => ({
            memberId: m['memberId'] as string,
            instanceId: m['groupInstanceId'] as string | null,
          }))
        : [{ memberId: request['memberId'] as string, instanceId: null }];
    let errorCode = 0;
    let codes: number[] = who.map(() => 0);
    try {
      checkGroupId(group);
      const answer = await context.services.groups.leaveGroup(group, who);
      codes = answer.map((e) => (e === null ? 0 : groupErrorCode(e)));
      // v0-v2 have one member: its code is the answer's.
      if (version < 3) errorCode = codes[0] ?? 0;
    } catch (error) {
      errorCode = groupErrorCode(error);
    }
    const members = who.map((m, i) => ({
      memberId: m.memberId,
      groupInstanceId: m.instanceId,
      errorCode: codes[i] ?? 0,
    }));
    const body = new KafkaWriter(64);
    return writeMessage(body, leaveGroupResponse, version, flexible, {
      throttleTimeMs: 0,
      errorCode,
      members,
    });
  },
};
