// Goal: topic auto-creation follows Kafka's rules: with auto.create.topics.enable on (the
// default) Metadata creates an unknown topic unless a v4+ request says
// allow_auto_topic_creation=false, and Produce creates it; with `--no-auto-create-topics`
// neither does, and both answer UNKNOWN_TOPIC_OR_PARTITION. Method: two broker processes (the
// option on and off), raw Metadata and Produce requests, the topic list read over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerProcess } from '../../../support/api/broker-process.ts';
import { H2c } from '../../../support/api/h2c.ts';
import { KafkaWireClient } from '../../../support/api/kafka-wire.ts';

interface Node {
  broker: BrokerProcess;
  http: H2c;
}
const nodes: { on?: Node; off?: Node } = {};

beforeAll(async () => {
  const [on, off] = await Promise.all([
    BrokerProcess.start(),
    BrokerProcess.start({ args: ['--no-auto-create-topics'] }),
  ]);
  nodes.on = { broker: on, http: new H2c(on.url) };
  nodes.off = { broker: off, http: new H2c(off.url) };
});

afterAll(async () => {
  for (const node of [nodes.on, nodes.off]) {
    await node?.http.close();
    await node?.broker.stop();
  }
});

async function metadataErrorCode(node: Node, name: string, version: number, allow: boolean) {
  const client = await KafkaWireClient.connect(node.broker.port);
  try {
    const reader = await client.request(3, version, false, (w) => {
      w.array([name], (tw, topic) => tw.string(topic));
      if (version >= 4) w.boolean(allow);
    });
    if (version >= 3) reader.int32();
    reader.array((r) => [r.int32(), r.string(), r.int32(), r.nullableString()]);
    if (version >= 2) reader.nullableString(); // cluster_id
    reader.int32(); // controller_id
    const [topic] = reader.array((r) => {
      const errorCode = r.int16();
      r.string();
      r.boolean();
      r.array((pr) => {
        pr.int16(); // error_code
        pr.int32(); // partition
        pr.int32(); // leader
        return [pr.array((ir) => ir.int32()), pr.array((ir) => ir.int32())];
      });
      return errorCode;
    });
    return topic;
  } finally {
    client.close();
  }
}

async function produceErrorCode(node: Node, name: string): Promise<number | undefined> {
  const client = await KafkaWireClient.connect(node.broker.port);
  try {
    const reader = await client.request(0, 3, false, (w) => {
      w.nullableString(null).int16(1).int32(5_000);
      w.array([name], (tw, topic) => {
        tw.string(topic).array([0], (pw, p) => pw.int32(p).bytes(Buffer.alloc(61)));
      });
    });
    const [codes] = reader.array((r) => {
      r.string();
      return r.array((pr) => {
        pr.int32();
        const code = pr.int16();
        pr.int64();
        pr.int64();
        return code;
      });
    });
    return codes?.[0];
  } finally {
    client.close();
  }
}

async function topics(node: Node): Promise<string[]> {
  const listed = (await node.http.get('/v1/topics')).json().topics as { name: string }[];
  return listed.map((t) => t.name).filter((name) => !name.startsWith('__'));
}

describe('auto.create.topics.enable on (default)', () => {
  it('Metadata v4 with allow_auto_topic_creation=false creates nothing', async () => {
    const node = nodes.on!;
    expect(await metadataErrorCode(node, 'not-allowed', 4, false)).toBe(3);
    expect(await topics(node)).not.toContain('not-allowed');
  });

  it('Metadata v1 and v4 (allowed) create the topic with num.partitions partitions', async () => {
    const node = nodes.on!;
    expect(await metadataErrorCode(node, 'made-v1', 1, true)).toBe(0);
    expect(await metadataErrorCode(node, 'made-v4', 4, true)).toBe(0);
    expect(await topics(node)).toEqual(expect.arrayContaining(['made-v1', 'made-v4']));
    expect((await node.http.get('/v1/topics/made-v4')).json().partitions).toHaveLength(1);
  });
});

describe('--no-auto-create-topics', () => {
  it('Metadata and Produce answer UNKNOWN_TOPIC_OR_PARTITION and create nothing', async () => {
    const node = nodes.off!;
    expect(await metadataErrorCode(node, 'never', 1, true)).toBe(3);
    expect(await metadataErrorCode(node, 'never', 4, true)).toBe(3);
    expect(await produceErrorCode(node, 'never')).toBe(3);
    expect(await topics(node)).toEqual([]);
  });
});
