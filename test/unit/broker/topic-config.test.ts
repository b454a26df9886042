// Goal: topic configs accept Kafka's names and values, refuse everything else with a reason,
// and map onto the partition log's config. Method: table tests of resolveTopicConfig.
import { expect, test } from 'vitest';
import {
  defaultTopicConfig,
  describeTopicConfig,
  partitionLogConfig,
  resolveTopicConfig,
} from '../../../src/broker/index.ts';

test('no overrides gives the defaults (flush always, delete policy, 1 MiB batches)', () => {
  expect(resolveTopicConfig({})).toEqual({ ok: true, config: defaultTopicConfig });
  expect(defaultTopicConfig.flush).toEqual({ kind: 'always' });
});

test.each([
  ['retention.ms', '-1', { retentionMs: -1 }],
  ['retention.bytes', '1048576', { retentionBytes: 1048576 }],
  ['segment.bytes', '4096', { segmentBytes: 4096 }],
  ['segment.ms', '60000', { segmentMs: 60000 }],
  ['min.insync.replicas', '2', { minInsyncReplicas: 2 }],
  ['max.message.bytes', '2000000', { maxMessageBytes: 2000000 }],
  ['compression.type', 'zstd', { compressionType: 'zstd' }],
  ['unclean.leader.election.enable', 'true', { uncleanLeaderElectionEnable: true }],
  ['log.flush', 'never', { flush: { kind: 'never' } }],
  ['log.flush', 'interval:250', { flush: { kind: 'interval', intervalMs: 250 } }],
  ['cleanup.policy', 'compact', { cleanupPolicy: { compact: true, delete: false } }],
  ['cleanup.policy', 'compact,delete', { cleanupPolicy: { compact: true, delete: true } }],
  ['cleanup.policy', 'delete,compact', { cleanupPolicy: { compact: true, delete: true } }],
  ['cleanup.policy', 'delete', { cleanupPolicy: { compact: false, delete: true } }],
  ['min.cleanable.dirty.ratio', '0.25', { minCleanableDirtyRatio: 0.25 }],
  ['min.cleanable.dirty.ratio', '1', { minCleanableDirtyRatio: 1 }],
  ['min.cleanable.dirty.ratio', '0', { minCleanableDirtyRatio: 0 }],
  ['min.compaction.lag.ms', '1000', { minCompactionLagMs: 1000 }],
  ['max.compaction.lag.ms', '60000', { maxCompactionLagMs: 60000 }],
  ['delete.retention.ms', '0', { deleteRetentionMs: 0 }],
])('%s=%s is accepted', (name, value, expected) => {
  const result = resolveTopicConfig({ [name]: value });
  expect(result.ok && result.config).toMatchObject(expected);
});

test.each([
  ['retention.ms', '-2'],
  ['retention.ms', '1e3'],
  ['segment.bytes', '10'],
  ['segment.bytes', '4294967296'],
  ['min.insync.replicas', '0'],
  ['cleanup.policy', 'compact,compact'],
  ['cleanup.policy', 'compact,delete,compact'],
  ['cleanup.policy', ''],
  ['cleanup.policy', 'purge'],
  ['min.cleanable.dirty.ratio', '1.5'],
  ['min.cleanable.dirty.ratio', '-0.1'],
  ['min.cleanable.dirty.ratio', 'NaN'],
  ['min.compaction.lag.ms', '-1'],
  ['max.compaction.lag.ms', '0'],
  ['delete.retention.ms', '-1'],
  ['compression.type', 'brotli'],
  ['unclean.leader.election.enable', 'yes'],
  ['log.flush', 'interval:0'],
  ['log.flush', 'sometimes'],
  ['no.such.config', '1'],
  ['__proto__', '1'],
  ['toString', '1'],
])('%s=%s is refused with a reason', (name, value) => {
  const result = resolveTopicConfig({ [name]: value });
  expect(result).toMatchObject({ ok: false, message: expect.stringContaining(name) });
});

test('min.compaction.lag.ms above max.compaction.lag.ms is refused', () => {
  const result = resolveTopicConfig({
    'min.compaction.lag.ms': '5000',
    'max.compaction.lag.ms': '1000',
  });
  expect(result).toMatchObject({ ok: false, message: expect.stringContaining('min.compaction') });
});

test('a compact-only topic is never trimmed by retention; compact,delete is', () => {
  const compact = resolveTopicConfig({ 'cleanup.policy': 'compact', 'retention.ms': '1000' });
  const both = resolveTopicConfig({ 'cleanup.policy': 'compact,delete', 'retention.ms': '1000' });
  expect(compact.ok && partitionLogConfig(compact.config).retentionMs).toBe(-1);
  expect(both.ok && partitionLogConfig(both.config).retentionMs).toBe(1000);
  expect(both.ok && describeTopicConfig(both.config)['cleanup.policy']).toBe('compact,delete');
});
