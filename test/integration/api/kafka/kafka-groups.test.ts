// Goal: classic consumer groups work for real Kafka clients, unchanged: a KafkaJS group of two
// members splits a topic's partitions and commits; a new member after both left resumes from
// the commits; `rill group describe` shows the KafkaJS group (protocol, client id, owners,
// offsets); kcat's balanced consumer (-G) consumes and commits when kcat is installed.
// Method: one `rill broker` process for the file (initial rebalance delay 1 ms so joins complete
// at once); outcomes are polled with deadlines (test/support/poll.ts), never slept for.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { formatDescription } from '../../../../src/cli/group-command.ts';
import type { GroupDescriptionBody } from '../../../../src/api/wire.ts';
import { topicIdBytes } from '../../../../src/api/kafka/kafka-topics.ts';
import type { KafkaReader } from '../../../../src/api/kafka/protocol/reader.ts';
import type { KafkaWriter } from '../../../../src/api/kafka/protocol/writer.ts';
import { BrokerProcess } from '../../../support/api/broker-process.ts';
import { KafkaWireClient } from '../../../support/api/kafka-wire.ts';
import { heartbeatRequest, heartbeatResponse } from '../../../../src/api/kafka/groups/heartbeat.ts';
import {
  joinGroupRequest,
  joinGroupResponse,
} from '../../../../src/api/kafka/groups/join-group.ts';
import {
  readMessage,
  writeMessage,
  type Field,
  type Message,
} from '../../../../src/api/kafka/groups/message-schema.ts';
import {
  syncGroupRequest,
  syncGroupResponse,
} from '../../../../src/api/kafka/groups/sync-group.ts';
import { H2c } from '../../../support/api/h2c.ts';
import { assertKcatInstalled, kcatTestsRun } from '../../../support/api/kafka-kcat.ts';
import { pollUntil } from '../../../support/poll.ts';

const kcat = 'kcat';
const brokerArgs = [
  '--limit',
  'groupInitialRebalanceDelayMs=1',
  '--limit',
  'groupMinSessionTimeoutMs=1000',
];
let broker: BrokerProcess;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;
let http: H2c;

