// Goal: the CLI's daily tasks work as a user meets them, from a project directory whose
// ./data/bootstrap lists the nodes (what `rill cluster up` writes) and without --bootstrap:
// typos fail fast (unknown topic or partition: non-zero exit, one stderr line, in a time close
// to the process's own start-up), `--offset` without `--partition` is refused, topic
// alter/offsets, consume --from-timestamp, cluster status, reassign --wait, and every command
// still works after kill -9 of node 1. Method: three real `rill broker` processes and
// `node bin/rill.js …` child processes. A failure's time is compared with the CLI's bare
// start-up (`rill --help`, interleaved with the failures so both see the same load): it must
// stay under failureToStartupRatioMax of it (before this test's fixes they took 7-17 s, ≥ 9x, or
// hung), and the absolute figures are printed.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { pollUntil } from '../../support/poll.ts';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';

const rillBin = resolve(import.meta.dirname, '../../../bin/rill.js');
/**
 * A failing command's time over the median bare start-up (`rill --help`) of the CLI. A failure
 * costs a start-up plus one metadata round trip; on a loaded CI machine that measured 2.06x once,
 * so the bound sits well above it and well below the old behaviour (≥ 9x: retries until timeout).
 */
const failureToStartupRatioMax = 5;
let cluster: RillCluster;
let project = '';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly elapsedMs: number;
}

beforeAll(async () => {
  cluster = await RillCluster.start(3, 3_000);
  project = await mkdtemp(join(tmpdir(), 'rill-cli-project-'));
  await mkdir(join(project, 'data'));
  const urls = cluster.ids.map((id) => cluster.url(id)).join(',');
  await writeFile(join(project, 'data', 'bootstrap'), `${urls}\n`);
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
  if (project !== '') await rm(project, { recursive: true, force: true });
});

