// Goal: the one-voter metadata log on level is durable: proposals survive a reopen, snapshots
// replace the entries they cover, and replay rebuilds the same image.
// Method: a real level database in a temporary directory, closed and reopened.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import {
  LevelMetadataLog,
  MetadataImage,
  type MetadataCommand,
} from '../../../src/broker/index.ts';

const directories: string[] = [];
afterEach(async () => {
  for (const directory of directories.splice(0))
    await rm(directory, { recursive: true, force: true });
});

async function open(directory: string, snapshotEveryEntries = 1000) {
  const image = new MetadataImage();
  const log = new LevelMetadataLog<MetadataCommand>(
    { nodeId: 1, directory, pendingProposalsMax: 100, snapshotEveryEntries },
    image,
  );
  await log.start();
  return { image, log };
}

const register = (nodeId: number): MetadataCommand => ({
  type: 'register-node',
  nodeId,
  url: `http://n${nodeId}`,
  incarnationId: `i${nodeId}`,
});

test.each([1000, 3])('proposals survive a reopen (snapshot every %i entries)', async (every) => {
  const directory = await mkdtemp(join(tmpdir(), 'rill-meta-'));
  directories.push(directory);
  const first = await open(directory, every);
  const results = await Promise.all([1, 2, 3, 4, 5].map((id) => first.log.propose(register(id))));
  expect(results.map((r) => r.index)).toEqual([1, 2, 3, 4, 5]);
  await first.log.propose({
    type: 'create-topic',
    name: 't',
    topicId: 'x',
    partitions: [{ replicas: [1, 2] }],
    configs: {},
  });
  const before = first.image.snapshot();
  await first.log.stop();
  const second = await open(directory, every);
  expect(second.log.status()).toMatchObject({ role: 'leader', leaderId: 1, appliedIndex: 6 });
  expect(new TextDecoder().decode(second.image.snapshot())).toBe(new TextDecoder().decode(before));
  expect((await second.log.propose(register(9))).index).toBe(7);
  await second.log.stop();
});

test('a refused command is still committed and its typed result returned', async () => {
  const directory = await mkdtemp(join(tmpdir(), 'rill-meta-'));
  directories.push(directory);
  const { log } = await open(directory);
  const { result } = await log.propose({ type: 'delete-topic', name: 'none' });
  expect(result).toMatchObject({ ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  await log.stop();
  await expect(log.propose(register(1))).rejects.toMatchObject({ code: 'BROKER_NOT_READY' });
});
