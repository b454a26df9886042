// `npx tsx scripts/bench-idle-profile.ts [--partitions 0] [--seconds 20] [--profile]`: where an
// idle three-node cluster spends its CPU. Starts three real brokers (defaults), optionally
// creates `--partitions` RF=3 partitions, waits for them to settle, then reads each broker's
// CPU time from /proc over the window (% of one core, with the load average). With `--profile`
// the brokers run under `node --cpu-prof` and the top self-time functions and files of every
// node's profile are printed (the profile spans the whole run, start-up included).
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RillClient } from '../src/api/client/index.ts';
import { summarizeProfileFile } from './bench/profile.ts';
import { spawnCluster } from './spawn-cluster.ts';

const { values: args } = parseArgs({
  options: {
    partitions: { type: 'string', default: '0' },
    seconds: { type: 'string', default: '20' },
    settle: { type: 'string', default: '10' },
    profile: { type: 'boolean', default: false },
  },
});
const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function main(): Promise<void> {
  const profileDir = args.profile ? await mkdtemp(join(tmpdir(), 'rill-idle-prof-')) : null;
  const nodeArgs = profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const cluster = await spawnCluster({ size: 3, nodeArgs });
  const client = new RillClient({ bootstrapUrls: [...cluster.urls.values()] });
  const out: Record<string, unknown> = { loadavgStart: loadavg() };
  let windowStartMs = 0;
  let windowEndMs = 0;
  try {
    await createIdlePartitions(client, Number(args.partitions));
    await new Promise((resolve) => setTimeout(resolve, Number(args.settle) * 1000));
    const pids = [1, 2, 3].map((id) => cluster.pid(id) ?? 0);
    windowStartMs = Date.now();
    const threadsStart = await Promise.all(pids.map(threadTicks));
    const measured = await cpuPercent(pids, Number(args.seconds));
    windowEndMs = Date.now();
    const threadsEnd = await Promise.all(pids.map(threadTicks));
    out['threads'] = pids.map((_, i) => {
      const start = threadsStart[i] ?? new Map<string, number>();
      const percents: Record<string, number> = {};
      for (const [name, ticks] of threadsEnd[i] ?? new Map<string, number>()) {
        const used = (ticks - (start.get(name) ?? 0)) / 100;
        const percent = Math.round((used / Number(args.seconds)) * 1000) / 10;
        if (percent > 0) percents[name] = percent;
      }
      log(`  node ${i + 1} threads (% of a core): ${JSON.stringify(percents)}`);
      return percents;
    });
    log(
      `idle CPU % per node (${args.partitions} RF=3 partitions, ${args.seconds} s): ` +
        `${measured.percent.join(' ')} (load ${measured.load.map((l) => l.toFixed(2)).join(' ')})`,
    );
    out['partitions'] = Number(args.partitions);
    out['seconds'] = Number(args.seconds);
    out['cpuPercentPerNode'] = measured.percent;
    out['loadavg'] = measured.load;
  } finally {
    await client.close();
    await cluster.stop();
  }
  // The profiles end when the brokers exit, a moment before stop() resolved.
  const stoppedMs = Date.now();
  const window = { fromEndMs: stoppedMs - windowStartMs, toEndMs: stoppedMs - windowEndMs };
  if (profileDir !== null) {
    const files = (await readdir(profileDir)).filter((file) => file.endsWith('.cpuprofile'));
    out['profiles'] = [];
    for (const file of files) {
      (out['profiles'] as unknown[]).push(
        await summarizeProfileFile(join(profileDir, file), 15, window),
      );
    }
    await rm(profileDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(out));
}

async function createIdlePartitions(client: RillClient, partitions: number): Promise<void> {
  const admin = client.admin();
  const perTopic = 25;
  for (let made = 0; made < partitions; made += perTopic) {
    const count = Math.min(perTopic, partitions - made);
    const configs = { 'min.insync.replicas': '2' };
    for (let attempt = 0; ; attempt += 1) {
      try {
        await admin.createTopic({
          name: `idle-${made}`,
          partitions: count,
          replicationFactor: 3,
          configs,
        });
        break;
      } catch (error) {
        if ((error as { code?: unknown }).code === 'TOPIC_ALREADY_EXISTS') break;
        if (attempt >= 5) throw error;
      }
    }
  }
}

/** CPU time of each process over `seconds`, as % of one core, and the load average then. */
async function cpuPercent(pids: readonly number[], seconds: number) {
  const start = await Promise.all(pids.map(cpuTicks));
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const end = await Promise.all(pids.map(cpuTicks));
  const load = loadavg();
  const ticksPerSecond = 100;
  const percent = end.map((ticks, i) => {
    const used = (ticks - (start[i] ?? 0)) / ticksPerSecond;
    return Math.round((used / seconds) * 1000) / 10;
  });
  return { percent, load };
}

/** utime+stime per thread name (the main thread apart, others of one name summed). */
async function threadTicks(pid: number): Promise<Map<string, number>> {
  const ticks = new Map<string, number>();
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    if (stat === '') continue;
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const name = tid === String(pid) ? `${comm} (main)` : comm;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const used = Number(fields[11]) + Number(fields[12]);
    ticks.set(name, (ticks.get(name) ?? 0) + used);
  }
  return ticks;
}

async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

await main();
