// The Kafka APIs this node serves: a dispatcher with every API registered (ApiVersions is the
// dispatcher's own). To add an API, write its file (a KafkaApi) and add one line to coreApis
// or to group-apis.ts (docs/kafka.md, "Adding an API").
import { fetchApi } from './apis/fetch.ts';
import { initProducerIdApi } from './apis/init-producer-id.ts';
import { listOffsetsApi } from './apis/list-offsets.ts';
import { metadataApi } from './apis/metadata.ts';
import { produceApi } from './apis/produce.ts';
import { createTopicsApi, deleteTopicsApi, describeConfigsApi } from './apis/topic-admin.ts';
import { KafkaDispatcher, type KafkaApi } from './dispatcher.ts';
import { groupApis } from './group-apis.ts';

const coreApis: readonly KafkaApi[] = [
  produceApi,
  fetchApi,
  listOffsetsApi,
  metadataApi,
  initProducerIdApi,
  createTopicsApi,
  deleteTopicsApi,
  describeConfigsApi,
];

export function buildKafkaDispatcher(): KafkaDispatcher {
  const dispatcher = new KafkaDispatcher();
  for (const api of [...coreApis, ...groupApis]) dispatcher.registerApi(api);
  return dispatcher;
}
