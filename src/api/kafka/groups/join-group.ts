// JoinGroup (key 11), v0-v7 (flexible from v6): a classic member joins and waits for the join
// phase to end; the leader's answer lists every member's metadata. v4+ answers a new dynamic
// member MEMBER_ID_REQUIRED with its id first (KIP-394); v5+ carries group.instance.id
// (static membership, KIP-345). v0 has no rebalance timeout: the session timeout stands in.
import { GroupError } from '../../../broker/index.ts';
import type { KafkaApi } from '../dispatcher.ts';
import { KafkaWriter } from '../protocol/writer.ts';
import { checkGroupId, clientHostOf, groupErrorCode, protocolsPerJoinMax } from './group-common.ts';
import { readMessage, v, writeMessage, type Field, type Message } from './message-schema.ts';

const protocol: readonly Field[] = [
  { name: 'name', type: 'string', versions: v(0) },
  { name: 'metadata', type: 'bytes', versions: v(0) },
];

export const joinGroupRequest: readonly Field[] = [
  { name: 'groupId', type: 'string', versions: v(0) },
  { name: 'sessionTimeoutMs', type: 'int32', versions: v(0) },
  { name: 'rebalanceTimeoutMs', type: 'int32', versions: v(1), absent: -1 },
  { name: 'memberId', type: 'string', versions: v(0) },
  { name: 'groupInstanceId', type: 'string', versions: v(5), nullableFrom: 5 },
  { name: 'protocolType', type: 'string', versions: v(0) },
  { name: 'protocols', type: { of: protocol, max: protocolsPerJoinMax }, versions: v(0) },
  { name: 'reason', type: 'string', versions: v(8), nullableFrom: 8 },
];

const member: readonly Field[] = [
  { name: 'memberId', type: 'string', versions: v(0) },
  { name: 'groupInstanceId', type: 'string', versions: v(5), nullableFrom: 5 },
  { name: 'metadata', type: 'bytes', versions: v(0) },
];

export const joinGroupResponse: readonly Field[] = [
  { name: 'throttleTimeMs', type: 'int32', versions: v(2) },
  { name: 'errorCode', type: 'int16', versions: v(0) },
  { name: 'generationId', type: 'int32', versions: v(0) },
  { name: 'protocolType', type: 'string', versions: v(7), nullableFrom: 7 },
  { name: 'protocolName', type: 'string', versions: v(0), nullableFrom: 7 },
  { name: 'leader', type: 'string', versions: v(0) },
  { name: 'memberId', type: 'string', versions: v(0) },
  { name: 'members', type: { of: member, max: Number.MAX_SAFE_INTEGER }, versions: v(0) },
];

export const joinGroupApi: KafkaApi = {
  apiKey: 11,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 7,
  flexibleFrom: 6,
  async handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readMessage(reader, joinGroupRequest, version, flexible);
    const group = request['groupId'] as string;
    const session = request['sessionTimeoutMs'] as number;
    const rebalance = request['rebalanceTimeoutMs'] as number;
    const memberId = request['memberId'] as string;
    let response: Message;
    try {
      checkGroupId(group);
      const protocols = (request['protocols'] as Message[]).map((p) => ({
        name: p['name'] as string,
        metadata: Uint8Array.from(p['metadata'] as Uint8Array),
      }));
      const answer = await context.services.groups.joinGroup(group, {
        memberId,
        instanceId: request['groupInstanceId'] as string | null,
        clientId: header.clientId ?? '',
        clientHost: clientHostOf(context.remoteAddress),
        sessionTimeoutMs: session,
        rebalanceTimeoutMs: version === 0 || rebalance < 0 ? session : rebalance,
        protocolType: request['protocolType'] as string,
        protocols,
        requireKnownMemberId: version >= 4,
      });
      response = {
        errorCode: 0,
        generationId: answer.generationId,
        protocolType: answer.protocolType,
        protocolName: answer.protocolName,
        leader: answer.leaderId,
        memberId: answer.memberId,
        members: answer.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.instanceId,
          metadata: m.metadata,
        })),
      };
    } catch (error) {
      const given = error instanceof GroupError ? error.details['memberId'] : undefined;
      response = {
        errorCode: groupErrorCode(error),
        generationId: -1,
        protocolType: null,
        protocolName: version >= 7 ? null : '',
        leader: '',
        memberId: typeof given === 'string' ? given : memberId,
        members: [],
      };
    }
    const body = new KafkaWriter(256);
    return writeMessage(body, joinGroupResponse, version, flexible, {
      throttleTimeMs: 0,
      ...response,
    });
  },
};
