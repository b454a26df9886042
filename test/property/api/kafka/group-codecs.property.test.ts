// Goal: every group API's request and response codec round-trips in every version we serve,
// classic and flexible (compact strings and arrays, tag sections), and reads exactly the bytes
// written. Method: fast-check values generated from each message's own schema, written then
// read at each version; fields outside a version read as their absent value. Also checks the
// flexible encoding differs from the classic one where it must (a compact length is a varint).
// Replay: RILL_CODEC_SEED=<seed>.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { consumerGroupHeartbeatRequest } from '../../../../src/api/kafka/groups/consumer-group-heartbeat.ts';
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
import { groupApis } from '../../../../src/api/kafka/group-apis.ts';
import { KafkaReader } from '../../../../src/api/kafka/protocol/reader.ts';
import { KafkaWriter } from '../../../../src/api/kafka/protocol/writer.ts';

const seed = Number(process.env['RILL_CODEC_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

const schemas: Record<string, readonly (readonly Field[])[]> = {
  FindCoordinator: [findCoordinatorRequest, findCoordinatorResponse],
  JoinGroup: [joinGroupRequest, joinGroupResponse],
  SyncGroup: [syncGroupRequest, syncGroupResponse],
  Heartbeat: [heartbeatRequest, heartbeatResponse],
  LeaveGroup: [leaveGroupRequest, leaveGroupResponse],
  OffsetCommit: [offsetCommitRequest, offsetCommitResponse],
  OffsetFetch: [offsetFetchRequest, offsetFetchResponse],
  ListGroups: [listGroupsRequest, listGroupsResponse],
  DescribeGroups: [describeGroupsRequest, describeGroupsResponse],
  // The response's nullable Assignment struct is written by the handler (integration test).
  ConsumerGroupHeartbeat: [consumerGroupHeartbeatRequest],
};

function arbitraryOf(fields: readonly Field[], version: number): fc.Arbitrary<Message> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of fields) {
    if (version < field.versions[0] || version > field.versions[1]) continue;
    const nullable = field.nullableFrom !== undefined && version >= field.nullableFrom;
    record[field.name] = valueOf(field.type, version, nullable);
  }
  return fc.record(record);
}

function valueOf(type: Field['type'], version: number, nullable: boolean): fc.Arbitrary<unknown> {
  let base: fc.Arbitrary<unknown>;
  if (typeof type === 'object') {
    const of = type.of;
    const element = typeof of === 'string' ? valueOf(of, version, false) : arbitraryOf(of, version);
    base = fc.array(element, { maxLength: 3 });
  } else {
    base = {
      int8: fc.integer({ min: -128, max: 127 }),
      int16: fc.integer({ min: -32768, max: 32767 }),
      int32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      int64: fc.maxSafeInteger(),
      bool: fc.boolean(),
      string: fc.string({ maxLength: 12, unit: 'grapheme' }),
      bytes: fc.uint8Array({ maxLength: 12 }),
      uuid: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    }[type];
  }
  return nullable ? fc.option(base, { nil: null }) : base;
}

/** Bytes as plain arrays, so a Buffer read equals the Uint8Array written. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function expected(fields: readonly Field[], version: number, message: Message): Message {
  const out: Message = {};
  for (const field of fields) {
    const inVersion = version >= field.versions[0] && version <= field.versions[1];
    if (!inVersion) {
      out[field.name] = field.absent ?? null;
      continue;
    }
    const value = message[field.name];
    const of = typeof field.type === 'object' ? field.type.of : null;
    out[field.name] =
      Array.isArray(value) && of !== null && typeof of !== 'string'
        ? value.map((item) => expected(of, version, item as Message))
        : value;
  }
  return out;
}

describe(`group API codecs round-trip in every version (seed ${seed})`, () => {
  for (const api of groupApis) {
    const pair = schemas[api.name];
    test(`${api.name} v${api.minVersion}-v${api.maxVersion}`, () => {
      expect(pair).toBeDefined();
      for (let version = api.minVersion; version <= api.maxVersion; version += 1) {
        const flexible = version >= api.flexibleFrom;
        for (const fields of pair ?? []) {
          fc.assert(
            fc.property(arbitraryOf(fields, version), (message) => {
              const bytes = writeMessage(
                new KafkaWriter(16),
                fields,
                version,
                flexible,
                message,
              ).finish();
              const reader = new KafkaReader(Buffer.from(bytes));
              const read = readMessage(reader, fields, version, flexible);
              expect(reader.remaining).toBe(0);
              expect(plain(read)).toEqual(plain(expected(fields, version, message)));
            }),
            { seed, numRuns: 40 },
          );
        }
      }
    });
  }

  test('a flexible version uses compact strings and ends structs with a tag section', () => {
    const message = { groupId: 'g', generationId: 1, memberId: 'm', groupInstanceId: null };
    const classic = writeMessage(new KafkaWriter(), heartbeatRequest, 3, false, message).finish();
    const flexible = writeMessage(new KafkaWriter(), heartbeatRequest, 4, true, message).finish();
    // v3: int16 len "g", int32, int16 len "m", int16 -1 (null).
    expect([...classic]).toEqual([0, 1, 103, 0, 0, 0, 1, 0, 1, 109, 255, 255]);
    // v4: uvarint len+1, int32, uvarint len+1, 0 (null), empty tag section.
    expect([...flexible]).toEqual([2, 103, 0, 0, 0, 1, 2, 109, 0, 0]);
  });
});
