// `npm run bench:kafka [-- --records N --repeat R --replicas 1|3]` (also `npm run bench --
// --only kafka`, which runs both): produce and consume of 1 KiB records through the Kafka
// protocol — KafkaJS and kcat's producer, kcat's consumer and a KafkaJS consumer group — beside
// Rill's own client (HTTP/2) against the same system (one broker, or three nodes with topics
// RF=3) in the same run, in interleaved rounds; prints min/median/max MiB/s, each figure's
// per-round ratio to Rill's client, and the load average at start and end. kcat figures are
// skipped when kcat is not installed. All producers use acks=all; no compression.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { RillClient } from '../src/api/client/index.ts';
import { benchConsume, benchProduce } from '../src/cli/client-bench.ts';
import { produceBatching } from './bench/single-node.ts';
import { formatSpread, loadAverage, ratiosOf, spreadOf } from './bench/stats.ts';
import { spawnBroker } from './spawn-broker.ts';
import { spawnCluster } from './spawn-cluster.ts';

const recordBytes = 1024;
/** KafkaJS: records per produce request, and requests in flight at once. */
const kafkajsBatchRecords = 1_000;
const kafkajsInFlight = 4;

/** One broker, or a three-node cluster (topics RF=3): its URLs, Kafka bootstrap and stop. */
async function startSystem(replicas: 1 | 3) {
  if (replicas === 1) {
    const broker = await spawnBroker({ readyTimeoutMs: 120_000 });
    return { urls: [broker.url], stop: () => broker.stop() };
  }
  const cluster = await spawnCluster({ size: 3, readyTimeoutMs: 120_000 });
  return { urls: [...cluster.urls.values()], stop: () => cluster.stop() };
}

export async function benchKafka(
  records: number,
  repeat: number,
  replicas: 1 | 3 = 1,
): Promise<Record<string, unknown>> {
  const hasKcat = hasCommand('kcat');
  console.log(`load average at start: ${JSON.stringify(loadAverage())} replicas=${replicas}`);
  const broker = await startSystem(replicas);
  const brokers = broker.urls.map((url) => new URL(url).host);
  const client = new RillClient({ bootstrapUrls: broker.urls });
  const kafka = new Kafka({
    brokers,
    logLevel: logLevel.NOTHING,
    clientId: 'bench',
  });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  const dir = await mkdtemp(join(tmpdir(), 'rill-bench-kafka-'));
  const figures: Record<string, number[]> = {};
  const add = (name: string, mibPerSecond: number): void => {
    (figures[name] ??= []).push(mibPerSecond);
    console.log(`  ${name}: ${mibPerSecond.toFixed(1)} MiB/s`);
  };
  try {
    await producer.connect();
    const lines = join(dir, 'records.txt');
    await writeFile(lines, kcatInput(records));
    const admin = client.admin();
    await admin.createTopic({ name: 'kb-consume', partitions: 4, replicationFactor: replicas });
    const rillProducer = { acks: 'all' as const, ...produceBatching };
    await benchProduce(client, {
      topic: 'kb-consume',
      records,
      recordBytes,
      producer: rillProducer,
    });
    for (const topic of ['kb-rill', 'kb-kafkajs', 'kb-kcat']) {
      await admin.createTopic({ name: topic, partitions: 4, replicationFactor: replicas });
    }
    // Warm-up: the first second of a process is not its speed.
    await kafkajsProduce(producer, 'kb-kafkajs', Math.min(records, 10_000));
    for (let round = 1; round <= repeat; round += 1) {
      console.log(`round ${round}/${repeat}`);
      const rill = await benchProduce(client, {
        topic: 'kb-rill',
        records,
        recordBytes,
        producer: rillProducer,
      });
      add('produce.rillClient', rill.mibPerSecond);
      add('produce.kafkajs', await kafkajsProduce(producer, 'kb-kafkajs', records));
      if (hasKcat) add('produce.kcat', await kcatProduce(brokers, 'kb-kcat', lines, records));
      const consumed = await benchConsume(client, { topic: 'kb-consume', records });
      add('consume.rillClient', consumed.mibPerSecond);
      if (hasKcat) add('consume.kcat', await kcatConsume(brokers, 'kb-consume', records));
      add('consume.kafkajs', await kafkajsConsume(kafka, 'kb-consume', records, round));
    }
  } finally {
    await producer.disconnect().catch(() => undefined);
    await client.close();
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return summarize(figures, replicas);
}

function summarize(figures: Record<string, number[]>, replicas: 1 | 3): Record<string, unknown> {
  const summary: Record<string, unknown> = {};
  const system = replicas === 1 ? 'single node' : 'three nodes, RF=3';
  console.log(`\nKafka protocol beside Rill client (1 KiB records, ${system}, acks=all):`);
  for (const [name, values] of Object.entries(figures)) {
    const baseline =
      figures[name.startsWith('produce') ? 'produce.rillClient' : 'consume.rillClient'];
    const ratios = spreadOf(ratiosOf(values, baseline ?? []), 2);
    const spread = spreadOf(values, 1);
    summary[name] = { mibPerSecond: spread, ratioToRillClient: ratios };
    console.log(`  ${name}: ${formatSpread(spread, ' MiB/s')}; ratio ${formatSpread(ratios)}`);
  }
  console.log(`load average at end: ${JSON.stringify(loadAverage())}`);
  return summary;
}

async function kafkajsProduce(producer: Producer, topic: string, records: number): Promise<number> {
  const value = randomBytes(recordBytes);
  const batches: number[] = [];
  for (let left = records; left > 0; left -= kafkajsBatchRecords) {
    batches.push(Math.min(left, kafkajsBatchRecords));
  }
  const startMs = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < batches.length) {
      const count = batches[next++] ?? 0;
      const messages = Array.from({ length: count }, () => ({ value }));
      await producer.send({ topic, messages, acks: -1 });
    }
  };
  await Promise.all(Array.from({ length: kafkajsInFlight }, lane));
  return mibPerSecond(records, startMs);
}

