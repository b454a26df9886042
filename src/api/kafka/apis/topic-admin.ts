// CreateTopics (key 19, v0-v4), DeleteTopics (key 20, v0-v4) and DescribeConfigs (key 32,
// v0-v4) through the same broker calls as POST/DELETE /v1/topics and GET /v1/topics/{t}: any
// node takes them (the broker forwards to the controller). num_partitions and
// replication_factor -1 (v4+) mean num.partitions and default.replication.factor; manual
// replica assignments are refused (INVALID_REPLICA_ASSIGNMENT). DescribeConfigs answers a
// topic's effective configs and the broker's Kafka listener settings.
import { isBrokerError } from '../../../broker/index.ts';
import { userTopicParam } from '../../server/request-checks.ts';
import type { KafkaApi, KafkaServices } from '../dispatcher.ts';
import { kafkaErrorCode, kafkaErrorCodeOf } from '../error-codes.ts';
import type { KafkaReader } from '../protocol/reader.ts';
import { KafkaWriter } from '../protocol/writer.ts';

/** Topics one CreateTopics or DeleteTopics request may name, and configs per topic. */
export const adminTopicsMax = 1_000;
export const topicConfigsMax = 1_000;
/** DescribeConfigs resources per request. */
export const configResourcesMax = 1_000;

interface CreatableTopic {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly hasAssignments: boolean;
  readonly configs: Record<string, string>;
}

function readCreatableTopic(r: KafkaReader, flexible: boolean): CreatableTopic {
  const name = r.stringOf(flexible);
  const partitions = r.int32();
  const replicationFactor = r.int16();
  const assignments = r.arrayOf(flexible, (ar) => {
    ar.int32();
    ar.arrayOf(flexible, (br) => br.int32(), 1_000);
    ar.tagsOf(flexible);
  });
  const configs: Record<string, string> = {};
  r.arrayOf(
    flexible,
    (cr) => {
      const configName = cr.stringOf(flexible);
      const value = cr.nullableStringOf(flexible);
      cr.tagsOf(flexible);
      if (value !== null) configs[configName] = value;
    },
    topicConfigsMax,
  );
  r.tagsOf(flexible);
  return { name, partitions, replicationFactor, hasAssignments: assignments.length > 0, configs };
}

async function createOne(
  services: KafkaServices,
  topic: CreatableTopic,
  validateOnly: boolean,
): Promise<{ errorCode: number; message: string | null }> {
  const { broker, config } = services;
  try {
    userTopicParam(topic.name);
    if (topic.hasAssignments) {
      const message = 'manual replica assignments are not supported';
      return { errorCode: kafkaErrorCode.INVALID_REPLICA_ASSIGNMENT, message };
    }
    if (validateOnly) {
      const exists = broker.listTopics().some((listed) => listed.name === topic.name);
      const errorCode = exists ? kafkaErrorCode.TOPIC_ALREADY_EXISTS : kafkaErrorCode.NONE;
      return { errorCode, message: null };
    }
    await broker.createTopic({
      name: topic.name,
      partitions: topic.partitions === -1 ? config.autoCreatePartitions : topic.partitions,
      replicationFactor:
        topic.replicationFactor === -1
          ? config.autoCreateReplicationFactor
          : topic.replicationFactor,
      configs: topic.configs,
    });
    return { errorCode: kafkaErrorCode.NONE, message: null };
  } catch (error) {
    return { errorCode: kafkaErrorCodeOf(error), message: (error as Error).message };
  }
}

export const createTopicsApi: KafkaApi = {
  apiKey: 19,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 5,
  async handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const topics = reader.arrayOf(flexible, (r) => readCreatableTopic(r, flexible), adminTopicsMax);
    reader.int32(); // timeout_ms: creation waits for this node's replicas, bounded by the broker
    const validateOnly = version >= 1 ? reader.boolean() : false;
    const results = [];
    for (const topic of topics) {
      results.push({
        name: topic.name,
        ...(await createOne(context.services, topic, validateOnly)),
      });
    }
    const w = new KafkaWriter(128);
    if (version >= 2) w.int32(0); // throttle_time_ms
    w.array(results, (tw, result) => {
      tw.string(result.name).int16(result.errorCode);
      if (version >= 1) tw.nullableString(result.errorCode === 0 ? null : result.message);
    });
    return w;
  },
};

