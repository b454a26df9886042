// `npm run bench:raft`: three scripts/raft-node.ts processes on loopback with real fsync.
// Measures committed proposals/s and p50/p99 commit latency with 1 KiB entries under a closed
// loop of 1, 16 and 256 outstanding proposals. The loop runs INSIDE the leader process (its
// /test/bench route calls RaftMetadataLog.propose directly), so the figures measure Raft —
// persist, replicate over h2c, commit, apply — and not an HTTP client. In the same run it
// measures the bare fsync baseline of the same sizes, prints ratios and a final JSON line.
//   npm run bench:raft -- [--duration-ms 5000]
import { closeSync, mkdirSync, openSync, rmSync, writeSync, fdatasyncSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Level } from 'level';
import { RaftNodeProcess, waitForLeader } from '../test/support/raft/raft-node-process.ts';
import { freePorts } from '../test/support/child-process.ts';

interface LoopFigures {
  readonly commits: number;
  readonly failures: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

interface DriverCounters {
  readonly rounds: number;
  readonly persistedEntries: number;
  readonly saveMs: number;
}

/** Leader rounds during one loop: entries per round is the group-commit batch size. */
interface RoundFigures {
  readonly leaderRounds: number;
  readonly entriesPerRound: number;
  readonly saveMsPerRound: number;
}

const { values: args } = parseArgs({ options: { 'duration-ms': { type: 'string' } } });
const durationMs = Number(args['duration-ms'] ?? 5_000);
const entryBytes = 1024;
// Real disk under the project (never tmpfs): fsync must cost what it costs.
const benchDirectory = resolve(import.meta.dirname, '..', '.bench', `raft-${process.pid}`);

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] ?? NaN;
}

function summarize(
  latenciesMs: number[],
  seconds: number,
): { perSecond: number; p50Ms: number; p99Ms: number } {
  latenciesMs.sort((a, b) => a - b);
  return {
    perSecond: latenciesMs.length / seconds,
    p50Ms: quantile(latenciesMs, 0.5),
    p99Ms: quantile(latenciesMs, 0.99),
  };
}

/**
 * LevelDB batches of `entriesPerBatch` 1 KiB values, each written with sync: true, by
 * `writers` databases at once (three nodes share one disk, so their syncs contend).
 */
async function levelSyncBaseline(entriesPerBatch: number, writers: number, forMs: number) {
  const value = new Uint8Array(entryBytes).fill(120);
  const latenciesMs: number[] = [];
  const startMs = performance.now();
  const writer = async (id: number): Promise<void> => {
    const db = new Level<Uint8Array, Uint8Array>(
      join(benchDirectory, `level-${entriesPerBatch}-${writers}-${id}`),
      {
        keyEncoding: 'view',
        valueEncoding: 'view',
      },
    );
    await db.open();
    for (let batch = 0; performance.now() - startMs < forMs; batch += 1) {
      const ops = Array.from({ length: entriesPerBatch }, (_, i) => {
        const key = new Uint8Array(8);
        new DataView(key.buffer).setFloat64(0, batch * entriesPerBatch + i);
        return { type: 'put' as const, key, value };
      });
      const sentMs = performance.now();
      await db.batch(ops, { sync: true });
      latenciesMs.push(performance.now() - sentMs);
    }
    await db.close();
  };
  await Promise.all(Array.from({ length: writers }, (_, id) => writer(id)));
  return summarize(latenciesMs, (performance.now() - startMs) / 1000);
}

/** Appends of 1 KiB to one file, each followed by fdatasync. */
function fdatasyncBaseline(forMs: number) {
  const fd = openSync(join(benchDirectory, 'fdatasync.bin'), 'w');
  const buffer = new Uint8Array(entryBytes).fill(120);
  const latenciesMs: number[] = [];
  const startMs = performance.now();
  while (performance.now() - startMs < forMs) {
    const sentMs = performance.now();
    writeSync(fd, buffer);
    fdatasyncSync(fd);
    latenciesMs.push(performance.now() - sentMs);
  }
  const seconds = (performance.now() - startMs) / 1000;
  closeSync(fd);
  return summarize(latenciesMs, seconds);
}

