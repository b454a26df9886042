// Goal: examples/word-count.ts works against a real broker as issue 11 specifies — Kafka's
// canonical lines give kafka 3, streams 2, every other word 1, a Cyrillic line counts its
// words, the output topic and internal topics are created, and SIGINT flushes and exits 0.
// Method: one `node bin/rill.js broker`, the example as a child process, the client to produce
// input and read output (polling with a deadline).
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { expect, test } from 'vitest';
import { RillClient } from '../../../src/api/client/index.ts';
import type { BrokerProcess } from '../../../scripts/spawn-broker.ts';
import { useSpawnedBroker } from '../../support/broker/spawned-broker.ts';
import { pollUntil } from '../../support/poll.ts';

let broker: BrokerProcess;
let client: RillClient;

useSpawnedBroker((b, c) => {
  broker = b;
  client = c;
});

test('word count: canonical counts, Cyrillic words, topics created, SIGINT exits 0', async () => {
  await client.admin().createTopic({ name: 'lines', partitions: 3, replicationFactor: 1 });
  const root = resolve(import.meta.dirname, '../../..');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'examples/word-count.ts',
      '--bootstrap',
      broker.url,
      '--input',
      'lines',
      '--output',
      'counts',
      '--application-id',
      'wc-test',
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  await pollUntil('word-count to start', 30_000, () =>
    output.includes('Ctrl-C to stop') ? true : undefined,
  );
  const producer = client.producer();
  const lines = [
    'all streams lead to kafka',
    'hello kafka streams',
    'join kafka summit',
    'Привет, мир! привет',
  ];
  for (const [i, line] of lines.entries())
    await producer.send({ topic: 'lines', key: `k${i}`, value: line });
  const consumer = client.consumer({ autoOffsetReset: 'earliest' });
  const counts = new Map<string, string>();
  const expected: Record<string, string> = {
    kafka: '3',
    streams: '2',
    all: '1',
    lead: '1',
    to: '1',
    hello: '1',
    join: '1',
    summit: '1',
    привет: '2',
    мир: '1',
  };
  await pollUntil('the counts', 30_000, async () => {
    const description = await client
      .admin()
      .describeTopic('counts')
      .catch(() => null);
    if (description === null) return undefined;
    consumer.assign(description.partitions.map((_, partition) => ({ topic: 'counts', partition })));
    for (const r of await consumer.poll({ maxWaitMs: 200 })) {
      counts.set(
        new TextDecoder().decode(r.key ?? new Uint8Array()),
        new TextDecoder().decode(r.value ?? new Uint8Array()),
      );
    }
    return Object.entries(expected).every(([w, n]) => counts.get(w) === n) ? true : undefined;
  });
  expect(Object.fromEntries(counts)).toEqual(expected);
  const topics = (await client.admin().listTopics()).map((t) => t.name);
  expect(topics).toContain('wc-test-word-counts-repartition');
  expect(topics).toContain('wc-test-word-counts-changelog');
  const changelog = await client.admin().describeTopic('wc-test-word-counts-changelog');
  expect(changelog.configs['cleanup.policy']).toBe('compact');
  child.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(output).toContain('flushed and stopped');
}, 90_000);
