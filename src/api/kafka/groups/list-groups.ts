// ListGroups (key 16), v0-v4 (flexible from v3): the groups this node coordinates, of both kinds
// (Kafka clients ask every broker and merge). v4 filters by state and reports it.
import type { KafkaApi } from '../dispatcher.ts';
import { KafkaWriter } from '../protocol/writer.ts';
import { groupErrorCode, groupsPerRequestMax } from './group-common.ts';
import { readMessage, v, writeMessage, type Field } from './message-schema.ts';

/** Groups in one ListGroups answer, at most (a node holds groupsPerCoordinatorMax anyway). */
export const listGroupsAnswerMax = 100_000;

export const listGroupsRequest: readonly Field[] = [
  { name: 'statesFilter', type: { of: 'string', max: groupsPerRequestMax }, versions: v(4) },
];

const listed: readonly Field[] = [
  { name: 'groupId', type: 'string', versions: v(0) },
  { name: 'protocolType', type: 'string', versions: v(0) },
  { name: 'groupState', type: 'string', versions: v(4) },
];

export const listGroupsResponse: readonly Field[] = [
  { name: 'throttleTimeMs', type: 'int32', versions: v(1) },
  { name: 'errorCode', type: 'int16', versions: v(0) },
  { name: 'groups', type: { of: listed, max: listGroupsAnswerMax }, versions: v(0) },
];

export const listGroupsApi: KafkaApi = {
  apiKey: 16,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readMessage(reader, listGroupsRequest, version, flexible);
    const states = new Set(
      ((request['statesFilter'] as string[] | null) ?? []).map((s) => s.toLowerCase()),
    );
    let errorCode = 0;
    let groups: { groupId: string; protocolType: string; groupState: string }[] = [];
    try {
      groups = context.services.groups
        .localGroups()
        .filter((g) => states.size === 0 || states.has(g.kafkaState.toLowerCase()))
        .map((g) => ({ groupId: g.group, protocolType: g.protocolType, groupState: g.kafkaState }));
    } catch (error) {
      errorCode = groupErrorCode(error);
    }
    const body = new KafkaWriter(256);
    writeMessage(body, listGroupsResponse, version, flexible, {
      throttleTimeMs: 0,
      errorCode,
      groups,
    });
    return Promise.resolve(body);
  },
};
