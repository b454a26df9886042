// Goal (issue 13, trial finding 2): `rill topic describe` shows every partition's log start and
// high watermark whichever node it asks, with the same numbers from each, and says where they
// come from, with the age of those that are not the node's own. Method: three real `rill
// broker` processes, a topic with one replica per node (RF=1, 3 partitions: each node leads one
// and knows nothing local of the other two) and an RF=3 topic (followers answer from their own
// replicas), and `node bin/rill.js topic describe` as a child process with --bootstrap naming
// one node at a time.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { pollUntil } from '../../support/poll.ts';
import { RillCluster } from '../../support/cluster/rill-cluster.ts';

const rillBin = resolve(import.meta.dirname, '../../../bin/rill.js');
let cluster: RillCluster;

beforeAll(async () => {
  // A long session timeout: the last test stops a leader for longer than a fetch session's
  // long poll (5 s) and must not see it fenced meanwhile.
  cluster = await RillCluster.start(3, 20_000);
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

function describeWithCli(url: string, topic: string, json: boolean) {
  const args = [
    rillBin,
    'topic',
    'describe',
    topic,
    '--bootstrap',
    url,
    ...(json ? ['--json'] : []),
  ];
  const child = spawn(process.execPath, args, { env: { ...process.env, RILL_BOOTSTRAP: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) =>
    child.once('close', (code) => {
      clearTimeout(killer);
      done({ code, stdout, stderr });
    }),
  );
}

/** `partition P … log-start=S high-watermark=H source=X` lines as [P, S, H, X]. */
function offsetsOf(text: string): [number, number, number, string][] {
  const rows: [number, number, number, string][] = [];
  for (const line of text.split('\n')) {
    const m = /partition (\d+).*log-start=(\S+)\thigh-watermark=(\S+)\tsource=(\S+)/.exec(line);
    if (m !== null) rows.push([Number(m[1]), Number(m[2]), Number(m[3]), m[4] ?? '']);
  }
  return rows;
}

async function createAndFill(topic: string, replicationFactor: number): Promise<void> {
  const created = await cluster.post(1, '/v1/topics', {
    name: topic,
    partitions: 3,
    replicationFactor,
  });
  expect(created.status).toBe(201);
  for (const p of created.body.partitions as { partition: number; leader: number }[]) {
    const records = Array.from({ length: p.partition + 1 }, (_, i) => ({ value: `v${i}` }));
    const path = `/v1/topics/${topic}/partitions/${p.partition}/records?acks=all`;
    const done = await pollUntil(`produce to ${topic}-${p.partition}`, 10_000, async () => {
      const answer = await cluster.post(p.leader, path, { records });
      return answer.status === 200 ? answer : undefined;
    });
    expect(done.status).toBe(200);
  }
}

test('every node describes every partition with the same offsets', async () => {
  await createAndFill('spread', 1);
  await createAndFill('copies', 3);
  const expected = [
    [0, 0, 1],
    [1, 0, 2],
    [2, 0, 3],
  ];
  for (const topic of ['spread', 'copies']) {
    const leaders = new Map<number, number>();
    for (const id of cluster.ids) {
      // A follower learns the HW from its next fetch answer: poll, never sleep.
      const run = await pollUntil(`node ${id} describes ${topic}`, 10_000, async () => {
        const r = await describeWithCli(cluster.url(id), topic, false);
        const numbers = offsetsOf(r.stdout).map(([p, s, h]) => [p, s, h]);
        return JSON.stringify(numbers) === JSON.stringify(expected) ? r : undefined;
      });
      expect(run.code).toBe(0);
      const sources = offsetsOf(run.stdout).map(([, , , source]) => source);
      const json = await describeWithCli(cluster.url(id), topic, true);
      const described = JSON.parse(json.stdout) as {
        partitions: { leader: number; offsetsSource: string }[];
      };
      described.partitions.forEach((p, i) => leaders.set(i, p.leader));
      const want = described.partitions.map((p) =>
        p.leader === id ? 'leader' : topic === 'copies' ? 'follower' : 'leader-remote',
      );
      expect(sources, `${topic} from node ${id}`).toEqual(want);
      // What is not the node's own is marked with its age, in whole ms; a leader's is not.
      const ages = run.stdout
        .split('\n')
        .filter((line) => line.includes('\tsource='))
        .map((line) => /\tage=(\d+)ms$/.exec(line)?.[1] ?? null);
      expect(ages.map((age) => age !== null)).toEqual(want.map((source) => source !== 'leader'));
      expect(described.partitions.map((p) => p.offsetsSource)).toEqual(want);
    }
    if (topic === 'spread') expect(new Set(leaders.values()).size).toBe(3);
  }
}, 180_000);

test('a follower says how old its HW is, and the age grows while its leader is silent', async () => {
  // 'copies' exists from the test above (RF=3); this test runs after it in this file.
  const local = async (id: number) =>
    (await cluster.get(id, '/v1/topics/copies?local=true')).body.partitions as {
      partition: number;
      leader: number;
      offsetsSource: string;
      offsetsAgeMs?: number;
    }[];
  const partitions = await local(1);
  const followed = partitions.find((p) => p.leader !== 1);
  if (followed === undefined) throw new Error('node 1 leads every partition of copies');
  // A healthy session answers at least every long-poll wait (5 s).
  const fresh = await pollUntil('an age from a live session', 15_000, async () => {
    const p = (await local(1)).find((q) => q.partition === followed.partition);
    return p?.offsetsAgeMs !== undefined && p.offsetsAgeMs < 6_000 ? p : undefined;
  });
  expect(fresh.offsetsSource).toBe('follower');
  expect(
    (await local(followed.leader)).find((q) => q.partition === followed.partition),
  ).not.toHaveProperty('offsetsAgeMs');
  // SIGSTOP the leader: its sessions stop answering, so the follower's age passes the wait.
  cluster.pause(followed.leader, true);
  try {
    await pollUntil('the age passing 6 s while the leader is stopped', 20_000, async () => {
      const p = (await local(1)).find((q) => q.partition === followed.partition);
      return (p?.offsetsAgeMs ?? 0) > 6_000 ? true : undefined;
    });
  } finally {
    cluster.pause(followed.leader, false);
  }
}, 60_000);
