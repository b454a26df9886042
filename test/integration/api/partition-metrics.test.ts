// Goal (issue 13 item 2): /metrics, scraped and parsed as Prometheus text, shows per-partition
// high watermark, log end and start offsets and ISR size equal to what describe answers; a
// follower that stops is counted as an ISR shrink and an under-replicated partition, and its
// lag (offsets and seconds) shows until it restarts and catches up; produce latency is kept
// per acks; every metric family a node exports has a row in docs/operations.md. Real brokers
// and h2c servers in one process.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { H2Transport } from '../../../src/api/client/index.ts';
import type { TopicDescriptionBody } from '../../../src/api/wire.ts';
import { InProcessCluster } from '../../support/broker/in-process-cluster.ts';
import { pollUntil } from '../../support/poll.ts';

let cluster: InProcessCluster | null = null;
const http = new H2Transport();

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

type Samples = Map<string, number>;

/** Parses Prometheus text into `name{label="v",…}` → value (labels sorted by name). */
function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`unparsable metrics line: ${line}`);
    const [, name, labelText, value] = match;
    const labels = [...(labelText ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => `${k}="${v}"`)
      .sort();
    const key = labels.length === 0 ? `${name}` : `${name}{${labels.join(',')}}`;
    samples.set(key, Number(value));
  }
  return samples;
}

async function get(url: string, path: string): Promise<string> {
  const response = await http.request(url, {
    method: 'GET',
    path,
    responseBytesMax: 4 * 1024 * 1024,
    timeoutMs: 5_000,
  });
  expect(response.status).toBe(200);
  return response.body.toString('utf8');
}

async function scrape(url: string): Promise<Samples> {
  return parseMetrics(await get(url, '/metrics'));
}

async function describeVia(url: string, topic: string): Promise<TopicDescriptionBody> {
  return JSON.parse(await get(url, `/v1/topics/${topic}`)) as TopicDescriptionBody;
}

async function produceJson(url: string, topic: string, partition: number, acks: string) {
  const response = await http.request(url, {
    method: 'POST',
    path: `/v1/topics/${topic}/partitions/${partition}/records?acks=${acks}`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ records: [{ value: 'a' }, { value: 'b' }, { value: 'c' }] }),
    responseBytesMax: 64 * 1024,
    timeoutMs: 5_000,
  });
  expect(response.status).toBe(200);
}

