import { test } from 'vitest';
import { SimCluster, swarmOptions } from '/work/wt/repl/test/support/replication-sim/sim-cluster.ts';
import { checkConverged } from '/work/wt/repl/test/support/replication-sim/sim-checker.ts';
test('one', () => {
  const seed = Number(process.env.SEED);
  const cluster = new SimCluster(swarmOptions(seed, { flush: (process.env.FLUSH ?? 'always') as 'always' }));
  try {
    cluster.runFor(5000);
    const ok = cluster.converge();
    console.log('converged', ok, JSON.stringify(cluster.controller.state), checkConverged(cluster));
    if (!ok || checkConverged(cluster).length) {
      for (const n of cluster.nodes) console.log(n.id, n.alive, n.registered, n.role.kind, n.role.kind !== 'none' ? JSON.stringify((n.role.replica as any).state ?? (n.role.replica as any).partitionState) : '', n.log.logEndOffset, JSON.stringify(n.log.epochEntries), n.log.records.map(r=>r.value+'/'+r.epoch).join(' '));
      const l = cluster.node(cluster.controller.state.leader ?? 1).role; if (l.kind === 'leader') console.log('pending', JSON.stringify(l.replica.pendingIsrChange), l.replica.highWatermark, l.replica.epochStartOffset, JSON.stringify([1,2,3].map(i => l.replica.followerProgress(i as any))), JSON.stringify([...cluster.controller.sessions]));
      console.log(cluster.trace.slice(-30).join('\n'));
    }
  } catch (e) { console.log(String(e).slice(0, 8000)); }
});
