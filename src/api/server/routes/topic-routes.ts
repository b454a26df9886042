// Topic admin: POST /v1/topics, GET /v1/topics, GET (offsets from any node: topic-describe.ts)
// and DELETE /v1/topics/{topic}, and
// PUT /v1/topics/{topic}/configs (set or, with null, remove Kafka-named config overrides), and
// POST /v1/topics/{topic}/partitions/{p}/reassignment {replicas} (202: the controller moves it).
import {
  configsField,
  enumQuery,
  integerField,
  invalid,
  objectBody,
  partitionParam,
  topicParam,
  type Query,
  userTopicParam,
} from '../request-checks.ts';
import { askLeaders, leadersToAsk, mergeLeaderAnswers } from './topic-describe.ts';
import type {
  PartitionDescriptionBody,
  TopicDescriptionBody,
  TopicListingBody,
} from '../../wire.ts';
import type { RillApp, RouteContext } from '../route-context.ts';

const safeMax = Number.MAX_SAFE_INTEGER;

interface TopicParams {
  readonly topic: string;
}

interface PartitionParams extends TopicParams {
  readonly partition: string;
}

/** Replica lists are short (replication.factor ≤ 16); longer ones are refused unread. */
const replicasMax = 16;

function replicasField(body: Record<string, unknown>): number[] {
  const replicas = body['replicas'];
  const isIdList =
    Array.isArray(replicas) &&
    replicas.length <= replicasMax &&
    replicas.every((id) => Number.isSafeInteger(id) && (id as number) >= 0);
  if (!isIdList) throw invalid(`replicas must be at most ${replicasMax} node ids`);
  return replicas as number[];
}

export function registerTopicRoutes(app: RillApp, context: RouteContext): void {
  const { broker } = context;
  app.post('/v1/topics', async (request, reply) => {
    const body = objectBody(request.body);
    if (typeof body['name'] !== 'string') throw invalid('name must be a string');
    const name = userTopicParam(body['name']);
    // Types are checked here (INVALID_REQUEST), ranges by the broker (INVALID_PARTITIONS,
    // INVALID_REPLICATION_FACTOR), as Kafka answers them.
    const partitions = integerField(body, 'partitions', -safeMax, safeMax);
    const replicationFactor = integerField(body, 'replicationFactor', -safeMax, safeMax);
    const configs = configsField(body, 'configs', false) as Record<string, string>;
    const topic: TopicDescriptionBody = await broker.createTopic({
      name,
      partitions,
      replicationFactor,
      configs,
    });
    return reply.code(201).send(topic);
  });
  app.get('/v1/topics', (): { topics: TopicListingBody[] } => ({ topics: broker.listTopics() }));
  app.get<{ Params: TopicParams; Querystring: Query }>(
    '/v1/topics/:topic',
    async (request): Promise<TopicDescriptionBody> => {
      const topic = topicParam(request.params.topic);
      const local = enumQuery(request.query, 'local', ['true', 'false'] as const, 'false');
      const description = broker.describeTopic(topic);
      if (local === 'true') return description;
      const leaders = leadersToAsk(description, broker.describeCluster().brokers, broker.nodeId);
      if (leaders.size === 0) return description;
      const signal = context.signalOf(request);
      const nowMs = (): number => context.wallClock.wallMs();
      const answers = await askLeaders(context.forwarder, topic, leaders, signal, nowMs);
      // The image may have moved on while we waited: describe again, then merge.
      return mergeLeaderAnswers(broker.describeTopic(topic), answers, nowMs());
    },
  );
  app.delete<{ Params: TopicParams }>('/v1/topics/:topic', async (request, reply) => {
    await broker.deleteTopic(userTopicParam(request.params.topic));
    return reply.code(204).send();
  });
  app.put<{ Params: TopicParams }>(
    '/v1/topics/:topic/configs',
    async (request): Promise<TopicDescriptionBody> => {
      const topic = topicParam(request.params.topic);
      userTopicParam(topic);
      const configs = configsField(objectBody(request.body), 'configs', true);
      return broker.setTopicConfigs(topic, configs);
    },
  );
  app.post<{ Params: PartitionParams }>(
    '/v1/topics/:topic/partitions/:partition/reassignment',
    async (request, reply) => {
      const topic = topicParam(request.params.topic);
      const partition = partitionParam(request.params.partition);
      const replicas = replicasField(objectBody(request.body));
      const moving: PartitionDescriptionBody = await broker.reassignPartition(
        topic,
        partition,
        replicas,
      );
      return reply.code(202).send(moving);
    },
  );
}