/** Metric names in docs/operations.md's metric table: exact names, and `prefix*` rows. */
function documentedMetrics(): { names: Set<string>; prefixes: string[] } {
  const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/operations.md'), 'utf8');
  const names = new Set<string>();
  const prefixes: string[] = [];
  for (const line of doc.split('\n')) {
    if (!line.startsWith('| `rill_')) continue;
    const firstCell = line.split('|')[1] ?? '';
    for (const [, token] of firstCell.matchAll(/`(rill_[a-z_]*\*?)/g)) {
      if (token === undefined) continue;
      if (token.endsWith('*')) prefixes.push(token.slice(0, -1));
      else names.add(token);
    }
  }
  return { names, prefixes };
}

/** Names of the metric families in a scrape (its `# TYPE` lines). */
function exportedMetrics(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name ?? '');
}

function series(name: string, topic: string, partition: number): string {
  return `${name}{partition="${partition}",topic="${topic}"}`;
}

describe('partition metrics', () => {
  test('per-partition series match describe; a stopped follower shrinks the ISR', async () => {
    cluster = await InProcessCluster.start(3, 500);
    const c = cluster;
    const created = await c.broker(1).createTopic({
      name: 'dash',
      partitions: 3,
      replicationFactor: 3,
      configs: {},
    });
    for (const node of c.nodes) await node.broker?.whenReconciled();
    for (const p of created.partitions) {
      const leaderUrl = c.node(p.leader ?? 0).url;
      for (let i = 0; i <= p.partition; i += 1)
        await produceJson(leaderUrl, 'dash', p.partition, 'all');
    }
    await produceJson(c.node(created.partitions[0]?.leader ?? 0).url, 'dash', 0, '1');
    // The acks=1 records reach the HW once the followers fetch them: poll, never sleep.
    const described = await pollUntil('HW 6, 6, 9', 5_000, async () => {
      const d = await describeVia(c.nodes[0]?.url ?? '', 'dash');
      const hws = d.partitions.map((p) => p.highWatermark).join(',');
      return hws === '6,6,9' ? d : undefined;
    });
    const seen = new Set<number>();
    for (const node of c.nodes) {
      const samples = await scrape(node.url);
      for (const p of described.partitions) {
        if (p.leader !== node.id) {
          expect(samples.has(series('rill_partition_high_watermark', 'dash', p.partition))).toBe(
            false,
          );
          continue;
        }
        seen.add(p.partition);
        const at = (name: string): number | undefined =>
          samples.get(series(name, 'dash', p.partition));
        expect(at('rill_partition_high_watermark')).toBe(p.highWatermark);
        expect(at('rill_partition_log_end_offset')).toBe(p.highWatermark);
        expect(at('rill_partition_log_start_offset')).toBe(p.logStartOffset);
        expect(at('rill_partition_isr_size')).toBe(p.isr.length);
        expect(at('rill_partition_replicas')).toBe(3);
        // Every follower fetched up to the HW, which is the log end: nobody lags.
        expect(at('rill_partition_replica_lag_max')).toBe(0);
        expect(at('rill_partition_replica_lag_seconds_max')).toBe(0);
      }
      expect(samples.get('rill_replica_max_lag')).toBe(0);
      expect(samples.get('rill_replica_max_lag_seconds')).toBe(0);
      expect(samples.get('rill_under_replicated_partitions')).toBe(0);
      expect(samples.get('rill_offline_partitions')).toBe(0);
      expect(samples.get('rill_partition_metrics_dropped')).toBe(0);
      expect(samples.get('rill_raft_apply_lag')).toBe(0);
      expect(samples.get('rill_raft_commit_index')).toBeGreaterThan(0);
    }
    expect(seen.size).toBe(3);
    // Every family a node exports has a row in docs/operations.md.
    const documented = documentedMetrics();
    const exported = exportedMetrics(await get(c.nodes[0]?.url ?? '', '/metrics'));
    expect(exported.length).toBeGreaterThan(40);
    const undocumented = exported.filter(
      (name) => !documented.names.has(name) && !documented.prefixes.some((p) => name.startsWith(p)),
    );
    expect(undocumented).toEqual([]);

    const p0Leader = created.partitions[0]?.leader ?? 0;
    const leaderUrl = c.node(p0Leader).url;
    const byAcks = await scrape(leaderUrl);
    const route = '/v1/topics/:topic/partitions/:partition/records';
    const count = (acks: string): number | undefined =>
      byAcks.get(`rill_produce_duration_seconds_count{acks="${acks}",route="${route}"}`);
    expect(count('1')).toBe(1);
    expect(count('all')).toBeGreaterThanOrEqual(1);
    // flush=always: every acknowledged append waited for an fsync, which was timed.
    expect(byAcks.get('rill_log_flush_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(byAcks.get('rill_log_flush_duration_seconds_sum')).toBeGreaterThan(0);
    // Bytes per topic: in on the leader of produce; out for the followers' replica fetches.
    const bytesIn = byAcks.get('rill_topic_bytes_total{direction="in",topic="dash"}') ?? 0;
    expect(bytesIn).toBe(byAcks.get('rill_produce_bytes_total'));
    expect(byAcks.get('rill_topic_bytes_total{direction="out",topic="dash"}')).toBeGreaterThan(0);

    // A follower of partition 0 stops: its leader drops it from the ISR after the lag time.
    const follower = created.partitions[0]?.replicas.find((id) => id !== p0Leader) ?? 0;
    const before = byAcks.get('rill_isr_shrinks_total') ?? -1;
    await c.stopNode(follower);
    // A caught-up follower lags only once there is something to fetch.
    await produceJson(leaderUrl, 'dash', 0, '1');
    const after = await pollUntil('ISR shrink seen in /metrics', 10_000, async () => {
      const s = await scrape(leaderUrl);
      return (s.get(series('rill_partition_isr_size', 'dash', 0)) ?? 3) < 3 ? s : undefined;
    });
    expect(after.get('rill_under_replicated_partitions')).toBeGreaterThanOrEqual(1);
    expect(after.get('rill_isr_shrinks_total')).toBeGreaterThan(before);
    const now = await describeVia(leaderUrl, 'dash');
    expect(after.get(series('rill_partition_isr_size', 'dash', 0))).toBe(
      now.partitions[0]?.isr.length,
    );
    // The stopped follower last fetched at the old log end: it trails by the 3 records since,
    // for at least the lag time that took it out of the ISR (500 ms here).
    expect(after.get(series('rill_partition_replica_lag_max', 'dash', 0))).toBe(3);
    expect(after.get('rill_replica_max_lag')).toBe(3);
    const lagSeconds = after.get(series('rill_partition_replica_lag_seconds_max', 'dash', 0));
    expect(lagSeconds).toBeGreaterThanOrEqual(0.5);
    expect(after.get('rill_replica_max_lag_seconds')).toBeGreaterThanOrEqual(lagSeconds ?? 1);

    // It restarts, catches up and rejoins: the lag is gone.
    await c.startNode(follower);
    const healed = await pollUntil('follower caught up in /metrics', 20_000, async () => {
      const s = await scrape(leaderUrl);
      return s.get(series('rill_partition_isr_size', 'dash', 0)) === 3 ? s : undefined;
    });
    expect(healed.get(series('rill_partition_replica_lag_max', 'dash', 0))).toBe(0);
    expect(healed.get(series('rill_partition_replica_lag_seconds_max', 'dash', 0))).toBe(0);
  });
});
