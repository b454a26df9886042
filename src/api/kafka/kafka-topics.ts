// What Kafka answers need from the broker's metadata: each alive node's host and port (the
// port is shared with HTTP, so a node's advertised URL gives both), the controller to name,
// 16-byte topic ids, and auto-creation (auto.create.topics.enable, num.partitions,
// default.replication.factor lowered to the alive nodes) for Metadata and Produce.
import { createHash } from 'node:crypto';
import type { Broker, TopicDescription } from '../../broker/index.ts';
import { isBrokerError } from '../../broker/index.ts';
import { topicParam } from '../server/request-checks.ts';
import type { KafkaServices } from './dispatcher.ts';

export interface KafkaBrokerEndpoint {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** The alive nodes Kafka clients may dial, from their advertised URLs. */
export function kafkaEndpoints(broker: Broker): KafkaBrokerEndpoint[] {
  const endpoints: KafkaBrokerEndpoint[] = [];
  for (const node of broker.describeCluster().brokers) {
    if (node.status !== 'alive') continue;
    const endpoint = endpointOf(node.id, node.url);
    if (endpoint !== null) endpoints.push(endpoint);
  }
  return endpoints;
}

export function endpointOf(nodeId: number, url: string): KafkaBrokerEndpoint | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null; // A node registered with an unparsable URL cannot be advertised; skip it.
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
  return { nodeId, host, port };
}

/** The controller to name: the metadata controller, else this node (a real broker either way). */
export function controllerIdOf(broker: Broker): number {
  return broker.describeCluster().controllerId ?? broker.nodeId;
}

/** A 16-byte topic id: the id itself when it is a UUID, else a stable digest of it. */
export function topicIdBytes(topicId: string): Buffer {
  const hex = topicId.replace(/-/g, '');
  if (/^[0-9a-fA-F]{32}$/.test(hex)) return Buffer.from(hex, 'hex');
  return createHash('md5').update(topicId).digest();
}

/** The user topics' names by topic id (hex of topicIdBytes), for requests that name ids. */
export function topicNamesById(services: KafkaServices): Map<string, string> {
  const names = new Map<string, string>();
  for (const listing of services.broker.listTopics()) {
    if (listing.name.startsWith('__')) continue;
    const id = topicIdBytes(services.broker.describeTopic(listing.name).topicId);
    names.set(id.toString('hex'), listing.name);
  }
  return names;
}

/**
 * The topic's description, creating it first when it does not exist and `mayCreate` (the
 * node's auto.create.topics.enable and the request's allow). Throws the broker's error
 * (UNKNOWN_TOPIC_OR_PARTITION, INVALID_TOPIC_EXCEPTION, …) otherwise.
 */
export async function describeOrCreate(
  services: KafkaServices,
  name: string,
  mayCreate: boolean,
): Promise<TopicDescription> {
  const { broker, config } = services;
  topicParam(name);
  try {
    return broker.describeTopic(name);
  } catch (error) {
    const isUnknown = isBrokerError(error) && error.code === 'UNKNOWN_TOPIC_OR_PARTITION';
    if (!isUnknown || !mayCreate || !config.autoCreateTopics || name.startsWith('__')) throw error;
  }
  const alive = kafkaEndpoints(broker).length;
  const replicationFactor = Math.max(1, Math.min(config.autoCreateReplicationFactor, alive));
  try {
    return await broker.createTopic({
      name,
      partitions: config.autoCreatePartitions,
      replicationFactor,
      configs: {},
    });
  } catch (error) {
    // Another client created it meanwhile: describe what exists.
    if (isBrokerError(error) && error.code === 'TOPIC_ALREADY_EXISTS') {
      return broker.describeTopic(name);
    }
    throw error;
  }
}
