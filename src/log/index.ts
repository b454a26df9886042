// src/log: one partition's storage — the RecordBatch v2 codec, segments with offset and time
// indexes, recovery, retention and flush. Users enter only through this file.
export type {
  BatchHeader,
  CleanableLimits,
  CleanerStatus,
  CleanRequest,
  CleanResult,
  Compression,
  FileSlice,
  FlushPolicy,
  LeaderAppendGuard,
  LeaderAppendResult,
  LogReadResult,
  LogRecord,
  PartitionLogApi,
  PartitionLogConfig,
  StoredRecord,
} from './contract.ts';
export { LogError, isLogError, logErrorCodes, type LogErrorCode } from './errors.ts';
export {
  compress,
  decompress,
  compressionCodecIds,
  compressionFromAttributes,
  DECOMPRESSED_BYTES_MAX,
  DECOMPRESSION_RATIO_MAX,
  decompressedBytesBound,
} from './compression.ts';
export {
  BATCH_HEADER_BYTES,
  LOG_OVERHEAD_BYTES,
  MAGIC,
  TIMESTAMP_TYPE_LOG_APPEND_TIME,
  batchSize,
  checkBatch,
  checkRecords,
  decodeBatches,
  decodeRecords,
  encodeBatch,
  encodeBatches,
  encodeEmptyBatch,
  encodeRetainedBatch,
  lastOffsetOf,
  readBatchHeader,
  scanBatches,
  setBaseOffset,
  setPartitionLeaderEpoch,
  validateBatchRecords,
  verifyBatchCrc,
  MAX_MESSAGE_BYTES_DEFAULT,
  type BatchLimits,
  type DecodedBatch,
  type DecodeOptions,
  type EncodeBatchInput,
  type ScanResult,
} from './record-batch.ts';
export {
  decodeBatchChunks,
  decodeReadableChunks,
  type ReadableBatches,
  type UnreadableBatch,
} from './chunked-batches.ts';
export { LeaderEpochCache, type EpochEntry } from './leader-epoch-cache.ts';
export {
  APPENDS_QUEUED_MAX,
  IDLE_SEGMENT_FILES_MAX,
  PartitionLog,
  validatePartitionLogConfig,
  type PartitionLogDeps,
} from './partition-log.ts';
export { segmentFileName } from './segment.ts';
export { SyncTimings } from './sync-timings.ts';
export { OffsetMap, OFFSET_MAP_SLOT_BYTES } from './offset-map.ts';
export { CLEANER_CHECKPOINT_FILE } from './cleaner-checkpoint.ts';
export { nodeFilePort, type FilePort } from './file-port.ts';
