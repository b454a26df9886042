// The partition log settings the kill -9 test and its child process (append-child.ts) share:
// small segments so a run rolls several, no time- or size-based retention. Both sides must open
// the same directory with the same layout, so they take it from here.
import type { FlushPolicy, PartitionLogConfig } from '../../../src/log/index.ts';

export function killLogConfig(flush: FlushPolicy): PartitionLogConfig {
  return {
    segmentBytesMax: 16 * 1024,
    segmentMsMax: 1e12,
    retentionMs: -1,
    retentionBytes: -1,
    maxMessageBytes: 1 << 20,
    indexIntervalBytes: 512,
    flush,
  };
}
