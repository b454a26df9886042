// The Kafka APIs this node serves: a dispatcher with every API registered (ApiVersions is the
// dispatcher's own). To add an API, write its file (a KafkaApi) and add one line to coreApis
// or to group-apis.ts (docs/kafka.md, "Adding an API").
import { KafkaDispatcher, type KafkaApi } from './dispatcher.ts';
import { groupApis } from './group-apis.ts';

const coreApis: readonly KafkaApi[] = [];

export function buildKafkaDispatcher(): KafkaDispatcher {
  const dispatcher = new KafkaDispatcher();
  for (const api of [...coreApis, ...groupApis]) dispatcher.registerApi(api);
  return dispatcher;
}
