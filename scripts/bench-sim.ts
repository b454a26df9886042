// Cluster-simulator cost: runs the guarantee properties' history generator (sim-histories.ts)
// over the fault profiles fast-check draws from a fixed seed and prints histories per second.
// `npx tsx scripts/bench-sim.ts [histories=20] [seed=42]`; add --cpu-prof to node for a profile.
import fc from 'fast-check';
import { runSimHistory, simOptionsOf, simProfile } from '../test/support/checker/sim-histories.ts';

const count = Number(process.argv[2] ?? 20);
const seed = Number(process.argv[3] ?? 42);
const profiles = fc.sample(simProfile, { seed, numRuns: count });
const startMs = performance.now();
const startCpu = process.cpuUsage();
let acked = 0;
for (const profile of profiles) {
  const run = await runSimHistory(simOptionsOf(profile), profile.faultPhaseMs);
  acked += run.check.stats.ackedAll;
}
const elapsedMs = performance.now() - startMs;
const cpu = process.cpuUsage(startCpu);
const cpuMs = (cpu.user + cpu.system) / 1000;
console.log(
  `bench-sim seed=${seed} histories=${count} acked_all=${acked} ms=${elapsedMs.toFixed(0)} ` +
    `ms_per_history=${(elapsedMs / count).toFixed(1)} cpu_ms_per_history=${(cpuMs / count).toFixed(1)}`,
);
