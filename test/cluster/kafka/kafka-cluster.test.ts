// Goal: the Kafka protocol on a three-node cluster (RF=3, min.insync.replicas=2): every node's
// Metadata lists all three brokers with their ports, the same controller and the leaders HTTP
// reports; Produce and ListOffsets on a follower answer NOT_LEADER_OR_FOLLOWER and write
// nothing; a KafkaJS idempotent producer bootstrapped from one node reaches every leader with
// acks=all, and what it wrote is what HTTP reads. Method: `rill broker` processes on loopback,
// raw requests through test/support/api/kafka-wire.ts, KafkaJS unchanged.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaWireClient } from '../../support/api/kafka-wire.ts';
import { assertKcatInstalled, kcatTestsRun } from '../../support/api/kafka-kcat.ts';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

const topic = 'kafka-rf3';
let cluster: RillCluster;
let leaders: Map<number, number>;

function portOf(id: number): number {
  return Number(new URL(cluster.url(id)).port);
}

beforeAll(async () => {
  cluster = await RillCluster.start(3, 1_500, 3, ['--replica-lag-time-max-ms', '1000']);
  const created = await cluster.post(1, '/v1/topics', {
    name: topic,
    partitions: 3,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '2' },
  });
  expect(created.status).toBe(201);
  leaders = await pollUntil('every partition led and writable', 20_000, async () => {
    const records = [0, 1, 2].map((partition) => ({ partition, value: 'probe' }));
    const answer = await cluster.post(2, `/v1/topics/${topic}/records?acks=all`, { records });
    const offsets = answer.body.offsets as { offset?: number }[] | undefined;
    if (offsets?.every((o) => o.offset !== undefined) !== true) return undefined;
    const { body } = await cluster.get(1, `/v1/topics/${topic}`);
    const views = body.partitions as { partition: number; leader: number | null }[];
    if (views.some((p) => p.leader === null)) return undefined;
    return new Map(views.map((p) => [p.partition, p.leader ?? -1]));
  });
});

afterAll(async () => cluster?.stopAll());

test('every node advertises all brokers, one controller and the leaders HTTP reports', async () => {
  const controllers = new Set<number>();
  for (const id of cluster.ids) {
    const client = await KafkaWireClient.connect(portOf(id));
    try {
      const reader = await client.request(3, 4, false, (w) => {
        w.array([topic], (tw, name) => tw.string(name)).boolean(false);
      });
      reader.int32();
      const brokers = reader.array((r) => {
        const broker = { id: r.int32(), host: r.string(), port: r.int32() };
        r.nullableString(); // rack
        return broker;
      });
      expect(reader.nullableString()).toMatch(/./); // cluster id
      expect(brokers.map((b) => b.id).sort()).toEqual([1, 2, 3]);
      for (const b of brokers) expect(b.port).toBe(portOf(b.id));
      controllers.add(reader.int32());
      const [answer] = reader.array((r) => {
        const errorCode = r.int16();
        r.string();
        r.boolean();
        const partitions = r.array((pr) => {
          pr.int16();
          const partition = pr.int32();
          const leader = pr.int32();
          pr.array((ir) => ir.int32());
          pr.array((ir) => ir.int32());
          return [partition, leader] as const;
        });
        return { errorCode, partitions: new Map(partitions) };
      });
      expect(answer?.errorCode).toBe(0);
      expect(answer?.partitions).toEqual(leaders);
    } finally {
      client.close();
    }
  }
  expect(controllers.size).toBe(1);
  expect(cluster.ids).toContain([...controllers][0]);
});

