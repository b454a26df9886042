// Goal: the group APIs' codecs agree with a real client's: every group request version KafkaJS
// 2.2.4 sends is encoded by KafkaJS's own encoders and read by Rill's schema, and Rill's answers
// are decoded by KafkaJS's own response decoders, field by field, every byte consumed.
// Method: KafkaJS's protocol modules in-process (no sockets), one table row per API.
import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import {
  describeGroupsRequest,
  describeGroupsResponse,
} from '../../../../src/api/kafka/groups/describe-groups.ts';
import {
  findCoordinatorRequest,
  findCoordinatorResponse,
} from '../../../../src/api/kafka/groups/find-coordinator.ts';
import { heartbeatRequest, heartbeatResponse } from '../../../../src/api/kafka/groups/heartbeat.ts';
import {
  joinGroupRequest,
  joinGroupResponse,
} from '../../../../src/api/kafka/groups/join-group.ts';
import {
  leaveGroupRequest,
  leaveGroupResponse,
} from '../../../../src/api/kafka/groups/leave-group.ts';
import {
  listGroupsRequest,
  listGroupsResponse,
} from '../../../../src/api/kafka/groups/list-groups.ts';
import {
  readMessage,
  writeMessage,
  type Field,
  type Message,
} from '../../../../src/api/kafka/groups/message-schema.ts';
import {
  offsetCommitRequest,
  offsetCommitResponse,
} from '../../../../src/api/kafka/groups/offset-commit.ts';
import {
  offsetFetchRequest,
  offsetFetchResponse,
} from '../../../../src/api/kafka/groups/offset-fetch.ts';
import {
  syncGroupRequest,
  syncGroupResponse,
} from '../../../../src/api/kafka/groups/sync-group.ts';
import { KafkaReader } from '../../../../src/api/kafka/protocol/reader.ts';
import { KafkaWriter } from '../../../../src/api/kafka/protocol/writer.ts';

const require = createRequire(import.meta.url);
const bytes = Buffer.from([1, 2, 3]);

interface Row {
  readonly api: string;
  readonly versions: readonly number[];
  readonly schema: readonly [readonly Field[], readonly Field[]];
  readonly params: (version: number) => unknown;
  readonly expectRequest: (version: number) => Message;
  readonly response: Message;
  readonly expectDecoded: (version: number) => Record<string, unknown>;
}

