// Goal (issue 10, DESIGN.md §7): the guarantees hold for clients of real `rill broker` processes
// on loopback under kill -9 (of any node, the controller's, a leader's), SIGSTOP, a bit flipped
// in a stopped node's segment, and delayed, lossy (stalls, resets) or slow node-to-node links
// (every node dials its peers through link proxies, link-proxy.ts) — no acked
// write lost, read-your-writes, monotonic reads, no duplicate, changed or phantom record, and a
// final read that reaches every acknowledged write. Method: fast-check draws short fault
// schedules; each history runs on its own topic of one three-node cluster (test/support/
// checker/chaos-run.ts: raw JSON produces without retries, long-polling consumers), and the
// history checker judges it. Fewer histories than the simulator's properties: each costs
// seconds of real time. Replay: RILL_PROPERTY_SEED=<seed>; more: RILL_REAL_PROPERTY_RUNS=<n>.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { formatAnomalies } from '../../support/checker/checker.ts';
import { runChaos } from '../../support/checker/chaos-run.ts';
import { faultKinds, linkFaultKinds, type Fault } from '../../support/checker/nemesis.ts';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';

const seed = Number(process.env['RILL_PROPERTY_SEED'] ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env['RILL_REAL_PROPERTY_RUNS'] ?? 2);
let cluster: RillCluster;
let run = 0;

beforeAll(async () => {
  cluster = await RillCluster.start(3, 2_000, 3, [], null, { linkProxies: true, seed });
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

const fault: fc.Arbitrary<Fault> = fc.record({
  kind: fc.constantFrom(...faultKinds, ...linkFaultKinds),
  durationMs: fc.integer({ min: 200, max: 2_500 }),
});

test('real processes: no anomaly in client histories under process, disk and link faults', async () => {
  console.log(`real-cluster property seed=${seed} runs=${numRuns}`);
  await fc.assert(
    fc.asyncProperty(fc.array(fault, { minLength: 1, maxLength: 2 }), async (faults) => {
      run += 1;
      const result = await runChaos(cluster, {
        seed: seed + run,
        durationMs: 4_000,
        producerMode: 'raw',
        topic: `guarantees-${run}`,
        partitions: 2,
        faults,
        gapMs: 500,
        log: (line) => console.log(`run ${run}: ${line}`),
      });
      console.log(`run ${run}: ${result.summary}`);
      expect(formatAnomalies(result.check.anomalies)).toBe('');
      expect(formatAnomalies(result.group?.anomalies ?? [])).toBe('');
      expect(result.group?.drained).toBe(true);
      expect(result.finalReadComplete).toBe(true);
      expect(result.check.stats.undecided).toBe(0);
      expect(result.check.stats.ackedAll).toBeGreaterThan(0);
    }),
    { seed, numRuns, endOnFailure: true },
  );
}, 300_000);