// Found by hand: on a fresh `rill cluster up`, the cluster's first producer id, issued by one
// node, reached a leader whose metadata had not applied the id block yet; UNKNOWN_PRODUCER_ID
// made librdkafka bump its epoch locally, which Rill then refused, and every message timed out
// (the broker's produce path now waits for a metadata barrier on an unknown id, record-service.ts). The race is timing-dependent: this test
// passes without that retry too, so it checks the path, not the race; it runs before any other
// idempotent producer of the cluster, so its id is the first block's.
test.runIf(kcatTestsRun)(
  "kcat idempotent producer, the cluster's first, reaches every leader",
  async () => {
    assertKcatInstalled();
    const lines = Array.from({ length: 300 }, (_, i) => `key-${i}:kcat-${i}`);
    const args = ['-b', `127.0.0.1:${portOf(2)}`, '-P', '-t', topic, '-K:', '-z', 'lz4'];
    args.push('-X', 'enable.idempotence=true', '-X', 'message.timeout.ms=20000');
    await new Promise<void>((resolve, reject) => {
      const child = execFile('kcat', args, { timeout: 40_000 }, (error, _out, stderr) => {
        if (error === null && stderr === '') resolve();
        else reject(new Error(`kcat: ${error?.message ?? ''} ${stderr.slice(0, 2_000)}`));
      });
      child.stdin?.end(`${lines.join('\n')}\n`);
    });
    const read: string[] = [];
    for (const [partition, leader] of leaders) {
      const path = `/v1/topics/${topic}/partitions/${partition}/records?offset=0&maxBytes=1048576`;
      const { body } = await cluster.get(leader, path);
      for (const record of body.records as { value: string }[]) read.push(record.value);
    }
    expect(read.filter((value) => value.startsWith('kcat-')).sort()).toEqual(
      lines.map((line) => line.split(':')[1]).sort(),
    );
  },
);

test('Produce, ListOffsets on a follower: NOT_LEADER_OR_FOLLOWER, nothing written', async () => {
  const partition = 0;
  const leader = leaders.get(partition) ?? -1;
  const follower = cluster.ids.find((id) => id !== leader) ?? -1;
  const before = (await cluster.get(leader, `/v1/topics/${topic}/partitions/0/offsets`)).body;
  const client = await KafkaWireClient.connect(portOf(follower));
  try {
    const produce = await client.request(0, 7, false, (w) => {
      w.nullableString(null).int16(-1).int32(5_000);
      w.array([topic], (tw, name) => {
        tw.string(name).array([partition], (pw, p) => pw.int32(p).bytes(Buffer.alloc(61)));
      });
    });
    const [produced] = produce.array((r) => {
      r.string();
      return r.array((pr) => [pr.int32(), pr.int16()]);
    });
    expect(produced).toEqual([[0, 6]]);
    const offsets = await client.request(2, 2, false, (w) => {
      w.int32(-1).int8(0);
      w.array([topic], (tw, name) => {
        tw.string(name).array([partition], (pw, p) => pw.int32(p).int64(-1));
      });
    });
    offsets.int32();
    const [listed] = offsets.array((r) => {
      r.string();
      return r.array((pr) => [pr.int32(), pr.int16()]);
    });
    expect(listed).toEqual([[0, 6]]);
  } finally {
    client.close();
  }
  const after = (await cluster.get(leader, `/v1/topics/${topic}/partitions/0/offsets`)).body;
  expect(after.highWatermark).toBe(before.highWatermark);
});

test('a KafkaJS idempotent producer from one bootstrap node reaches every leader', async () => {
  const kafka = new Kafka({
    brokers: [`127.0.0.1:${portOf(1)}`],
    logLevel: logLevel.NOTHING,
    clientId: 'rf3',
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const before = new Map<number, number>();
  for (const [partition, leader] of leaders) {
    const path = `/v1/topics/${topic}/partitions/${partition}/offsets`;
    before.set(partition, (await cluster.get(leader, path)).body.highWatermark as number);
  }
  const messages = Array.from({ length: 300 }, (_, i) => ({ key: `key-${i}`, value: `v${i}` }));
  try {
    const answers = await producer.send({ topic, messages, acks: -1 });
    expect(answers.map((a) => a.errorCode)).toEqual(answers.map(() => 0));
    expect(new Set(answers.map((a) => a.partition)).size).toBe(3);
  } finally {
    await producer.disconnect();
  }
  const read: string[] = [];
  for (const [partition, leader] of leaders) {
    const offset = before.get(partition) ?? 0;
    const path = `/v1/topics/${topic}/partitions/${partition}/records?offset=${offset}`;
    const { body } = await cluster.get(leader, path);
    for (const record of body.records as { value: string }[]) read.push(record.value);
  }
  expect(read.sort()).toEqual(messages.map((m) => m.value).sort());
});
