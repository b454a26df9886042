// DescribeGroups (key 15), v0-v5 (flexible from v5): state, protocol and members of groups this
// node coordinates (NOT_COORDINATOR for others, state "Dead" for unknown ones, as Kafka). A
// classic member shows its metadata and assignment bytes; a member of Rill's own protocol
// shows empty bytes (its assignment is server-side: `rill group describe` shows it).
import type { GroupState } from '../../../broker/index.ts';
import type { KafkaApi, KafkaServices } from '../dispatcher.ts';
import { KafkaWriter } from '../protocol/writer.ts';
import { checkGroupId, groupErrorCode, groupsPerRequestMax } from './group-common.ts';
import { readMessage, v, writeMessage, type Field, type Message } from './message-schema.ts';

export const describeGroupsRequest: readonly Field[] = [
  { name: 'groups', type: { of: 'string', max: groupsPerRequestMax }, versions: v(0) },
  { name: 'includeAuthorizedOperations', type: 'bool', versions: v(3), absent: false },
];

const member: readonly Field[] = [
  { name: 'memberId', type: 'string', versions: v(0) },
  { name: 'groupInstanceId', type: 'string', versions: v(4), nullableFrom: 4 },
  { name: 'clientId', type: 'string', versions: v(0) },
  { name: 'clientHost', type: 'string', versions: v(0) },
  { name: 'memberMetadata', type: 'bytes', versions: v(0) },
  { name: 'memberAssignment', type: 'bytes', versions: v(0) },
];

const described: readonly Field[] = [
  { name: 'errorCode', type: 'int16', versions: v(0) },
  { name: 'groupId', type: 'string', versions: v(0) },
  { name: 'groupState', type: 'string', versions: v(0) },
  { name: 'protocolType', type: 'string', versions: v(0) },
  { name: 'protocolData', type: 'string', versions: v(0) },
  { name: 'members', type: { of: member, max: Number.MAX_SAFE_INTEGER }, versions: v(0) },
  { name: 'authorizedOperations', type: 'int32', versions: v(3) },
];

export const describeGroupsResponse: readonly Field[] = [
  { name: 'throttleTimeMs', type: 'int32', versions: v(1) },
  { name: 'groups', type: { of: described, max: groupsPerRequestMax }, versions: v(0) },
];

/** Kafka's "operations not asked for" value. */
const operationsUnknown = -2147483648;

function describeOne(services: KafkaServices, groupId: string): Message {
  const base = {
    groupId,
    groupState: 'Dead',
    protocolType: '',
    protocolData: '',
    members: [],
    authorizedOperations: operationsUnknown,
  };
  let state: GroupState;
  try {
    checkGroupId(groupId);
    state = services.groups.describe(groupId).state;
  } catch (error) {
    const errorCode = groupErrorCode(error);
    // An unknown group is no error in Kafka: it is described as Dead.
    return { ...base, errorCode: errorCode === 69 ? 0 : errorCode };
  }
  const classic = state.classic;
  if (classic === null) {
    return {
      ...base,
      errorCode: 0,
      groupState: state.members.size === 0 ? 'Empty' : 'Stable',
      protocolType: 'consumer',
      protocolData: state.assignor,
      members: [...state.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.instanceId,
        clientId: '',
        clientHost: m.clientHost ?? '',
        memberMetadata: new Uint8Array(),
        memberAssignment: new Uint8Array(),
      })),
    };
  }
  const stable = classic.state === 'Stable';
  return {
    ...base,
    errorCode: 0,
    groupState: classic.state,
    protocolType: classic.protocolType,
    protocolData: stable ? (classic.protocolName ?? '') : '',
    members: [...classic.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.instanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      memberMetadata: stable
        ? (m.protocols.find((p) => p.name === classic.protocolName)?.metadata ?? new Uint8Array())
        : new Uint8Array(),
      memberAssignment: stable ? m.assignment : new Uint8Array(),
    })),
  };
}

export const describeGroupsApi: KafkaApi = {
  apiKey: 15,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 5,
  flexibleFrom: 5,
  handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readMessage(reader, describeGroupsRequest, version, flexible);
    const groups = (request['groups'] as string[]).map((g) => describeOne(context.services, g));
    const body = new KafkaWriter(256);
    writeMessage(body, describeGroupsResponse, version, flexible, { throttleTimeMs: 0, groups });
    return Promise.resolve(body);
  },
};