beforeAll(async () => {
  broker = await BrokerProcess.start({
    args: brokerArgs,
  });
  http = new H2c(broker.url);
  kafka = new Kafka({
    clientId: 'rill-test',
    brokers: [`127.0.0.1:${broker.port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer();
  await producer.connect();
}, 60_000);

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await http?.close();
  await broker?.stop();
});

async function produce(topic: string, prefix: string, perPartition: number, partitions = 4) {
  const messages = [];
  for (let p = 0; p < partitions; p += 1) {
    for (let i = 0; i < perPartition; i += 1)
      messages.push({ partition: p, value: `${prefix}-${p}-${i}` });
  }
  await producer.send({ topic, messages, acks: -1 });
  return messages.map((m) => m.value);
}

interface Member {
  readonly consumer: Consumer;
  readonly received: string[];
  /** The partitions of its latest GROUP_JOIN. */
  assignment: number[];
}

async function startMember(groupId: string, topic: string): Promise<Member> {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 6_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 100,
  });
  const member: Member = { consumer, received: [], assignment: [] };
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    member.assignment = [...(event.payload.memberAssignment[topic] ?? [])].sort();
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      member.received.push(message.value?.toString() ?? '');
    },
  });
  return member;
}

async function describeGroup(group: string): Promise<GroupDescriptionBody> {
  const response = await http.get(`/v1/groups/${group}`);
  expect(response.status).toBe(200);
  return response.json() as GroupDescriptionBody;
}

describe('KafkaJS consumer group', () => {
  it('two members split the partitions, commit, and a restart resumes from the commits', async () => {
    const topic = 'group-orders';
    await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true });
    const first = await produce(topic, 'first', 5);
    const a = await startMember('kjs', topic);
    const b = await startMember('kjs', topic);
    try {
      await pollUntil('a 2+2 split of the four partitions', 30_000, () => {
        const both = [...a.assignment, ...b.assignment].sort();
        const split = a.assignment.length === 2 && b.assignment.length === 2;
        return split && both.join() === '0,1,2,3' ? true : undefined;
      });
      await pollUntil('every record consumed', 30_000, () => {
        const seen = new Set([...a.received, ...b.received]);
        return first.every((v) => seen.has(v)) ? true : undefined;
      });
      const described = await pollUntil('commits of 5 on each partition', 30_000, async () => {
        const group = await describeGroup('kjs');
        const done =
          group.offsets.every((o) => o.committedOffset === 5) && group.offsets.length === 4;
        return done && group.state === 'stable' ? group : undefined;
      });
      expect(described.protocol).toBe('classic');
      expect(described.members).toHaveLength(2);
      expect(described.members.every((m) => m.clientId === 'rill-test')).toBe(true);
      expect(described.members.every((m) => m.subscribedTopics.join() === topic)).toBe(true);
      const owners = new Set(described.offsets.map((o) => o.owner));
      expect(owners.size).toBe(2);
      expect(described.offsets.every((o) => o.lag === 0)).toBe(true);
      const text = formatDescription(described);
      expect(text).toContain('protocol classic');
      expect(text).toContain('rill-test');
      // Kafka's own view: DescribeGroups through KafkaJS's admin.
      const kafkaView = await admin.describeGroups(['kjs']);
      expect(kafkaView.groups[0]?.state).toBe('Stable');
      expect(kafkaView.groups[0]?.protocolType).toBe('consumer');
      expect(kafkaView.groups[0]?.members).toHaveLength(2);
      expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain('kjs');
    } finally {
      await a.consumer.disconnect();
      await b.consumer.disconnect();
    }
    // Both left (LeaveGroup): the group is empty and keeps its offsets.
    await pollUntil('an empty group', 10_000, async () =>
      (await describeGroup('kjs')).state === 'empty' ? true : undefined,
    );
    const second = await produce(topic, 'second', 2);
    const c = await startMember('kjs', topic);
    try {
      await pollUntil('the new records', 30_000, () =>
        second.every((v) => c.received.includes(v)) ? true : undefined,
      );
      // fromBeginning applies only without a commit: nothing before the commits came again.
      expect(c.received.filter((v) => !second.includes(v))).toEqual([]);
      const offsets = await admin.fetchOffsets({ groupId: 'kjs', topics: [topic] });
      await pollUntil('commits of 7', 30_000, async () => {
        const fetched = await admin.fetchOffsets({ groupId: 'kjs', topics: [topic] });
        const all = fetched[0]?.partitions ?? [];
        return all.length === 4 && all.every((p) => p.offset === '7') ? true : undefined;
      });
      expect(offsets[0]?.partitions).toHaveLength(4);
    } finally {
      await c.consumer.disconnect();
    }
  }, 120_000);

  it('a Rill-protocol group refuses KafkaJS members while it has its own', async () => {
    const topic = 'group-mixed';
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const joined = await pollUntil('a Rill member', 10_000, async () => {
      const r = await http.post('/v1/groups/mixed/heartbeat', {
        memberId: '',
        memberEpoch: 0,
        subscribedTopics: [topic],
      });
      return r.status === 200 ? r.json() : undefined;
    });
    expect(joined).toBeDefined();
    const consumer = kafka.consumer({ groupId: 'mixed', retry: { retries: 0 } });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic] });
      const crashed = new Promise<string>((resolve) => {
        consumer.on(consumer.events.CRASH, (event) => {
          resolve(String((event.payload.error as Error & { type?: string }).type));
        });
      });
      await consumer.run({ eachMessage: async () => undefined });
      expect(await crashed).toBe('INCONSISTENT_GROUP_PROTOCOL');
    } finally {
      await consumer.disconnect();
    }
  }, 60_000);
});

describe('ConsumerGroupHeartbeat (KIP-848) on the Kafka port', () => {
  it("joins Rill's own group, gets partitions by topic id, and leaves", async () => {
    const topic = 'group-848';
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    const topicId = topicIdBytes((await http.get(`/v1/topics/${topic}`)).json().topicId as string);
    const wire = await KafkaWireClient.connect(broker.port);
    try {
      const heartbeat = (memberId: string, memberEpoch: number, topics: string[] | null) =>
        wire.request(68, 0, true, (w: KafkaWriter) => {
          w.compactString('kip848').compactString(memberId).int32(memberEpoch);
          w.compactNullableString(null).compactNullableString(null).int32(-1);
          w.compactNullableArray(topics, (x, name) => x.compactString(name));
          w.compactNullableString('uniform').compactNullableArray(null, () => undefined);
          w.taggedFields();
        });
      const joined = await pollUntil('a join', 15_000, async () => {
        const answer = readHeartbeat(await heartbeat('', 0, [topic]));
        return answer.errorCode === 0 ? answer : undefined;
      });
      expect(joined.memberId).not.toBeNull();
      expect(joined.heartbeatIntervalMs).toBeGreaterThan(0);
      expect(joined.assignment).toEqual([{ topicId: topicId.toString('hex'), partitions: [0, 1] }]);
      const described = await describeGroup('kip848');
      expect(described.protocol).toBe('consumer');
      expect(described.members.map((m) => m.memberId)).toEqual([joined.memberId]);
      const stale = readHeartbeat(
        await heartbeat(joined.memberId ?? '', joined.memberEpoch + 5, null),
      );
      expect(stale.errorCode).toBe(110); // FENCED_MEMBER_EPOCH
      const left = readHeartbeat(await heartbeat(joined.memberId ?? '', -1, null));
      expect(left.errorCode).toBe(0);
      expect(left.memberEpoch).toBe(-1);
    } finally {
      wire.close();
    }
  }, 60_000);
});

function readHeartbeat(reader: KafkaReader) {
  reader.int32(); // throttle_time_ms
  const errorCode = reader.int16();
  const errorMessage = reader.compactNullableString();
  const memberId = reader.compactNullableString();
  const memberEpoch = reader.int32();
  const heartbeatIntervalMs = reader.int32();
  const present = reader.int8();
  const assignment =
    present < 0
      ? null
      : reader.compactArray((r) => {
          const topicId = Buffer.from(r.uuid()).toString('hex');
          const partitions = r.compactArray((p) => p.int32());
          r.skipTaggedFields();
          return { topicId, partitions };
        });
  if (present >= 0) reader.skipTaggedFields();
  reader.skipTaggedFields();
  expect(reader.remaining).toBe(0);
  return { errorCode, errorMessage, memberId, memberEpoch, heartbeatIntervalMs, assignment };
}

describe.runIf(kcatTestsRun)('kcat balanced consumer (-G)', () => {
  it('consumes every record of a topic as a group and commits', async () => {
    assertKcatInstalled();
    const topic = 'group-kcat';
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    const values = await produce(topic, 'k', 3, 2);
    const output = await run(kcat, [
      '-b',
      `127.0.0.1:${broker.port}`,
      '-G',
      'kcat-group',
      '-X',
      'auto.offset.reset=earliest',
      '-X',
      'session.timeout.ms=6000',
      '-c',
      String(values.length),
      '-f',
      '%s\\n',
      topic,
    ]);
    expect(output.trim().split('\n').sort()).toEqual([...values].sort());
    const described = await pollUntil('kcat commits', 15_000, async () => {
      const group = await describeGroup('kcat-group');
      return group.offsets.every((o) => o.committedOffset === 3) ? group : undefined;
    });
    expect(described.protocol).toBe('classic');
  }, 60_000);
});

describe.runIf(kcatTestsRun)('kcat static member (group.instance.id)', () => {
  it('a restart with the same instance id keeps the member in place and resumes', async () => {
    assertKcatInstalled();
    const topic = 'group-kcat-static';
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const consume = (count: number) =>
      run(kcat, [
        '-b',
        `127.0.0.1:${broker.port}`,
        '-G',
        'kcat-static',
        '-X',
        'group.instance.id=static-1',
        '-X',
        'auto.offset.reset=earliest',
        '-X',
        'session.timeout.ms=6000',
        '-c',
        String(count),
        '-f',
        '%s\\n',
        topic,
      ]);
    const first = await produce(topic, 's1', 2, 1);
    expect((await consume(2)).trim().split('\n')).toEqual(first);
    const described = await describeGroup('kcat-static');
    expect(described.members.map((m) => m.instanceId)).toEqual(['static-1']);
    // A static member does not leave on close: the next incarnation replaces it.
    const second = await produce(topic, 's2', 2, 1);
    expect((await consume(2)).trim().split('\n')).toEqual(second);
    const after = await describeGroup('kcat-static');
    expect(after.members.map((m) => m.instanceId)).toEqual(['static-1']);
    expect(after.members[0]?.memberId).not.toBe(described.members[0]?.memberId);
  }, 60_000);
});

/** Runs a command to its end (30 s at most); its stdout. */
function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} exited ${code}: ${stderr.slice(-2000)}`));
    });
  });
}

