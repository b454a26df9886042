// `npm run bench:raft-idle`: what an idle Raft group costs. Three scripts/raft-node.ts
// processes on loopback, one entry committed, then nothing proposed: CPU per node (utime +
// stime from /proc) over `--seconds` (30), storage rounds and HTTP requests in that window,
// and whether the commit index moved. Variants differ in the heartbeat interval (ticks of 50
// ms) and piggybacking ("1np": heartbeat every tick, answers in their own requests, as before
// issue 7); the baseline of the same run is a one-voter group (ticks, no peers). Rounds are
// interleaved (3 by default) and the load average is printed, since the machine is shared.
//   npm run bench:raft-idle -- [--seconds 30] [--rounds 3] [--variants 1np,1,3]
import { readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RaftNodeProcess, waitForLeader } from '../test/support/raft/raft-node-process.ts';
import { freePorts } from '../test/support/child-process.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    variants: { type: 'string' },
  },
});
const seconds = Number(args.seconds ?? 30);
const rounds = Number(args.rounds ?? 3);
/** Heartbeat intervals to compare, in ticks of 50 ms; "np": without piggybacked answers. */
const variants = (args.variants ?? '1np,1,3').split(',');
const benchDirectory = resolve(import.meta.dirname, '..', '.bench', `raft-idle-${process.pid}`);
const clockTicksPerSecond = 100; // Linux USER_HZ

interface Counters {
  readonly driver: { rounds: number; persistedEntries: number } | null;
  readonly transport: { sentRequests: number };
  readonly storage: { syncedWriteCount: number };
}

interface Figures {
  readonly cpuPercent: number[];
  readonly commitDelta: number;
  readonly persistedEntries: number;
  readonly storageWrites: number;
  readonly requestsPerSecond: number;
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // After "pid (comm) ": state is field 0, utime 11, stime 12.
  return Number(fields[11]) + Number(fields[12]);
}

async function measure(label: string, voterCount: number, variant: string) {
  const heartbeatTicks = Number.parseInt(variant, 10);
  const extraArgs = ['--heartbeat-ticks', String(heartbeatTicks)];
  if (variant.endsWith('np')) extraArgs.push('--no-piggyback');
  const ports = await freePorts(voterCount);
  const voters = ports.map((port, i) => `${i + 1}@127.0.0.1:${port}`).join(',');
  const nodes = ports.map(
    (port, i) =>
      new RaftNodeProcess({
        nodeId: i + 1,
        port,
        voters,
        dataDir: join(benchDirectory, `${label}-${i + 1}`),
        extraArgs,
      }),
  );
  try {
    await Promise.all(nodes.map((node) => node.start()));
    const leader = await waitForLeader(nodes, 20_000);
    await leader.post('/test/propose', { key: 'k', value: 'v' });
    await new Promise((done) => setTimeout(done, 2_000)); // Start-up work settles.
    const before = await snapshot(nodes);
    await new Promise((done) => setTimeout(done, seconds * 1000));
    const after = await snapshot(nodes);
    const cpuPercent = nodes.map(
      (_, i) =>
        (((after.cpu[i] ?? 0) - (before.cpu[i] ?? 0)) / clockTicksPerSecond / seconds) * 100,
    );
    const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
    return {
      cpuPercent,
      commitDelta: Math.max(...after.commit) - Math.max(...before.commit),
      persistedEntries: sum(after.persisted) - sum(before.persisted),
      storageWrites: sum(after.writes) - sum(before.writes),
      requestsPerSecond: (sum(after.requests) - sum(before.requests)) / seconds,
    } satisfies Figures;
  } finally {
    await Promise.all(nodes.map((node) => node.kill()));
  }
}

async function snapshot(nodes: readonly RaftNodeProcess[]) {
  const cpu = nodes.map((node) => cpuTicks(node.pid ?? 0));
  const statuses = await Promise.all(
    nodes.map((node) => node.get<{ commitIndex: number }>('/v1/raft')),
  );
  const counters = await Promise.all(nodes.map((node) => node.get<Counters>('/test/counters')));
  return {
    cpu,
    commit: statuses.map((s) => s.commitIndex),
    persisted: counters.map((c) => c.driver?.persistedEntries ?? 0),
    requests: counters.map((c) => c.transport.sentRequests),
    writes: counters.map((c) => c.storage.syncedWriteCount),
  };
}

const fmt = (values: readonly number[]): string => values.map((v) => v.toFixed(2)).join('/');

async function main(): Promise<void> {
  const results = new Map<string, number[]>();
  console.log(`idle Raft group, ${seconds} s per measurement, ${rounds} rounds, tick 50 ms`);
  for (let round = 1; round <= rounds; round += 1) {
    console.log(
      `round ${round}: load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const cases: [string, number, string][] = [
      ['one-voter', 1, '1'],
      ...variants.map((v): [string, number, string] => [`3-voters-hb${v}`, 3, v]),
    ];
    for (const [label, voterCount, variant] of cases) {
      const heartbeatTicks = Number.parseInt(variant, 10);
      const figures = await measure(`${label}-r${round}`, voterCount, variant);
      const mean = figures.cpuPercent.reduce((a, b) => a + b, 0) / figures.cpuPercent.length;
      results.set(label, [...(results.get(label) ?? []), mean]);
      console.log(
        `  ${label} (heartbeat ${heartbeatTicks * 50} ms): ` +
          `CPU % per node ${fmt(figures.cpuPercent)}` +
          `, commit +${figures.commitDelta}, persisted entries +${figures.persistedEntries}` +
          `, synced writes +${figures.storageWrites}` +
          `, raft requests/s ${figures.requestsPerSecond.toFixed(1)}`,
      );
    }
  }
  const baseline = median(results.get('one-voter') ?? []);
  for (const [label, means] of results) {
    const sorted = [...means].sort((a, b) => a - b);
    console.log(
      `${label}: mean CPU % per node min/median/max ` +
        `${fmt([sorted[0] ?? 0, median(sorted), sorted.at(-1) ?? 0])}` +
        `, ratio to one-voter ${(median(sorted) / baseline).toFixed(2)}`,
    );
  }
  console.log(
    `load average at end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

try {
  await main();
} finally {
  rmSync(benchDirectory, { recursive: true, force: true });
}
