// src/api/server: the node's HTTP/2 server (fastify, h2c). main.ts builds it with the broker.
export {
  buildServer,
  type InternalRoute,
  type InternalStreamRoute,
  type RillApp,
  type ServerConfig,
  type ServerDeps,
} from './server.ts';
export { defaultKafkaConfig, type KafkaConfig } from '../kafka/index.ts';