export const deleteTopicsApi: KafkaApi = {
  apiKey: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  async handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const names = reader.arrayOf(flexible, (r) => r.stringOf(flexible), adminTopicsMax);
    reader.int32(); // timeout_ms
    reader.tagsOf(flexible);
    const results: { name: string; errorCode: number }[] = [];
    for (const name of names) {
      try {
        await context.services.broker.deleteTopic(userTopicParam(name));
        results.push({ name, errorCode: kafkaErrorCode.NONE });
      } catch (error) {
        results.push({ name, errorCode: kafkaErrorCodeOf(error) });
      }
    }
    const w = new KafkaWriter(128);
    if (version >= 1) w.int32(0); // throttle_time_ms
    w.arrayOf(flexible, results, (rw, result) => {
      rw.stringOf(flexible, result.name).int16(result.errorCode).tagsOf(flexible);
    });
    return w.tagsOf(flexible);
  },
};

const resourceTopic = 2;
const resourceBroker = 4;
/** Kafka's ConfigSource values used here. */
const sourceTopic = 1;
const sourceStaticBroker = 4;

interface ConfigEntry {
  readonly name: string;
  readonly value: string;
}

function configsOf(services: KafkaServices, type: number, name: string): ConfigEntry[] {
  if (type === resourceTopic) {
    const configs = services.broker.describeTopic(name).configs;
    return Object.entries(configs).map(([key, value]) => ({ name: key, value }));
  }
  if (type === resourceBroker) {
    const { config } = services;
    return [
      { name: 'auto.create.topics.enable', value: String(config.autoCreateTopics) },
      { name: 'num.partitions', value: String(config.autoCreatePartitions) },
      { name: 'default.replication.factor', value: String(config.autoCreateReplicationFactor) },
      { name: 'socket.request.max.bytes', value: String(config.requestBytesMax) },
      { name: 'connections.max.idle.ms', value: String(config.connectionIdleMs) },
    ];
  }
  throw new Error(`resource type ${type}`);
}

export const describeConfigsApi: KafkaApi = {
  apiKey: 32,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 4,
  flexibleFrom: 4,
  async handle(context, reader, header) {
    const { apiVersion: version, flexible } = header;
    const resources = reader.arrayOf(
      flexible,
      (r) => {
        const type = r.int8();
        const name = r.stringOf(flexible);
        const keys = r.nullableArrayOf(flexible, (kr) => kr.stringOf(flexible), topicConfigsMax);
        r.tagsOf(flexible);
        return { type, name, keys };
      },
      configResourcesMax,
    );
    if (version >= 1) reader.boolean(); // include_synonyms
    if (version >= 3) reader.boolean(); // include_documentation
    reader.tagsOf(flexible);
    const w = new KafkaWriter(512);
    w.int32(0); // throttle_time_ms
    w.arrayOf(flexible, resources, (rw, resource) => {
      let entries: ConfigEntry[] = [];
      let errorCode: number = kafkaErrorCode.NONE;
      let message: string | null = null;
      try {
        entries = configsOf(context.services, resource.type, resource.name);
        if (resource.keys !== null)
          entries = entries.filter((e) => resource.keys?.includes(e.name));
      } catch (error) {
        const known = isBrokerError(error);
        errorCode = known ? kafkaErrorCodeOf(error) : kafkaErrorCode.INVALID_REQUEST;
        message = (error as Error).message;
      }
      rw.int16(errorCode).nullableStringOf(flexible, message);
      rw.int8(resource.type).stringOf(flexible, resource.name);
      const source = resource.type === resourceTopic ? sourceTopic : sourceStaticBroker;
      rw.arrayOf(flexible, entries, (ew, entry) => {
        ew.stringOf(flexible, entry.name).nullableStringOf(flexible, entry.value);
        ew.boolean(resource.type === resourceBroker); // read_only
        if (version === 0) ew.boolean(false); // is_default
        if (version >= 1) ew.int8(source);
        ew.boolean(false); // is_sensitive
        if (version >= 1) ew.arrayOf(flexible, [], () => undefined); // synonyms
        if (version >= 3) ew.int8(0).nullableStringOf(flexible, null); // type, documentation
        ew.tagsOf(flexible);
      });
      rw.tagsOf(flexible);
    });
    return Promise.resolve(w.tagsOf(flexible));
  },
};
