// Runs many seeds of the Raft simulator and summarises them; shared by `npm run sim` and the
// vitest gate. A violation line names the seed and tick, and the command that replays it.
import type { StorageFault } from './memory-storage.ts';
import { SimCluster, type SimOutcome } from './sim-cluster.ts';

export interface SimRunOptions {
  readonly firstSeed: number;
  readonly seeds: number;
  readonly steps: number;
  readonly nodes: number | null;
  readonly fault: StorageFault;
  readonly livenessTicksMax: number;
  /** Called with each failing outcome (the CLI prints it). */
  readonly onViolation?: (outcome: SimOutcome, replay: string) => void;
  /** Called after every seed (the CLI reports progress on stderr). */
  readonly onSeed?: (done: number, violations: number) => void;
}

export interface SimRunSummary {
  readonly seeds: number;
  readonly violations: number;
  readonly failures: readonly SimOutcome[];
  readonly steps: number;
  readonly messages: number;
  readonly commits: number;
}

export const simDefaults = { steps: 1000, livenessTicksMax: 400 } as const;

export function runSimulation(options: SimRunOptions): SimRunSummary {
  const failures: SimOutcome[] = [];
  let steps = 0;
  let messages = 0;
  let commits = 0;
  for (let i = 0; i < options.seeds; i += 1) {
    const seed = options.firstSeed + i;
    const outcome = new SimCluster({ ...options, seed }).run();
    steps += outcome.step;
    messages += outcome.messages;
    commits += outcome.commits;
    if (outcome.violation !== null) {
      failures.push(outcome);
      options.onViolation?.(outcome, replayCommand(options, seed));
    }
    options.onSeed?.(i + 1, failures.length);
  }
  return { seeds: options.seeds, violations: failures.length, failures, steps, messages, commits };
}

function replayCommand(options: SimRunOptions, seed: number): string {
  const nodes = options.nodes === null ? '' : ` --nodes ${options.nodes}`;
  const fault = options.fault === 'none' ? '' : ` --fault ${options.fault}`;
  return `npm run sim -- --seed ${seed} --steps ${options.steps}${nodes}${fault}`;
}
