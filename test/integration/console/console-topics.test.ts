// Goal (issue 14): a console over more topics than it describes live still reaches every
// topic: the read describes the first consoleTopicsMax by name and counts the rest, and a
// topic asked for by name (a stream's ?topic=) is described wherever it sorts; a bad name is
// refused. Method: one in-process node with consoleTopicsMax + 3 topics, readConsole directly.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { H2Transport } from '../../../src/api/client/index.ts';
import { consoleTopicsMax, readConsole } from '../../../src/api/console/console-reader.ts';
import { CheckpointWatcher } from '../../../src/api/console/console-streams.ts';
import type { RillApp } from '../../../src/api/server/index.ts';
import { startServer } from '../../support/api/console-node.ts';

let app: RillApp;
const forwarder = new H2Transport();
const names = Array.from(
  { length: consoleTopicsMax + 3 },
  (_, i) => `t${String(i).padStart(4, '0')}`,
);

beforeAll(async () => {
  ({ app } = await startServer(false));
  for (const name of names) {
    const created = await app.inject({
      method: 'POST',
      url: '/v1/topics',
      headers: { 'content-type': 'application/json' },
      payload: { name, partitions: 1, replicationFactor: 1 },
    });
    expect(created.statusCode).toBe(201);
  }
}, 60_000);

afterAll(async () => {
  await app?.close();
  await forwarder.close();
});

test('the first topics by name are described, the rest counted, a watched one described', async () => {
  const deps = {
    app,
    forwarder,
    nodeId: () => 1,
    consoleWrite: false,
    checkpoints: new CheckpointWatcher({ app, forwarder, nodeId: () => 1 }),
  };
  const plain = await readConsole(deps, false);
  expect(plain.topics.map((t) => t.name)).toEqual(names.slice(0, consoleTopicsMax));
  expect(plain.topicsLeftOut).toBe(3);
  const last = names.at(-1) ?? '';
  const watched = await readConsole(deps, false, [last, 'no-such-topic']);
  expect(watched.topics.map((t) => t.name)).toEqual([...names.slice(0, consoleTopicsMax), last]);
  expect(watched.topics.at(-1)?.partitions[0]?.highWatermark).toBe(0);
  expect(watched.topicsLeftOut).toBe(2);
  expect(watched.watchedTopics).toEqual([last, 'no-such-topic']);
});

test('a stream asking for a topic by an invalid name is refused', async () => {
  const answer = await app.inject({ method: 'GET', url: '/v1/console/events?topic=a%2Fb' });
  expect(answer.statusCode).toBe(400);
  expect((answer.json() as { error: { code: string } }).error.code).toBe('INVALID_TOPIC_EXCEPTION');
});