const rows: Row[] = [
  {
    api: 'joinGroup',
    versions: [0, 1, 2, 3, 4, 5],
    schema: [joinGroupRequest, joinGroupResponse],
    params: () => ({
      groupId: 'g',
      sessionTimeout: 30_000,
      rebalanceTimeout: 60_000,
      memberId: 'm',
      groupInstanceId: 'i',
      protocolType: 'consumer',
      groupProtocols: [{ name: 'RoundRobinAssigner', metadata: bytes }],
    }),
    expectRequest: (version) => ({
      groupId: 'g',
      sessionTimeoutMs: 30_000,
      rebalanceTimeoutMs: version >= 1 ? 60_000 : -1,
      memberId: 'm',
      groupInstanceId: version >= 5 ? 'i' : null,
      protocolType: 'consumer',
    }),
    response: {
      throttleTimeMs: 0,
      errorCode: 0,
      generationId: 3,
      protocolName: 'RoundRobinAssigner',
      leader: 'm',
      memberId: 'm2',
      members: [{ memberId: 'm', groupInstanceId: 'i', metadata: bytes }],
    },
    expectDecoded: () => ({
      generationId: 3,
      groupProtocol: 'RoundRobinAssigner',
      leaderId: 'm',
      memberId: 'm2',
    }),
  },
  {
    api: 'syncGroup',
    versions: [0, 1, 2, 3],
    schema: [syncGroupRequest, syncGroupResponse],
    params: () => ({
      groupId: 'g',
      generationId: 3,
      memberId: 'm',
      groupInstanceId: 'i',
      groupAssignment: [{ memberId: 'm', memberAssignment: bytes }],
    }),
    expectRequest: (version) => ({
      groupId: 'g',
      generationId: 3,
      memberId: 'm',
      groupInstanceId: version >= 3 ? 'i' : null,
    }),
    response: { throttleTimeMs: 0, errorCode: 0, assignment: bytes },
    expectDecoded: () => ({ errorCode: 0, memberAssignment: bytes }),
  },
  {
    api: 'heartbeat',
    versions: [0, 1, 2, 3],
    schema: [heartbeatRequest, heartbeatResponse],
    params: () => ({ groupId: 'g', groupGenerationId: 3, memberId: 'm', groupInstanceId: 'i' }),
    expectRequest: (version) => ({
      groupId: 'g',
      generationId: 3,
      memberId: 'm',
      groupInstanceId: version >= 3 ? 'i' : null,
    }),
    response: { throttleTimeMs: 0, errorCode: 27 },
    expectDecoded: () => ({ errorCode: 27 }),
  },
  {
    api: 'leaveGroup',
    versions: [0, 1, 2, 3],
    schema: [leaveGroupRequest, leaveGroupResponse],
    params: () => ({
      groupId: 'g',
      memberId: 'm',
      members: [{ memberId: 'm', groupInstanceId: 'i' }],
    }),
    expectRequest: (version) =>
      version >= 3
        ? { groupId: 'g', members: [{ memberId: 'm', groupInstanceId: 'i', reason: null }] }
        : { groupId: 'g', memberId: 'm' },
    response: {
      throttleTimeMs: 0,
      errorCode: 0,
      members: [{ memberId: 'm', groupInstanceId: 'i', errorCode: 0 }],
    },
    expectDecoded: () => ({ errorCode: 0 }),
  },
  {
    api: 'offsetCommit',
    versions: [0, 1, 2, 3, 4, 5],
    schema: [offsetCommitRequest, offsetCommitResponse],
    params: () => ({
      groupId: 'g',
      groupGenerationId: 3,
      memberId: 'm',
      retentionTime: -1,
      topics: [
        { topic: 't', partitions: [{ partition: 1, offset: '42', timestamp: 5, metadata: 'x' }] },
      ],
    }),
    expectRequest: (version) => ({
      groupId: 'g',
      generationId: version >= 1 ? 3 : -1,
      memberId: version >= 1 ? 'm' : '',
      topics: [
        {
          name: 't',
          partitions: [
            {
              partitionIndex: 1,
              committedOffset: 42,
              committedLeaderEpoch: -1,
              commitTimestamp: version === 1 ? 5 : -1,
              committedMetadata: 'x',
            },
          ],
        },
      ],
    }),
    response: {
      throttleTimeMs: 0,
      topics: [{ name: 't', partitions: [{ partitionIndex: 1, errorCode: 0 }] }],
    },
    expectDecoded: () => ({
      responses: [{ topic: 't', partitions: [{ partition: 1, errorCode: 0 }] }],
    }),
  },
  {
    api: 'offsetFetch',
    versions: [1, 2, 3, 4],
    schema: [offsetFetchRequest, offsetFetchResponse],
    params: () => ({ groupId: 'g', topics: [{ topic: 't', partitions: [{ partition: 1 }] }] }),
    expectRequest: () => ({ groupId: 'g', topics: [{ name: 't', partitionIndexes: [1] }] }),
    response: {
      throttleTimeMs: 0,
      errorCode: 0,
      topics: [
        {
          name: 't',
          partitions: [{ partitionIndex: 1, committedOffset: 42, metadata: 'x', errorCode: 0 }],
        },
      ],
    },
    expectDecoded: () => ({
      responses: [
        { topic: 't', partitions: [{ partition: 1, offset: '42', metadata: 'x', errorCode: 0 }] },
      ],
    }),
  },
  {
    api: 'findCoordinator',
    versions: [0, 1, 2],
    schema: [findCoordinatorRequest, findCoordinatorResponse],
    params: () => ({ groupId: 'g', coordinatorKey: 'g', coordinatorType: 0 }),
    expectRequest: () => ({ key: 'g', keyType: 0 }),
    response: {
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      nodeId: 2,
      host: 'h',
      port: 9,
    },
    expectDecoded: () => ({ errorCode: 0, coordinator: { nodeId: 2, host: 'h', port: 9 } }),
  },
  {
    api: 'listGroups',
    versions: [0, 1, 2],
    schema: [listGroupsRequest, listGroupsResponse],
    params: () => ({}),
    expectRequest: () => ({}),
    response: {
      throttleTimeMs: 0,
      errorCode: 0,
      groups: [{ groupId: 'g', protocolType: 'consumer' }],
    },
    expectDecoded: () => ({ errorCode: 0, groups: [{ groupId: 'g', protocolType: 'consumer' }] }),
  },
  {
    api: 'describeGroups',
    versions: [0, 1, 2],
    schema: [describeGroupsRequest, describeGroupsResponse],
    params: () => ({ groupIds: ['g'] }),
    expectRequest: () => ({ groups: ['g'] }),
    response: {
      throttleTimeMs: 0,
      groups: [
        {
          errorCode: 0,
          groupId: 'g',
          groupState: 'Stable',
          protocolType: 'consumer',
          protocolData: 'range',
          members: [
            {
              memberId: 'm',
              clientId: 'c',
              clientHost: '/h',
              memberMetadata: bytes,
              memberAssignment: bytes,
            },
          ],
        },
      ],
    },
    expectDecoded: () => ({
      groups: [
        expect.objectContaining({
          groupId: 'g',
          state: 'Stable',
          protocolType: 'consumer',
          protocol: 'range',
          members: [
            expect.objectContaining({
              memberId: 'm',
              clientId: 'c',
              clientHost: '/h',
              memberMetadata: bytes,
            }),
          ],
        }),
      ],
    }),
  },
];

describe('group codecs against KafkaJS 2.2.4 encoders and decoders', () => {
  for (const row of rows) {
    test(`${row.api} v${row.versions.join(',')}`, async () => {
      for (const version of row.versions) {
        const module = `kafkajs/src/protocol/requests/${row.api}/v${version}`;
        const factory = require(`${module}/request`) as (p: unknown) => {
          encode(): Promise<{ buffer: Buffer }>;
        };
        const body = (await factory(row.params(version)).encode()).buffer;
        const reader = new KafkaReader(body);
        const read = readMessage(reader, row.schema[0], version, false);
        expect(reader.remaining, `${row.api} v${version} request`).toBe(0);
        expect(read, `${row.api} v${version} request`).toMatchObject(row.expectRequest(version));
        const answer = writeMessage(new KafkaWriter(), row.schema[1], version, false, row.response);
        const { decode } = require(`${module}/response`) as {
          decode(buffer: Buffer): Promise<Record<string, unknown>>;
        };
        const decoded = await decode(Buffer.from(answer.finish()));
        expect(decoded, `${row.api} v${version} response`).toMatchObject(
          row.expectDecoded(version),
        );
      }
    });
  }
});
