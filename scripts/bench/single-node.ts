// The single-node figures, one measurement per call: produce of 1 KiB records per log.flush policy
// beside sequential file appends and a bare node:http2 upload, catch-up consume beside a bare
// node:http2 download, acks=all latency at the fixed rate, and JSON produce (10 × 1 KiB records
// per POST) from h2load with 64 streams beside the same load against a bare h2c sink.
import { RillClient } from '../../src/api/client/index.ts';
import { benchConsume, benchLatency, benchProduce } from '../../src/cli/client-bench.ts';
import {
  fileAppend,
  flushPolicies,
  http2Transfer,
  runH2load,
  type FlushPolicy,
  type H2Peer,
} from './peers.ts';
import type { Report } from './report.ts';
import { completedRate } from './stats.ts';

export interface SingleNodeOptions {
  readonly records: number;
  readonly recordBytes: number;
}

export const produceBatching = { batchSizeBytes: 256 * 1024, lingerMs: 5 };
export const jsonRecordsPerPost = 10;
export const h2loadStreams = 64;

export function topicFor(policy: FlushPolicy): string {
  return `bench-flush-${policy.replace(':', '-')}`;
}

export async function createSingleNodeTopics(
  client: RillClient,
  options: SingleNodeOptions,
): Promise<void> {
  const admin = client.admin();
  for (const policy of flushPolicies) {
    const name = topicFor(policy);
    await admin.createTopic({
      name,
      partitions: 4,
      replicationFactor: 1,
      configs: { 'log.flush': policy },
    });
  }
  for (const [name, partitions] of [
    ['bench-warmup', 4],
    ['bench-latency', 1],
    ['bench-consume', 4],
    ['bench-json', 4],
  ] as const) {
    await admin.createTopic({ name, partitions, replicationFactor: 1 });
  }
  const producer = { acks: 'all' as const, ...produceBatching };
  // Consume reads a topic of exactly `records` records: each round reads all of it.
  await benchProduce(client, { ...options, topic: 'bench-consume', producer });
  // Warm up the JIT on both sides and the disk: the first second of a run is not its speed.
  await benchProduce(client, { ...options, topic: 'bench-warmup', records: 20_000, producer });
  await benchConsume(client, { topic: 'bench-warmup', records: 20_000 });
}

export async function produceOnce(
  client: RillClient,
  options: SingleNodeOptions,
  policy: FlushPolicy,
  report: Report,
): Promise<void> {
  const producer = { acks: 'all' as const, ...produceBatching };
  const result = await benchProduce(client, { ...options, topic: topicFor(policy), producer });
  report.add(`single.produce.${policy}.mibPerSecond`, result.mibPerSecond, result);
  report.add(`single.produce.${policy}.recordsPerSecond`, result.recordsPerSecond);
}

export async function fileAppendOnce(
  options: SingleNodeOptions,
  policy: FlushPolicy,
  report: Report,
): Promise<void> {
  const result = await fileAppend(policy, options.records * options.recordBytes);
  report.add(`baseline.fileAppend.${policy}.mibPerSecond`, result.mibPerSecond, result);
}

export async function transferOnce(
  peer: H2Peer,
  direction: 'upload' | 'download',
  report: Report,
): Promise<void> {
  const result = await http2Transfer(peer, direction);
  const series = direction === 'upload' ? 'http2Upload' : 'http2Download';
  report.add(`baseline.${series}.mibPerSecond`, result.mibPerSecond, result);
}

export async function consumeOnce(
  client: RillClient,
  options: SingleNodeOptions,
  report: Report,
): Promise<void> {
  const result = await benchConsume(client, { topic: 'bench-consume', records: options.records });
  report.add('single.consume.mibPerSecond', result.mibPerSecond, result);
}

export async function singleLatencyOnce(
  client: RillClient,
  options: { ratePerSecond: number; seconds: number; recordBytes: number },
  report: Report,
): Promise<void> {
  const producer = { acks: 'all' as const, lingerMs: 0, batchSizeBytes: 256 * 1024 };
  const startMs = performance.now();
  const result = await benchLatency(client, { ...options, topic: 'bench-latency', producer });
  const completed = completedRate(result.records, startMs);
  report.add('single.latency.p50Ms', result.p50Ms, { ...result, ...completed });
  report.add('single.latency.p99Ms', result.p99Ms);
}

/** One POST body: `jsonRecordsPerPost` records whose values are `recordBytes` ASCII letters. */
export function jsonProduceBody(recordBytes: number): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const records = Array.from({ length: jsonRecordsPerPost }, (_, i) => ({
    value: Array.from({ length: recordBytes }, (__, j) => letters[(i * 7 + j) % 26]).join(''),
  }));
  return JSON.stringify({ records });
}

/**
 * h2load against Rill's topic route (`target` 'rill', the broker at `url`) or the bare sink,
 * with the same body and duration.
 */
export async function jsonOnce(
  target: 'rill' | 'sink',
  url: string,
  options: { seconds: number; recordBytes: number },
  report: Report,
): Promise<void> {
  const body = jsonProduceBody(options.recordBytes);
  const load = { body, seconds: options.seconds, streams: h2loadStreams };
  const path = target === 'rill' ? '/v1/topics/bench-json/records' : '/sink';
  const result = await runH2load({ ...load, url: `${url}${path}` });
  if (result.succeeded < result.requests) {
    const failed = result.requests - result.succeeded;
    report.note(`json ${target}: ${failed} of ${result.requests} POSTs failed`);
  }
  const series = target === 'rill' ? 'json.rill' : 'baseline.h2cSink';
  report.add(`${series}.recordsPerSecond`, result.requestsPerSecond * jsonRecordsPerPost, result);
}