/** A crash: the new coordinator (the same node, restarted) replays __consumer_offsets. */
async function restartBroker(): Promise<void> {
  await broker.kill();
  await http.close();
  broker = await BrokerProcess.start({
    dataDir: broker.dataDir,
    port: broker.port,
    args: brokerArgs,
  });
  http = new H2c(broker.url);
}

// Last in the file: it restarts the shared broker.
describe('coordinator failover', () => {
  it('a member keeps its generation and assignment across a coordinator crash', async () => {
    let wire = await KafkaWireClient.connect(broker.port);
    const call = async (
      key: number,
      fields: readonly Field[],
      answer: readonly Field[],
      m: Message,
    ) => {
      const reader = await wire.request(key, 0, false, (w) => {
        writeMessage(w, fields, 0, false, m);
      });
      return readMessage(reader, answer, 0, false);
    };
    const joined = await pollUntil('a join', 15_000, async () => {
      const r = await call(11, joinGroupRequest, joinGroupResponse, {
        groupId: 'generation',
        sessionTimeoutMs: 30_000,
        memberId: '',
        protocolType: 'consumer',
        protocols: [{ name: 'range', metadata: new Uint8Array([0, 0]) }],
      });
      return r['errorCode'] === 0 ? r : undefined;
    });
    const memberId = joined['memberId'] as string;
    const generationId = joined['generationId'] as number;
    const synced = await call(14, syncGroupRequest, syncGroupResponse, {
      groupId: 'generation',
      generationId,
      memberId,
      assignments: [{ memberId, assignment: new Uint8Array([7, 7]) }],
    });
    expect(synced['errorCode']).toBe(0);
    wire.close();
    await restartBroker();
    wire = await KafkaWireClient.connect(broker.port);
    try {
      const beat = await pollUntil('a heartbeat the new coordinator answers', 30_000, async () => {
        const r = await call(12, heartbeatRequest, heartbeatResponse, {
          groupId: 'generation',
          generationId,
          memberId,
        });
        // COORDINATOR_LOAD_IN_PROGRESS and COORDINATOR_NOT_AVAILABLE while it loads.
        return r['errorCode'] === 14 || r['errorCode'] === 15 ? undefined : r;
      });
      expect(beat['errorCode']).toBe(0);
      const again = await call(14, syncGroupRequest, syncGroupResponse, {
        groupId: 'generation',
        generationId,
        memberId,
        assignments: [],
      });
      expect([...(again['assignment'] as Uint8Array)]).toEqual([7, 7]);
    } finally {
      wire.close();
    }
  }, 120_000);

  it('a KafkaJS group keeps its offsets across a coordinator crash', async () => {
    const topic = 'group-restart';
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    const before = await produce(topic, 'before', 2, 2);
    const member = await startMember('restart', topic);
    try {
      const stable = await pollUntil('commits of 2', 30_000, async () => {
        const group = await describeGroup('restart');
        const done =
          group.offsets.length === 2 && group.offsets.every((o) => o.committedOffset === 2);
        return done && group.state === 'stable' ? group : undefined;
      });
      expect(stable.members).toHaveLength(1);
      await restartBroker();
      const after = await pollUntil('a produce after the restart', 30_000, async () => {
        try {
          return await produce(topic, 'after', 2, 2);
        } catch {
          return undefined; // The producer reconnects.
        }
      });
      await pollUntil('the new records and their commits', 30_000, async () => {
        const group = await describeGroup('restart');
        const done = group.offsets.every((o) => o.committedOffset === 4);
        return done && after.every((v) => member.received.includes(v)) ? true : undefined;
      });
      const described = await describeGroup('restart');
      expect(described.protocol).toBe('classic');
      // KafkaJS restarts its consumer on a broken connection (a new member id); the committed
      // offsets survived: nothing before the crash came again.
      for (const value of before)
        expect(member.received.filter((v) => v === value)).toHaveLength(1);
    } finally {
      await member.consumer.disconnect();
    }
  }, 120_000);
});
