// Goal: the client-side `rill` commands work as API.md says against a real broker — topic
// administration with human and --json output, produce from stdin, consume --from-beginning
// --max-messages, --timeout-ms, and one-line errors with a non-zero exit. Method: a real broker
// process and `node bin/rill.js …` child processes.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawnBroker, type BrokerProcess } from '../../../scripts/spawn-broker.ts';

const root = resolve(import.meta.dirname, '../../..');
let broker: BrokerProcess;

beforeAll(async () => {
  broker = await spawnBroker();
});

afterAll(async () => {
  await broker?.stop();
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function rill(args: readonly string[], stdin = ''): Promise<Run> {
  const child = spawn(
    process.execPath,
    [resolve(root, 'bin/rill.js'), ...args, '--bootstrap', broker.url],
    {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin);
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((ok) =>
    child.once('close', (code) => {
      clearTimeout(killer);
      ok({ code, stdout, stderr });
    }),
  );
}

describe('rill CLI against a real broker', () => {
  test('topic create, list --json, describe', async () => {
    const created = await rill([
      'topic',
      'create',
      'cli-topic',
      '--partitions',
      '3',
      '--replication-factor',
      '1',
      '--config',
      'retention.ms=60000',
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('created topic cli-topic');
    const listed = await rill(['topic', 'list', '--json']);
    expect(listed.code).toBe(0);
    const topics = (JSON.parse(listed.stdout) as { topics: { name: string; partitions: number }[] })
      .topics;
    expect(topics).toContainEqual(expect.objectContaining({ name: 'cli-topic', partitions: 3 }));
    const described = await rill(['topic', 'describe', 'cli-topic']);
    expect(described.stdout).toContain('retention.ms=60000');
    expect(described.stdout.match(/partition \d/g)).toHaveLength(3);
    const again = await rill(['topic', 'create', 'cli-topic', '--partitions', '1']);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain('TOPIC_ALREADY_EXISTS');
  });

  test('produce from stdin, then consume --from-beginning --max-messages', async () => {
    expect((await rill(['topic', 'create', 'lines', '--partitions', '2'])).code).toBe(0);
    const lines = Array.from({ length: 50 }, (_, i) => `k${i % 5}:line ${i}`);
    const produced = await rill(
      ['produce', 'lines', '--key-separator', ':', '--compression', 'lz4'],
      `${lines.join('\n')}\n`,
    );
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stderr).toContain('produced 50 record(s)');
    const consumed = await rill([
      'consume',
      'lines',
      '--from-beginning',
      '--max-messages',
      '50',
      '--timeout-ms',
      '10000',
    ]);
    expect(consumed.code, consumed.stderr).toBe(0);
    const values = consumed.stdout.trim().split('\n');
    expect(values.sort()).toEqual(lines.map((line) => line.slice(line.indexOf(':') + 1)).sort());
    // Per key, records keep their produce order (one partition per key).
    for (let k = 0; k < 5; k += 1) {
      const ofKey = consumed.stdout
        .trim()
        .split('\n')
        .filter((v) => Number(v.split(' ')[1]) % 5 === k);
      expect(ofKey).toEqual(
        ofKey.slice().sort((a, b) => Number(a.split(' ')[1]) - Number(b.split(' ')[1])),
      );
    }
  });

  test('consume --timeout-ms exits when no record comes; --json prints records', async () => {
    expect((await rill(['topic', 'create', 'quiet', '--partitions', '1'])).code).toBe(0);
    expect((await rill(['produce', 'quiet'], 'only\n')).code).toBe(0);
    const startMs = performance.now();
    const consumed = await rill([
      'consume',
      'quiet',
      '--from-beginning',
      '--timeout-ms',
      '1500',
      '--json',
    ]);
    expect(consumed.code, consumed.stderr).toBe(0);
    expect(performance.now() - startMs).toBeLessThan(15_000);
    const record = JSON.parse(consumed.stdout.trim()) as { offset: number; value: string };
    expect(record).toMatchObject({ offset: 0, value: 'only' });
  });

  test('consume --group: --from-beginning only without a commit; exit commits', async () => {
    expect((await rill(['topic', 'create', 'grouped', '--partitions', '2'])).code).toBe(0);
    expect((await rill(['produce', 'grouped', '--partition', '1'], 'one\ntwo\n')).code).toBe(0);
    const group = ['--group', 'cli-g', '--from-beginning', '--json'];
    const first = await rill(['consume', 'grouped', ...group, '--max-messages', '1']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout.trim())).toMatchObject({
      partition: 1,
      offset: 0,
      value: 'one',
    });
    // The group committed offset 1: --from-beginning no longer applies to partition 1.
    const second = await rill(['consume', 'grouped', ...group, '--timeout-ms', '3000']);
    expect(second.code, second.stderr).toBe(0);
    expect(
      second.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).value),
    ).toEqual(['two']);
    const described = await rill(['group', 'describe', 'cli-g', '--json']);
    const offsets = JSON.parse(described.stdout).offsets as { partition: number; lag: number }[];
    expect(offsets.find((o) => o.partition === 1)).toMatchObject({ committedOffset: 2, lag: 0 });
  });

  test('errors are one line on stderr with a non-zero exit', async () => {
    const group = await rill(['consume', 'lines', '--group', 'g1', '--partition', '0']);
    expect(group.code).not.toBe(0);
    expect(group.stderr.trim().split('\n')).toHaveLength(1);
    expect(group.stderr).toContain('omit --partition');
    const reset = await rill(['group', 'reset-offsets', 'g1', '--topic', 'lines']);
    expect(reset.code).not.toBe(0);
    expect(reset.stderr).toContain('give one of --to-earliest');
    const unknown = await rill(['topic', 'describe', 'no-such-topic']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain('UNKNOWN_TOPIC_OR_PARTITION');
    const deleted = await rill(['topic', 'delete', 'quiet']);
    expect(deleted.code).toBe(0);
  });
});
