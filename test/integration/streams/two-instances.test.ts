// Goal: N instances share an application's tasks through the consumer group and take over from
// each other (issue 11 item 5): two word-count instances split the tasks; one is killed with
// SIGKILL while it works; the survivor takes its tasks over (after the group drops the dead
// member), restores them from checkpoints and changelogs, and the output is exactly the
// crash-free one — per word the count changes 1, 2, …, n, each once. Method: one real broker,
// a 4-partition input, the example twice with different --instance-id.
import { expect, test } from 'vitest';
import { RillClient } from '../../../src/api/client/index.ts';
import type { BrokerProcess } from '../../../scripts/spawn-broker.ts';
import { useSpawnedBroker } from '../../support/broker/spawned-broker.ts';
import { pollUntil } from '../../support/poll.ts';
import { produceLines, readCounts, rng, startWordCount } from './word-count-apps.ts';

let broker: BrokerProcess;
let client: RillClient;

useSpawnedBroker((b, c) => {
  broker = b;
  client = c;
});

test('two instances share the tasks; one killed, the other takes over exactly', async () => {
  const seed = Number(process.env.STREAMS_TWO_SEED ?? Date.now() % 100_000);
  console.log(`two-instance seed: ${seed} (STREAMS_TWO_SEED=${seed} to replay)`);
  const random = rng(seed);
  const words = ['kafka', 'streams', 'rill', 'log', 'x1', 'y2', 'z3', 'w4'];
  const line = (): string =>
    Array.from({ length: 1 + Math.floor(random() * 5) }, () => {
      return words[Math.floor(random() * words.length)] as string;
    }).join(' ');
  const phases = [600, 200].map((n) => Array.from({ length: n }, line));
  const model = new Map<string, number>();
  for (const word of phases.flat().flatMap((l) => l.split(' '))) {
    model.set(word, (model.get(word) ?? 0) + 1);
  }
  await client.admin().createTopic({ name: 'lines2', partitions: 4, replicationFactor: 1 });
  await produceLines(client, 'lines2', phases[0] as string[]);
  const a = startWordCount(broker.url, 'two', 'lines2', 'counts2', 'a');
  const b = startWordCount(broker.url, 'two', 'lines2', 'counts2', 'b');
  const started = (text: string): number => [...text.matchAll(/^task \S+ started/gm)].length;
  await pollUntil('both instances to run tasks', 60_000, () =>
    started(a.output()) > 0 && started(b.output()) > 0 ? true : undefined,
  );
  b.child.kill('SIGKILL');
  expect(await b.exited).toBe(null);
  await produceLines(client, 'lines2', phases[1] as string[]);
  await pollUntil('the survivor to finish', 90_000, async () => {
    const counts = await readCounts(client, 'counts2').catch(() => new Map<string, number[]>());
    return [...model].every(([word, n]) => counts.get(word)?.at(-1) === n) ? true : undefined;
  }).catch((error: unknown) => {
    throw new Error(`${String(error)}; survivor: ${a.output().slice(-2000)}`);
  });
  a.child.kill('SIGINT');
  expect(await a.exited).toBe(0);
  const counts = await readCounts(client, 'counts2');
  for (const [word, n] of model) {
    expect(counts.get(word), word).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  }
  const tookOver = started(a.output());
  console.log(
    `two instances: a started ${tookOver} task(s) in all and handed over ` +
      `${[...a.output().matchAll(/closed: committed/g)].length}, b started ` +
      `${started(b.output())}; ` +
      `words=${phases.flat().join(' ').split(' ').length}`,
  );
  // After the kill the survivor runs every task: 4 input partitions × 2 subtopologies.
  const keys = new Set([...a.output().matchAll(/^task (\S+) started/gm)].map((m) => m[1]));
  expect(keys.size).toBe(8);
  expect(tookOver).toBeGreaterThanOrEqual(8);
}, 200_000);
