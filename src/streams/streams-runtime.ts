// The runtime against a cluster, one instance (issue 11 item 5, first slice): it creates the
// internal and output topics, runs every task of the topology in this process, reads all input
// partitions with one client Consumer and writes outputs, repartition and changelog records with
// one Producer. There are no committed offsets yet (consumer groups are another branch): a start
// replays the external inputs from the beginning with empty state and reads internal topics
// from their end, so a restart recomputes the same tables (and re-emits their changes).
import {
  ClientError,
  partitionForKey,
  type ConsumerRecord,
  type RillClient,
} from '../api/client/index.ts';
import { assert } from '../common/index.ts';
import { resolvePartitionCounts } from './partitioning.ts';
import { StreamTask, type OutputRecord, type TaskMetrics } from './stream-task.ts';
import type { Topology } from './topology.ts';

export interface RuntimeConfig {
  /** Replication factor of the topics the runtime creates. */
  readonly replicationFactor: number;
  /** Partitions of a missing output topic; default: the largest input partition count. */
  readonly outputPartitions?: number;
  readonly pollMaxWaitMs: number;
  /** Records a task buffers at most; the runtime processes before it adds more. */
  readonly taskBufferedMax: number;
}

export const defaultRuntimeConfig: RuntimeConfig = {
  replicationFactor: 1,
  pollMaxWaitMs: 200,
  taskBufferedMax: 10_000,
};

export class StreamsRuntime {
  readonly #topology: Topology;
  readonly #client: RillClient;
  readonly #config: RuntimeConfig;
  readonly #counts: Map<string, number>;
  readonly #tasks = new Map<string, StreamTask>();
  readonly #consumer;
  readonly #producer;

  private constructor(
    topology: Topology,
    client: RillClient,
    config: RuntimeConfig,
    counts: Map<string, number>,
  ) {
    this.#topology = topology;
    this.#client = client;
    this.#config = config;
    this.#counts = counts;
    this.#consumer = client.consumer({ autoOffsetReset: 'earliest' });
    this.#producer = client.producer({ acks: 'all' });
  }

  /** Codes: STREAMS_UNKNOWN_TOPIC, STREAMS_NOT_COPARTITIONED, and the admin's codes. */
  static async start(
    topology: Topology,
    client: RillClient,
    config: Partial<RuntimeConfig> = {},
  ): Promise<StreamsRuntime> {
    const full = { ...defaultRuntimeConfig, ...config };
    const admin = client.admin();
    const known = new Map<string, number>();
    for (const topic of topology.externalSourceTopics()) {
      const count = await describedCount(client, topic);
      if (count !== undefined) known.set(topic, count);
    }
    const counts = resolvePartitionCounts(topology, (topic) => known.get(topic));
    const inputMax = Math.max(1, ...known.values());
    const wanted = new Map<string, number>(
      [...topology.repartitionTopics].map((t) => [t, counts.get(t) ?? 1]),
    );
    // Changelogs keep the latest value per key: compacted, as Kafka Streams creates them.
    const compacted = new Set<string>();
    for (const sub of topology.subtopologies) {
      const taskCount = Math.max(...sub.sourceTopics.map((t) => counts.get(t) ?? 1));
      for (const store of sub.stores) {
        const changelog = topology.stores.get(store)?.changelogTopic ?? store;
        wanted.set(changelog, taskCount);
        compacted.add(changelog);
      }
      for (const topic of sub.sinkTopics) {
        if (!wanted.has(topic)) wanted.set(topic, full.outputPartitions ?? inputMax);
      }
    }
    for (const [name, partitions] of wanted) {
      const existing = await describedCount(client, name);
      if (existing === undefined) {
        const configs = compacted.has(name) ? { 'cleanup.policy': 'compact' } : {};
        const { replicationFactor } = full;
        await admin.createTopic({ name, partitions, replicationFactor, configs });
        counts.set(name, partitions);
      } else counts.set(name, existing);
    }
    const runtime = new StreamsRuntime(topology, client, full, counts);
    runtime.#assign();
    return runtime;
  }

  /** One poll and everything it allows; returns the number of input records processed. */
  async runOnce(): Promise<number> {
    const records = await this.#consumer.poll({ maxWaitMs: this.#config.pollMaxWaitMs });
    const sends: Promise<unknown>[] = [];
    for (const record of records) {
      const task = this.#tasks.get(`${record.topic}/${record.partition}`);
      assert(task !== undefined, `no task reads ${record.topic}/${record.partition}`);
      while (!task.add(toInput(record))) this.#processOne(task, sends);
    }
    const processed = records.length;
    for (const task of new Set(this.#tasks.values())) {
      while (task.hasPending()) this.#processOne(task, sends);
      for (const change of task.flushChangelog()) {
        const topic = this.#topology.stores.get(change.store)?.changelogTopic;
        assert(topic !== undefined, `no changelog for ${change.store}`);
        sends.push(
          this.#producer.send({
            topic,
            key: change.key,
            value: change.value,
            partition: task.partition,
          }),
        );
      }
    }
    await Promise.all(sends);
    return processed;
  }

  /** Runs until `stopping()` holds, then flushes what was produced. */
  async run(stopping: () => boolean): Promise<void> {
    while (!stopping()) await this.runOnce();
    await this.#producer.flush();
  }

  metrics(): Record<string, Readonly<TaskMetrics>> {
    const tasks = new Set(this.#tasks.values());
    return Object.fromEntries([...tasks].map((task) => [task.id, { ...task.metrics }]));
  }

  async close(): Promise<void> {
    await this.#producer.flush();
    await this.#client.close();
  }

  #assign(): void {
    const assignment: { topic: string; partition: number }[] = [];
    for (const sub of this.#topology.subtopologies) {
      const taskCount = Math.max(...sub.sourceTopics.map((t) => this.#counts.get(t) ?? 1));
      for (let partition = 0; partition < taskCount; partition += 1) {
        const task = new StreamTask(this.#topology, sub, partition, this.#config.taskBufferedMax);
        for (const topic of sub.sourceTopics) {
          if (partition >= (this.#counts.get(topic) ?? 0)) continue;
          this.#tasks.set(`${topic}/${partition}`, task);
          assignment.push({ topic, partition });
        }
      }
    }
    this.#consumer.assign(assignment);
    for (const tp of assignment) {
      if (this.#topology.repartitionTopics.has(tp.topic)) this.#consumer.seekToEnd(tp);
      else this.#consumer.seekToBeginning(tp);
    }
  }

  #processOne(task: StreamTask, sends: Promise<unknown>[]): void {
    task.processNext();
    for (const out of task.takeOutput()) sends.push(this.#send(out, task.partition));
  }

  #send(record: OutputRecord, fromPartition: number): Promise<unknown> {
    const count = this.#counts.get(record.topic) ?? 1;
    const partition =
      record.key === null ? fromPartition % count : partitionForKey(record.key, count);
    return this.#producer.send({
      topic: record.topic,
      key: record.key,
      value: record.value,
      timestampMs: record.timestampMs,
      partition,
    });
  }
}

function toInput(record: ConsumerRecord) {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    key: record.key,
    value: record.value,
    timestampMs: record.timestampMs,
  };
}

async function describedCount(client: RillClient, topic: string): Promise<number | undefined> {
  try {
    return (await client.admin().describeTopic(topic)).partitions.length;
  } catch (error) {
    if (error instanceof ClientError && error.code === 'UNKNOWN_TOPIC_OR_PARTITION') {
      return undefined;
    }
    throw error;
  }
}
