// Cluster-wide reads and probes: GET /v1/cluster (with the Kafka bootstrap list), GET /v1/raft,
// /healthz (the process answers), /readyz (registered and caught up with the committed metadata
// through a ReadIndex barrier: 503 BROKER_NOT_READY otherwise) and /metrics (Prometheus text
// format).
import { BrokerError } from '../../../broker/index.ts';
import { kafkaEndpoints } from '../../kafka/kafka-topics.ts';
import type { ClusterDescriptionBody } from '../../wire.ts';
import type { RillApp, RouteContext } from '../route-context.ts';

export function registerClusterRoutes(app: RillApp, context: RouteContext): void {
  const { broker, metrics } = context;
  app.get('/v1/cluster', (): ClusterDescriptionBody => {
    const kafkaBootstrap = kafkaEndpoints(broker)
      .map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`)
      .join(',');
    return { ...broker.describeCluster(), kafkaBootstrap };
  });
  app.get('/v1/raft', () => broker.raftStatus());
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    if (!(await broker.isCaughtUp()))
      throw new BrokerError('BROKER_NOT_READY', 'not caught up yet');
    return { status: 'ready' };
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
}