/**
 * A KafkaJS consumer group (a fresh group id per round) reads the topic from the beginning.
 * The clock starts at its first batch: joining the group (and the coordinator's initial
 * rebalance delay) is not consume speed.
 */
async function kafkajsConsume(
  kafka: Kafka,
  topic: string,
  records: number,
  round: number,
): Promise<number> {
  const consumer = kafka.consumer({
    groupId: `bench-kafkajs-${round}-${Date.now()}`,
    maxBytes: 16 * 1024 * 1024,
    maxBytesPerPartition: 4 * 1024 * 1024,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let firstMs = 0;
    let firstCount = 0;
    let count = 0;
    let lastMs = 0;
    const finished = new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          if (count === 0) {
            firstMs = performance.now();
            firstCount = batch.messages.length;
          }
          count += batch.messages.length;
          lastMs = performance.now();
          if (count >= records) resolve();
          return Promise.resolve();
        },
      });
    });
    await finished;
    const counted = Math.max(1, count - firstCount);
    return (counted * recordBytes) / (1024 * 1024) / (Math.max(1, lastMs - firstMs) / 1000);
  } finally {
    await consumer.disconnect();
  }
}

/** `records` lines of 1023 printable bytes + newline: kcat sends each line as a 1 KiB-ish value. */
function kcatInput(records: number): Buffer {
  const line = Buffer.from(
    `${randomBytes(recordBytes)
      .toString('base64')
      .slice(0, recordBytes - 1)}\n`,
  );
  return Buffer.concat(Array.from({ length: records }, () => line));
}

async function kcatProduce(
  brokers: readonly string[],
  topic: string,
  file: string,
  records: number,
): Promise<number> {
  const startMs = performance.now();
  await run('kcat', ['-b', brokers.join(','), '-P', '-t', topic, '-l', file]);
  return mibPerSecond(records, startMs);
}

async function kcatConsume(
  brokers: readonly string[],
  topic: string,
  records: number,
): Promise<number> {
  const startMs = performance.now();
  const args = ['-b', brokers.join(','), '-C', '-t', topic, '-o', 'beginning', '-e', '-q'];
  const lines = await run('kcat', [...args, '-f', '%o\\n']);
  const count = lines.split('\n').filter((line) => line !== '').length;
  if (count !== records) throw new Error(`kcat consumed ${count} records, expected ${records}`);
  return mibPerSecond(records, startMs);
}

function mibPerSecond(records: number, startMs: number): number {
  return (records * recordBytes) / (1024 * 1024) / ((performance.now() - startMs) / 1000);
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('exit', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new Error(`${command} exited ${code}: ${Buffer.concat(err).toString()}`));
    });
  });
}

function hasCommand(command: string): boolean {
  try {
    execFileSync(command, ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '50000' },
      repeat: { type: 'string', default: '3' },
      replicas: { type: 'string', default: '1' },
    },
  });
  const replicas = values.replicas === '3' ? 3 : 1;
  const summary = await benchKafka(
    Number(values.records),
    Math.max(1, Number(values.repeat)),
    replicas,
  );
  console.log(JSON.stringify({ kafka: summary }));
}
