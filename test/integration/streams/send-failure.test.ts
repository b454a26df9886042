// Goal: outputs are sent without awaiting each acknowledgement, yet a failed output still fails
// the runtime before any checkpoint covers the input record that produced it (effectively-once
// rests on this: a checkpoint past that record would lose its output for good).
// Method: one broker, 400 input records, a pass-through topology whose producer rejects the
// output of one seeded input offset (a non-retriable error, 300 ms after the send, while
// commits come due every 20 ms and every later record is processed and acknowledged).
// run() must reject with that error, and every checkpoint written stays at or below that offset.
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  ClientError,
  RillClient,
  type Producer,
  type ProducerMessage,
  type RecordMetadata,
} from '../../../src/api/client/index.ts';
import { StreamsBuilder, StreamsRuntime, serdes, stringSerde } from '../../../src/streams/index.ts';
import { readOutput } from '../../../scripts/nexmark-run.ts';
import { spawnBroker, type BrokerProcess } from '../../../scripts/spawn-broker.ts';
import { rng } from './word-count-apps.ts';
import { withOverrides } from '../../support/with-overrides.ts';

const input = 'send-failure-in';
const output = 'send-failure-out';
const recordCount = 400;
let broker: BrokerProcess;

beforeAll(async () => {
  broker = await spawnBroker();
  const client = new RillClient({ bootstrapUrls: [broker.url] });
  await client.admin().createTopic({ name: input, partitions: 1, replicationFactor: 1 });
  const producer = client.producer({ lingerMs: 5 });
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < recordCount; i += 1) {
    sends.push(producer.send({ topic: input, key: `k${i % 7}`, value: `v${i}` }));
  }
  await Promise.all(sends);
  await client.close();
});

afterAll(async () => {
  await broker?.stop();
});

/** A client whose producers reject the output whose origin is input offset `failAt`. */
function failingClient(url: string, failAt: number): RillClient {
  const client = new RillClient({ bootstrapUrls: [url] });
  return withOverrides(client, {
    producer: (config: Parameters<RillClient['producer']>[0]) => {
      const producer: Producer = client.producer(config);
      const failing = (message: ProducerMessage): boolean => {
        const headers = Array.isArray(message.headers) ? message.headers : [];
        const origin = headers.find((h: { key: string }) => h.key === 'rill.origin');
        const text = origin?.value ? Buffer.from(origin.value).toString() : '';
        return message.topic === output && text === `${input}@${failAt}.0`;
      };
      // Failing late: commits (every 20 ms) come due while it is unacknowledged.
      const error = new ClientError('INVALID_RECORD', 'injected send failure');
      return withOverrides(producer, {
        send: (message: ProducerMessage) => {
          if (!failing(message)) return producer.send(message);
          return new Promise((_resolve, reject) => setTimeout(() => reject(error), 300));
        },
        sendWith: (
          message: ProducerMessage,
          onAck: (metadata: RecordMetadata) => void,
          onError: (error: unknown) => void,
        ) => {
          if (!failing(message)) producer.sendWith(message, onAck, onError);
          else setTimeout(() => onError(error), 300);
        },
      });
    },
  });
}

test('a failed output fails the runtime, and no checkpoint covers its input record', async () => {
  const seed = Number(process.env.STREAMS_SEND_FAILURE_SEED ?? Date.now() % 100_000);
  console.log(`send-failure seed: ${seed} (STREAMS_SEND_FAILURE_SEED=${seed} to replay)`);
  const failAt = 50 + Math.floor(rng(seed)() * (recordCount - 100));
  const applicationId = `send-failure-${seed}`;
  const builder = new StreamsBuilder({ applicationId });
  const strings = serdes(stringSerde, stringSerde);
  builder.stream(input, strings).to(output, strings);
  const runtime = await StreamsRuntime.start(builder.build(), failingClient(broker.url, failAt), {
    commitIntervalMs: 20,
  });
  await expect(runtime.run(() => false)).rejects.toThrow('injected send failure');

  const reader = new RillClient({ bootstrapUrls: [broker.url] });
  const checkpoints = await readOutput(reader, `${applicationId}-checkpoints`);
  await reader.close();
  const covered = checkpoints.map((c) => (c.value?.offsets as Record<string, number>)[input] ?? 0);
  console.log(`failAt=${failAt} checkpoint offsets=${covered.join(',')}`);
  expect(covered.length).toBeGreaterThan(0); // The first, at task start.
  // A checkpoint's offset is the next record to process: at most the failed record's.
  for (const offset of covered) expect(offset).toBeLessThanOrEqual(failAt);
}, 60_000);