async function runRaft(): Promise<Record<string, LoopFigures & RoundFigures>> {
  const ports = await freePorts(3);
  const voters = ports.map((port, i) => `${i + 1}@127.0.0.1:${port}`).join(',');
  const nodes = ports.map(
    (port, i) =>
      new RaftNodeProcess({
        nodeId: i + 1,
        port,
        voters,
        dataDir: join(benchDirectory, `node-${i + 1}`),
      }),
  );
  try {
    await Promise.all(nodes.map((node) => node.start()));
    const leader = await waitForLeader(nodes, 30_000);
    const loop = (outstanding: number, forMs: number) =>
      leader.post<LoopFigures>('/test/bench', {
        outstanding,
        durationMs: forMs,
        valueBytes: entryBytes,
        keys: 1024,
      });
    await loop(16, 1_000); // Warm-up: JIT, connections, LevelDB files.
    const driverCounters = async (): Promise<DriverCounters> =>
      (await leader.get<{ driver: DriverCounters }>('/test/counters')).driver;
    const figures: Record<string, LoopFigures & RoundFigures> = {};
    for (const outstanding of [1, 16, 256]) {
      const before = await driverCounters();
      const loopFigures = await loop(outstanding, durationMs);
      const after = await driverCounters();
      const rounds = after.rounds - before.rounds;
      figures[String(outstanding)] = {
        ...loopFigures,
        leaderRounds: rounds,
        entriesPerRound: round((after.persistedEntries - before.persistedEntries) / rounds),
        saveMsPerRound: round((after.saveMs - before.saveMs) / rounds, 3),
      };
    }
    return figures;
  } finally {
    await Promise.all(nodes.map((node) => node.kill()));
  }
}

mkdirSync(benchDirectory, { recursive: true });
try {
  const baselineMs = Math.min(durationMs, 3_000);
  const fdatasync = fdatasyncBaseline(baselineMs);
  const levelSync1 = await levelSyncBaseline(1, 1, baselineMs);
  const levelSync1x3 = await levelSyncBaseline(1, 3, baselineMs);
  const levelSync256 = await levelSyncBaseline(256, 1, baselineMs);
  const raft = await runRaft();

  const fixed = (value: number, digits: number): string => round(value, digits).toString();
  const line = (name: string, figures: { perSecond: number; p50Ms: number; p99Ms: number }) =>
    `${name.padEnd(48)} ${fixed(figures.perSecond, 0).padStart(8)}/s` +
    `   p50 ${fixed(figures.p50Ms, 3)} ms   p99 ${fixed(figures.p99Ms, 3)} ms`;
  console.log(
    `Raft bench: 3 processes on loopback, ${entryBytes}-byte entries, ${durationMs} ms/loop`,
  );
  console.log(line('baseline fs write + fdatasync (1 KiB)', fdatasync));
  console.log(line('baseline level batch sync (1 × 1 KiB)', levelSync1));
  console.log(line('baseline level batch sync (1 × 1 KiB), 3 writers', levelSync1x3));
  console.log(line('baseline level batch sync (256 × 1 KiB)', levelSync256));
  const commitsPerSecond = (f: LoopFigures | undefined): number =>
    f === undefined ? NaN : f.commits / f.seconds;
  for (const [outstanding, figures] of Object.entries(raft)) {
    const name = `raft commits, ${outstanding} outstanding`;
    console.log(line(name, { ...figures, perSecond: commitsPerSecond(figures) }));
    console.log(
      `${''.padEnd(48)} leader rounds: ${figures.entriesPerRound} entries, ` +
        `${figures.saveMsPerRound} ms of save each; failed proposals: ${figures.failures}`,
    );
  }
  const one = raft['1'];
  const many = raft['256'];
  const ratios = {
    commitLatencyOverLevelSyncP50: round((one?.p50Ms ?? NaN) / levelSync1.p50Ms),
    commitLatencyOverContendedLevelSyncP50: round((one?.p50Ms ?? NaN) / levelSync1x3.p50Ms),
    commitsAt1OverLevelSyncsPerSecond: round(commitsPerSecond(one) / levelSync1.perSecond),
    commitsAt256OverLevelSyncsPerSecond: round(commitsPerSecond(many) / levelSync1.perSecond),
    groupCommitGainAt256: round(commitsPerSecond(many) / commitsPerSecond(one)),
  };
  const verdict = commitsPerSecond(many) >= 5_000 ? 'met' : 'NOT met';
  console.log(
    `ratios: commit p50 at 1 outstanding = ${ratios.commitLatencyOverLevelSyncP50}× one ` +
      `level sync (${ratios.commitLatencyOverContendedLevelSyncP50}× with 3 writers); ` +
      `commits/s at 256 = ${ratios.commitsAt256OverLevelSyncsPerSecond}× level syncs/s; ` +
      `target at 256 (≥ 5000/s): ${verdict}`,
  );
  const result = {
    bench: 'raft',
    entryBytes,
    durationMs,
    baseline: { fdatasync, levelSync1, levelSync1x3, levelSync256 },
    raft: Object.fromEntries(
      Object.entries(raft).map(([k, f]) => [
        k,
        { ...f, commitsPerSecond: round(commitsPerSecond(f)) },
      ]),
    ),
    ratios,
  };
  console.log(JSON.stringify(result));
} finally {
  rmSync(benchDirectory, { recursive: true, force: true });
}
