// Goal (issue 9 with issue 10's checker): the chaos workload with the client library's default
// idempotent producer — bursts of concurrent sends, retried through kill -9 and SIGSTOP of
// partition leaders until acknowledged — reports duplicates=0 and no other anomaly, and its
// final read reaches every acknowledged send. The short CI form of
// `npm run chaos -- --duration 300` (scripts/chaos.ts, producer=idempotent by default).
// Method: one fixed fault schedule on a fresh three-node cluster (RF=3, min.insync.replicas=2);
// the history checker judges the recorded history; the seed is printed.
import { afterEach, expect, test } from 'vitest';
import { formatAnomalies } from '../../support/checker/checker.ts';
import { runChaos } from '../../support/checker/chaos-run.ts';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';

let cluster: RillCluster | null = null;

afterEach(async () => {
  await cluster?.stopAll();
  cluster = null;
});

test('idempotent producers under leader kills and pauses: duplicates=0, nothing lost', async () => {
  const seed = Date.now() % 2 ** 31;
  console.log(`chaos-idempotent seed=${seed}`);
  cluster = await RillCluster.start(3, 2_000);
  const result = await runChaos(cluster, {
    seed,
    durationMs: 9_000,
    topic: 'chaos-idempotent',
    partitions: 2,
    faults: [
      { kind: 'kill-leader', durationMs: 1_500 },
      { kind: 'pause', durationMs: 1_500 },
      { kind: 'kill-leader', durationMs: 800 },
    ],
    gapMs: 1_000,
    producerMode: 'idempotent',
    log: (line) => console.log(line),
  });
  console.log(result.summary);
  expect(formatAnomalies(result.check.anomalies), `seed ${seed}`).toBe('');
  expect(result.check.counts.get('duplicate') ?? 0).toBe(0);
  expect(result.finalReadComplete).toBe(true);
  expect(result.check.stats.undecided).toBe(0);
  expect(result.check.stats.ackedAll).toBeGreaterThan(0);
}, 120_000);
