// Goal: topic configs accept Kafka's names and values, refuse everything else with a reason,
// and map onto the partition log's config. Method: table tests of resolveTopicConfig.
import { expect, test } from 'vitest';
import { defaultTopicConfig, resolveTopicConfig } from '../../../src/broker/index.ts';

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
  ['cleanup.policy', 'compact'],
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
