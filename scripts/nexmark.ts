// npm run nexmark -- --events N [--query q0..q8[,…]|all] [--seed S] [--output-dir DIR]
//   [--cpu-prof DIR]
// Starts one broker, pre-loads N generated Nexmark events into the person / auction / bid
// topics (one partition each: the figures are per core, like Flink's published ones), then per
// query runs the DSL query with the real runtime until it has caught up, reads its results and
// compares them with the query's in-memory model. Prints per query
// `query=qN events=… results=… matches_model=true|false events_per_s=… flink_per_core=…`
// (then start_ms, late_dropped and enforced summed over the query's tasks, and the CPU time per
// event of this process and of the broker over the measured window).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RillClient } from '../src/api/client/index.ts';
import { StreamsRuntime } from '../src/streams/index.ts';
import { canonicalRows, generateEvents, models } from './nexmark-model.ts';
import { finalRows, nexmarkQuery, queryNames, type QueryName } from './nexmark-queries.ts';
import {
  brokerProfileArgs,
  processCpuMs,
  summarizeBroker,
  WindowProfiler,
  type ClockWindow,
} from './nexmark-profile.ts';
import { preload, readOutput } from './nexmark-run.ts';
import { spawnBroker } from './spawn-broker.ts';

/** Flink 1.13, 8 single-slot workers, exactly-once, RocksDB: events/s per core. */
const flinkPerCore: Record<string, number | undefined> = {
  q0: 155_000,
  q1: 158_000,
  q2: 175_000,
  q3: 152_000,
  q4: 34_000,
  q5: 22_000,
  q7: 12_300,
  q8: 146_000,
};

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/**
 * Waits until the runtime has caught up. caughtUp() is one serialized step that flushes and
 * waits for every acknowledgement, so processing stops while it runs: it is asked only once
 * every task's lag (from its last fetch, read without stopping anything) is 0.
 */
async function caughtUp(runtime: StreamsRuntime): Promise<void> {
  for (;;) {
    while (Object.values(runtime.metrics()).some((m) => m.lag > 0)) await sleep(5);
    if (await runtime.caughtUp()) return;
    await sleep(5);
  }
}

interface Run {
  readonly url: string;
  readonly count: number;
  readonly seed: number;
  readonly outputDir: string | undefined;
  readonly profiler: WindowProfiler | undefined;
  /** The measured windows so far, for the broker's profile. */
  readonly windows: ClockWindow[];
  readonly brokerPid: number | undefined;
}

async function runQuery(run: Run, name: QueryName, round: number): Promise<boolean> {
  const { url, count, seed, outputDir, profiler } = run;
  const client = new RillClient({ bootstrapUrls: [url] });
  const suffix = round === 0 ? '' : `-${round}`;
  const query = nexmarkQuery(name, `nexmark-${name}-${seed}${suffix}`);
  const runtime = await StreamsRuntime.start(query.topology, client, { commitIntervalMs: 1_000 });
  const startMs = performance.now();
  while (!runtime.allTasksRunning()) await new Promise((done) => setTimeout(done, 5));
  await profiler?.start();
  const runningMs = performance.now();
  const appCpu = process.cpuUsage();
  const brokerCpuMs = processCpuMs(run.brokerPid);
  await caughtUp(runtime);
  const elapsedS = (performance.now() - runningMs) / 1000;
  const { user, system } = process.cpuUsage(appCpu);
  const brokerUsedMs = (processCpuMs(run.brokerPid) ?? NaN) - (brokerCpuMs ?? NaN);
  if (profiler !== undefined) run.windows.push(await profiler.stop(`${name}${suffix}`));
  const tasks = Object.values(runtime.metrics());
  const lateDropped = tasks.reduce((sum, m) => sum + m.lateDropped, 0);
  const enforced = tasks.reduce((sum, m) => sum + m.enforced, 0);
  const rows = finalRows(query.kind, await readOutput(client, query.output));
  const expected = models[name]?.(generateEvents(count, seed)) ?? [];
  const matches = JSON.stringify(canonicalRows(rows)) === JSON.stringify(canonicalRows(expected));
  if (outputDir !== undefined) {
    await writeFile(
      join(outputDir, `${name}.jsonl`),
      rows.map((r) => `${JSON.stringify(r)}\n`).join(''),
    );
  }
  const flink = flinkPerCore[name];
  console.log(
    `query=${name} events=${count} results=${rows.length} matches_model=${matches} ` +
      `events_per_s=${Math.round(count / elapsedS)} flink_per_core=${flink ?? 'n/a'} ` +
      `start_ms=${Math.round(runningMs - startMs)} late_dropped=${lateDropped} ` +
      `enforced=${enforced} app_cpu_us_per_event=${((user + system) / count).toFixed(1)} ` +
      `broker_cpu_us_per_event=${((brokerUsedMs * 1000) / count).toFixed(1)}`,
  );
  await runtime.close();
  return matches;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      query: { type: 'string', default: 'all' },
      seed: { type: 'string', default: '1' },
      'output-dir': { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
  });
  const count = Number(values.events);
  // `--query q0,q1,q0` runs the listed queries in order (a repeated query under a new id).
  const queries = (
    values.query === 'all' ? [...queryNames] : values.query.split(',')
  ) as QueryName[];
  if (!Number.isSafeInteger(count) || count <= 0 || !queries.every((q) => queryNames.includes(q))) {
    console.error(
      'usage: npm run nexmark -- --events N [--query q0..q8[,…]|all] [--seed S] ' +
        '[--output-dir DIR] [--cpu-prof DIR]',
    );
    process.exit(2);
  }
  const seed = Number(values.seed);
  const outputDir = values['output-dir'];
  const profileDir = values['cpu-prof'];
  const profiler = profileDir === undefined ? undefined : new WindowProfiler(profileDir);
  const windows: ClockWindow[] = [];
  const run = { url: '', count, seed, outputDir, profiler, windows };
  if (profileDir !== undefined) await mkdir(profileDir, { recursive: true });
  const broker = await spawnBroker({
    nodeArgs: profileDir === undefined ? [] : brokerProfileArgs(profileDir),
  });
  let allMatch = true;
  try {
    const client = new RillClient({ bootstrapUrls: [broker.url] });
    const lines = await preload(client, count, seed);
    await client.close();
    if (outputDir !== undefined) {
      await mkdir(outputDir, { recursive: true });
      await writeFile(join(outputDir, 'events.jsonl'), lines.map((l) => `${l}\n`).join(''));
    }
    const rounds = new Map<QueryName, number>();
    for (const name of queries) {
      const round = rounds.get(name) ?? 0;
      rounds.set(name, round + 1);
      const where = { url: broker.url, brokerPid: broker.child.pid };
      allMatch = (await runQuery({ ...run, ...where }, name, round)) && allMatch;
    }
  } finally {
    await broker.stop();
  }
  if (profileDir !== undefined) await summarizeBroker(profileDir, windows);
  process.exit(allMatch ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
