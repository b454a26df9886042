// src/api/kafka: the Kafka wire protocol on a node's port (docs/kafka.md). The server enters
// through this file: the listener, its config, and the registry other API files extend.
export { KafkaListener } from './kafka-listener.ts';
export { defaultKafkaConfig, checkKafkaConfig, type KafkaConfig } from './kafka-config.ts';
export { isKafkaFrameStart } from './frame-splitter.ts';
export type { KafkaApi, KafkaRequestContext, KafkaServices } from './dispatcher.ts';
