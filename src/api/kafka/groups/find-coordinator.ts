// FindCoordinator (key 10), v0-v4 (flexible from v3; v4 batches keys): the node leading the
// group's __consumer_offsets partition. Only group keys (key type 0): transactions are not
// supported, so a transaction key answers INVALID_REQUEST.
import type { KafkaApi, KafkaServices } from '../dispatcher.ts';
import { kafkaErrorCode } from '../error-codes.ts';
import { KafkaWriter } from '../protocol/writer.ts';
import { endpointOf } from '../kafka-topics.ts';
import { checkGroupId, groupErrorCode, groupsPerRequestMax } from './group-common.ts';
import { readMessage, v, writeMessage, type Field } from './message-schema.ts';

export const findCoordinatorRequest: readonly Field[] = [
  { name: 'key', type: 'string', versions: v(0, 3), absent: '' },
  { name: 'keyType', type: 'int8', versions: v(1), absent: 0 },
  { name: 'coordinatorKeys', type: { of: 'string', max: groupsPerRequestMax }, versions: v(4) },
];

const coordinator: readonly Field[] = [
  { name: 'key', type: 'string', versions: v(4) },
  { name: 'nodeId', type: 'int32', versions: v(4) },
  { name: 'host', type: 'string', versions: v(4) },
  { name: 'port', type: 'int32', versions: v(4) },
  { name: 'errorCode', type: 'int16', versions: v(4) },
  { name: 'errorMessage', type: 'string', versions: v(4), nullableFrom: 4 },
];

export const findCoordinatorResponse: readonly Field[] = [
  { name: 'throttleTimeMs', type: 'int32', versions: v(1) },
  { name: 'errorCode', type: 'int16', versions: v(0, 3) },
  { name: 'errorMessage', type: 'string', versions: v(1, 3), nullableFrom: 1 },
  { name: 'nodeId', type: 'int32', versions: v(0, 3) },
  { name: 'host', type: 'string', versions: v(0, 3) },
  { name: 'port', type: 'int32', versions: v(0, 3) },
  { name: 'coordinators', type: { of: coordinator, max: groupsPerRequestMax }, versions: v(4) },
];

interface Located {
  key: string;
  nodeId: number;
  host: string;
  port: number;
  errorCode: number;
  errorMessage: string | null;
}

function locate(services: KafkaServices, key: string, keyType: number): Located {
  const none = { key, nodeId: -1, host: '', port: -1 };
  if (keyType !== 0) {
    const message = 'only group coordinators (key type 0): transactions are not supported';
    return { ...none, errorCode: kafkaErrorCode.INVALID_REQUEST, errorMessage: message };
  }
  try {
    checkGroupId(key);
    const { id, url } = services.groups.locate(key);
    // Unparsable: COORDINATOR_NOT_AVAILABLE.
    const endpoint = endpointOf(id, url);
    if (endpoint === null) {
      const code = kafkaErrorCode.COORDINATOR_NOT_AVAILABLE;
      return { ...none, errorCode: code, errorMessage: `node ${id} has no address` };
    }
    const { host, port } = endpoint;
    return { key, nodeId: id, host, port, errorCode: 0, errorMessage: null };
  } catch (error) {
    const message = error instanceof Error ? error.message : null;
    return { ...none, errorCode: groupErrorCode(error), errorMessage: message };
  }
}

export const findCoordinatorApi: KafkaApi = {
  apiKey: 10,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 3,
  handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const request = readMessage(reader, findCoordinatorRequest, version, flexible);
    const keyType = request['keyType'] as number;
    const body = new KafkaWriter(128);
    if (version >= 4) {
      const keys = request['coordinatorKeys'] as string[];
      const coordinators = keys.map((key) => locate(context.services, key, keyType));
      writeMessage(body, findCoordinatorResponse, version, flexible, {
        throttleTimeMs: 0,
        coordinators,
      });
    } else {
      const one = locate(context.services, request['key'] as string, keyType);
      writeMessage(body, findCoordinatorResponse, version, flexible, { throttleTimeMs: 0, ...one });
    }
    return Promise.resolve(body);
  },
};
