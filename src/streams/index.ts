// Rill Streams: a typed stream-processing library over Rill topics (issue 11). Build a topology
// with StreamsBuilder, run it on TopologyTestDriver in tests. Imports only the client and common.
export { StreamsBuilder } from './streams-builder.ts';
export type { BuilderConfig, ErrorPolicy } from './build-state.ts';
export {
  KStream,
  KTable,
  KGroupedStream,
  WindowedKStream,
  type Named,
  type StepOptions,
} from './dsl.ts';
export {
  bytesSerde,
  customSerde,
  jsonSerde,
  numberSerde,
  serdes,
  stringSerde,
  windowedSerde,
  type Serde,
  type Serdes,
} from './serdes.ts';
export {
  SessionWindows,
  SlidingWindows,
  TimeWindows,
  joinWindows,
  type EmitMode,
  type JoinWindows,
  type Window,
  type WindowDefinition,
  type Windowed,
} from './windows.ts';
export { Topology } from './topology.ts';
export { resolvePartitionCounts } from './partitioning.ts';
export {
  StreamTask,
  type InputRecord,
  type OutputRecord,
  type TaskMetrics,
} from './stream-task.ts';
export type { ChangelogRecord, KeyValueStore, StoreEntry } from './state-store.ts';
export {
  TopologyTestDriver,
  type TestDriverConfig,
  type TestRecord,
} from './topology-test-driver.ts';
export { StreamsError, streamsErrorCodes, type StreamsErrorCode } from './errors.ts';
export { StreamsRuntime, defaultRuntimeConfig, type RuntimeConfig } from './streams-runtime.ts';