function rill(args: readonly string[], options: { stdin?: string; env?: object } = {}) {
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  if (!('RILL_BOOTSTRAP' in (options.env ?? {}))) delete env['RILL_BOOTSTRAP'];
  const startMs = performance.now();
  const child = spawn(process.execPath, [rillBin, ...args], { cwd: project, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.stdin ?? '');
  // The old behaviour of some of these was to hang: end them so the test reports it.
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise<Run>((done) =>
    child.once('close', (code) => {
      clearTimeout(killer);
      done({ code, stdout, stderr, elapsedMs: performance.now() - startMs });
    }),
  );
}

function expectOneLineFailure(run: Run, text: string): void {
  expect(run.code, run.stderr).not.toBe(0);
  expect(run.stderr.trim().split('\n'), run.stderr).toHaveLength(1);
  expect(run.stderr).toContain(text);
}

test('issue 13: typos fail fast with one line and a non-zero exit', async () => {
  const created = await rill([
    'topic',
    'create',
    'demo',
    '--partitions',
    '3',
    '--replication-factor',
    '3',
  ]);
  expect(created.code, created.stderr).toBe(0);
  const startups: number[] = [];
  const failures: Record<string, Run> = {};
  const cases: Record<string, [string[], string]> = {
    'produce --partition 7': [['produce', 'demo', '--partition', '7'], 'no partition 7'],
    'produce nosuchtopic': [['produce', 'nosuchtopic'], 'topic nosuchtopic does not exist'],
    'consume --partition 9': [['consume', 'demo', '--partition', '9'], 'no partition 9'],
    'consume --offset alone': [['consume', 'demo', '--offset', '5'], '--offset needs --partition'],
  };
  // Interleaved rounds: the machine's load moves the start-up cost, and both see the same load.
  for (const [name, [args]] of Object.entries(cases)) {
    startups.push((await rill(['--help'])).elapsedMs);
    failures[name] = await rill(args, { stdin: 'x\n' });
  }
  const sorted = [...startups].sort((x, y) => x - y);
  const startupMs = ((sorted[1] as number) + (sorted[2] as number)) / 2;
  const load = loadavg().map((n) => n.toFixed(2));
  console.log(`rill --help: median ${Math.round(startupMs)} ms of ${startups.map(Math.round)}`);
  console.log(`load average ${load.join(' ')}`);
  for (const [name, [, text]] of Object.entries(cases)) {
    const run = failures[name] as Run;
    const ratio = run.elapsedMs / startupMs;
    console.log(`${name}: ${Math.round(run.elapsedMs)} ms, ${ratio.toFixed(2)}x start-up`);
    expectOneLineFailure(run, text);
    expect(run.stderr).toMatch(/UNKNOWN_TOPIC_OR_PARTITION|INVALID_REQUEST/);
    expect(ratio, name).toBeLessThan(failureToStartupRatioMax);
  }
}, 240_000);

test('alter configs, offsets, consume --from-timestamp, cluster status', async () => {
  const lines = Array.from({ length: 6 }, (_, i) => `early ${i}`).join('\n');
  expect((await rill(['produce', 'demo', '--partition', '1'], { stdin: lines })).code).toBe(0);
  const between = Date.now();
  await pollUntil('the wall clock to move past the early records', 1_000, () =>
    Date.now() > between ? true : undefined,
  );
  const late = await rill(['produce', 'demo', '--partition', '1', '--verbose'], {
    stdin: 'late\n',
  });
  expect(late.code, late.stderr).toBe(0);
  const offsets = await rill([
    'topic',
    'offsets',
    'demo',
    '--timestamp',
    String(between + 1),
    '--json',
  ]);
  expect(offsets.code, offsets.stderr).toBe(0);
  const p1 = (JSON.parse(offsets.stdout) as { partitions: { partition: number }[] }).partitions[1];
  expect(p1).toEqual({ partition: 1, logStartOffset: 0, highWatermark: 7, offset: 6 });
  const iso = new Date(between + 1).toISOString();
  const fromTime = await rill(['consume', 'demo', '--from-timestamp', iso, '--max-messages', '1']);
  expect(fromTime.code, fromTime.stderr).toBe(0);
  expect(fromTime.stdout).toBe('late\n');
  const atOffset = await rill([
    'consume',
    'demo',
    '--partition',
    '1',
    '--offset',
    '4',
    '--max-messages',
    '2',
  ]);
  expect(atOffset.stdout).toBe('early 4\nearly 5\n');

  const altered = await rill([
    'topic',
    'alter',
    'demo',
    '--config',
    'retention.ms=3600000',
    'segment.ms=600000',
  ]);
  expect(altered.code, altered.stderr).toBe(0);
  const configs = async () =>
    (
      JSON.parse((await rill(['topic', 'describe', 'demo', '--json'])).stdout) as {
        configs: Record<string, string>;
      }
    ).configs;
  expect(await configs()).toMatchObject({ 'retention.ms': '3600000', 'segment.ms': '600000' });
  expect((await rill(['topic', 'alter', 'demo', '--delete-config', 'retention.ms'])).code).toBe(0);
  expect((await configs())['retention.ms']).toBe('604800000');
  expectOneLineFailure(await rill(['topic', 'alter', 'demo']), 'nothing to change');

  const status = await rill(['cluster', 'status', '--json']);
  expect(status.code, status.stderr).toBe(0);
  const body = JSON.parse(status.stdout) as {
    controllerId: number;
    nodes: { id: number; status: string; raft: { role: string } }[];
    underReplicated: unknown[];
    offline: unknown[];
  };
  expect(body.nodes.map((n) => n.status)).toEqual(['alive', 'alive', 'alive']);
  const leaders = body.nodes.filter((n) => n.raft.role === 'leader').map((n) => n.id);
  expect(leaders).toEqual([body.controllerId]);
  expect(body.offline).toEqual([]);
}, 240_000);

test('reassign --wait follows the move to the target replicas', async () => {
  expect((await rill(['topic', 'create', 'moving', '--replication-factor', '1'])).code).toBe(0);
  const described = JSON.parse((await rill(['topic', 'describe', 'moving', '--json'])).stdout) as {
    partitions: { replicas: number[] }[];
  };
  const [from] = described.partitions[0]?.replicas ?? [];
  const target = cluster.ids.filter((id) => id !== from);
  const moved = await rill([
    'topic',
    'reassign',
    'moving',
    '--partition',
    '0',
    '--replicas',
    target.join(','),
    '--wait',
  ]);
  expect(moved.code, moved.stderr).toBe(0);
  expect(moved.stdout).toContain(`reassigning moving/0: replicas=${from}`);
  expect(moved.stdout.trim().split('\n').at(-1)).toMatch(
    new RegExp(`^reassigned moving/0: replicas=${target.join(',')} `),
  );
  expectOneLineFailure(
    await rill(['topic', 'reassign', 'moving', '--partition', '3', '--replicas', '1']),
    'no partition 3',
  );
}, 240_000);

/** `rill produce` with stdin left open: lines are written as the test goes. */
function streamingProduce(args: readonly string[]) {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env['RILL_BOOTSTRAP'];
  const child = spawn(process.execPath, [rillBin, 'produce', ...args], { cwd: project, env });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const closed = new Promise<{ code: number | null; stderr: string }>((done) =>
    child.once('close', (code) => {
      clearTimeout(killer);
      done({ code, stderr });
    }),
  );
  return {
    write: (line: string) => child.stdin.write(`${line}\n`),
    end: () => child.stdin.end(),
    closed,
  };
}

test('issue 13: after kill -9 of node 1, commands without --bootstrap still work', async () => {
  // produce --verbose to a partition node 1 leads, killed between two lines: the second line's
  // batch goes to node 1, fails, and is retried to the new leader — both printed.
  const created = await rill([
    'topic',
    'create',
    'failover',
    '--partitions',
    '3',
    '--replication-factor',
    '3',
  ]);
  expect(created.code, created.stderr).toBe(0);
  const ledByOne = await pollUntil('a partition of failover led by node 1', 10_000, async () => {
    const answer = await cluster.get(2, '/v1/topics/failover');
    const partitions = answer.body.partitions as { partition: number; leader: number }[];
    return partitions.find((p) => p.leader === 1);
  });
  const where = `failover/${ledByOne.partition}`;
  const producer = streamingProduce([
    'failover',
    '--partition',
    String(ledByOne.partition),
    '--linger-ms',
    '0',
    '--verbose',
  ]);
  producer.write('before');
  await pollUntil('the first line acknowledged', 20_000, async () => {
    const answer = await cluster.get(1, '/v1/topics/failover?local=true');
    const partitions = answer.body.partitions as { partition: number; highWatermark: number }[];
    return partitions.find((p) => p.partition === ledByOne.partition)?.highWatermark === 1
      ? true
      : undefined;
  });
  await cluster.kill(1);
  producer.write('after');
  producer.end();
  const verbose = await producer.closed;
  expect(verbose.code, verbose.stderr).toBe(0);
  expect(verbose.stderr).toMatch(
    new RegExp(`rill: retry \\d+ of \\d+ record\\(s\\) to ${where} in \\d+ ms after \\w+`),
  );
  expect(verbose.stderr).toMatch(new RegExp(`rill: ${where} leader changed: node 1 -> node [23]`));
  expect(verbose.stderr).toContain('produced 2 record(s)');
  const listed = await rill(['topic', 'list']);
  expect(listed.code, listed.stderr).toBe(0);
  expect(listed.stdout).toContain('demo');
  const produced = await rill(['produce', 'demo', '--verbose'], { stdin: 'a\nb\nc\n' });
  expect(produced.code, produced.stderr).toBe(0);
  expect(produced.stderr).toContain('produced 3 record(s)');
  await pollUntil('node 1 fenced in cluster status', 20_000, async () => {
    const status = await rill(['cluster', 'status']);
    return /^node 1\t\S+\tfenced\traft=unreachable/m.test(status.stdout) ? true : undefined;
  });
  // RILL_BOOTSTRAP wins over ./data/bootstrap: a dead address there fails, and says so.
  const dead = await rill(['topic', 'list'], { env: { RILL_BOOTSTRAP: cluster.url(1) } });
  expectOneLineFailure(dead, 'CLIENT_NO_BROKER');
  const viaEnv = await rill(['topic', 'list'], { env: { RILL_BOOTSTRAP: cluster.url(2) } });
  expect(viaEnv.code, viaEnv.stderr).toBe(0);
}, 240_000);
