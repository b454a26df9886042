// Topic admin: POST /v1/topics, GET /v1/topics, GET and DELETE /v1/topics/{topic}, and
// PUT /v1/topics/{topic}/configs (set or, with null, remove Kafka-named config overrides).
import { configsField, integerField, invalid, objectBody, topicParam } from '../request-checks.ts';
import type { RillApp, RouteContext } from '../server.ts';

const safeMax = Number.MAX_SAFE_INTEGER;

interface TopicParams {
  readonly topic: string;
}

export function registerTopicRoutes(app: RillApp, context: RouteContext): void {
  const { broker } = context;
  app.post('/v1/topics', async (request, reply) => {
    const body = objectBody(request.body);
    if (typeof body['name'] !== 'string') throw invalid('name must be a string');
    const name = topicParam(body['name']);
    // Types are checked here (INVALID_REQUEST), ranges by the broker (INVALID_PARTITIONS,
    // INVALID_REPLICATION_FACTOR), as Kafka answers them.
    const partitions = integerField(body, 'partitions', -safeMax, safeMax);
    const replicationFactor = integerField(body, 'replicationFactor', -safeMax, safeMax);
    const configs = configsField(body, 'configs', false) as Record<string, string>;
    const topic = await broker.createTopic({ name, partitions, replicationFactor, configs });
    return reply.code(201).send(topic);
  });
  app.get('/v1/topics', () => ({ topics: broker.listTopics() }));
  app.get<{ Params: TopicParams }>('/v1/topics/:topic', (request) =>
    broker.describeTopic(topicParam(request.params.topic)),
  );
  app.delete<{ Params: TopicParams }>('/v1/topics/:topic', async (request, reply) => {
    await broker.deleteTopic(topicParam(request.params.topic));
    return reply.code(204).send();
  });
  app.put<{ Params: TopicParams }>('/v1/topics/:topic/configs', async (request) => {
    const topic = topicParam(request.params.topic);
    const configs = configsField(objectBody(request.body), 'configs', true);
    return broker.setTopicConfigs(topic, configs);
  });
}
