// Goal: the local store's rules (issue 11 item 4). planRestore restores warm only when the
// local data provably matches an earlier-or-equal checkpoint, and wipes otherwise (ahead,
// diverged, a store not local, a changelog gap, no checkpoint); a LocalKeyValueStore over real
// level keeps at most cacheEntriesMax values in memory, reads the rest from disk, and its
// persisted data plus meta reopen as the same state; on the test driver a restart restores
// warm (no changelog record) and a lost disk cold.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import type { TaskCheckpoint } from '../../../src/streams/checkpoint.ts';
import {
  LevelLocalDb,
  LocalKeyValueStore,
  metaOf,
  openTaskStores,
  persistOps,
  planRestore,
  readMeta,
  storeDataPrefix,
} from '../../../src/streams/local-state.ts';
import {
  StreamsBuilder,
  TopologyTestDriver,
  numberSerde,
  serdes,
  stringSerde,
  StreamsError,
} from '../../../src/streams/index.ts';
import type { StoreConfig } from '../../../src/streams/state-store.ts';
import { bytesToId, idToBytes } from '../../../src/streams/store-key.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function checkpoint(seq: number, changelogs: Record<string, number>): TaskCheckpoint {
  return { task: 't#0', seq, offsets: {}, streamTimeMs: 0, changelogs, outputs: {} };
}

test('planRestore: warm from the local coverage only when it cannot be wrong', () => {
  const stores = ['a', 'b'];
  const start = (_store: string): number => 0;
  const c = checkpoint(5, { a: 10, b: 4 });
  expect(planRestore(stores, c, { seq: 3, changelogs: { a: 7, b: 4 } }, start)).toEqual({
    wipe: false,
    from: { a: 7, b: 4 },
    reason: 'warm',
  });
  const reason = (local: Parameters<typeof planRestore>[2], at = start): string =>
    planRestore(stores, c, local, at).reason;
  expect(reason(null)).toBe('no-local-state');
  expect(planRestore(stores, null, { seq: 1, changelogs: { a: 0, b: 0 } }, start).reason).toBe(
    'no-checkpoint',
  );
  expect(reason({ seq: 6, changelogs: { a: 10, b: 4 } })).toBe('local-ahead');
  expect(reason({ seq: 4, changelogs: { a: 11, b: 4 } })).toBe('local-ahead');
  expect(reason({ seq: 5, changelogs: { a: 9, b: 4 } })).toBe('local-diverged');
  expect(reason({ seq: 4, changelogs: { a: 9 } })).toBe('store-not-local');
  expect(reason({ seq: 4, changelogs: { a: 9, b: 4 } }, (s) => (s === 'a' ? 9 : 0))).toBe('warm');
  expect(reason({ seq: 4, changelogs: { a: 9, b: 4 } }, (s) => (s === 'a' ? 10 : 0))).toBe(
    'changelog-gap',
  );
  const cold = planRestore(stores, c, { seq: 6, changelogs: { a: 10, b: 4 } }, start);
  expect(cold).toMatchObject({ wipe: true, from: { a: 0, b: 0 } });
  // The meta a streamed restore writes after each chunk (seq 0, the coverage reached): an
  // interrupted restore resumes warm from there.
  expect(planRestore(stores, c, { seq: 0, changelogs: { a: 6, b: 0 } }, start)).toEqual({
    wipe: false,
    from: { a: 6, b: 0 },
    reason: 'warm',
  });
});

const config: StoreConfig = {
  name: 'counts',
  entriesMax: 1_000,
  changelogCacheEntriesMax: 1_000,
  cacheEntriesMax: 10,
  valueSerde: numberSerde as never,
  keyOfId: (id) => stringSerde.deserialize(idToBytes(id)),
};
const idOf = (word: string): string => bytesToId(stringSerde.serialize(word));

test('a level-backed store keeps cacheEntriesMax values in memory and reopens intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rill-local-unit-'));
  dirs.push(dir);
  const db = await LevelLocalDb.open(dir);
  const prefix = storeDataPrefix('t#0', 'counts');
  const store = new LocalKeyValueStore(config, db, prefix, []);
  for (let i = 0; i < 100; i += 1) store.put(idOf(`w${i}`), `w${i}`, i);
  store.delete(idOf('w5'));
  const records = store.flushChangelog();
  expect(records).toHaveLength(100);
  await db.write(persistOps('t#0', [store], metaOf(['counts'], checkpoint(1, { counts: 100 }))));
  store.persisted();
  expect(store.size).toBe(99);
  // Every value reads back, from disk beyond the cache; a deleted key is gone.
  for (let i = 0; i < 100; i += 1) {
    expect(store.get(idOf(`w${i}`))?.value).toBe(i === 5 ? undefined : i);
    expect(store.cached).toBeLessThanOrEqual(10);
  }
  await db.close();

  const reopened = await LevelLocalDb.open(dir);
  expect(readMeta(reopened, 't#0')).toEqual({ seq: 1, changelogs: { counts: 100 } });
  const opened = await openTaskStores(
    reopened,
    't#0',
    ['counts'],
    checkpoint(2, { counts: 120 }),
    async () => 0,
  );
  expect(opened.plan).toMatchObject({ wipe: false, from: { counts: 100 } });
  const again = opened.create(config) as LocalKeyValueStore;
  expect(again.size).toBe(99);
  expect(again.get(idOf('w42'))).toEqual({ key: 'w42', value: 42 });
  expect([...again.entries()].map(([, e]) => e.value as number).sort((a, b) => a - b)).toHaveLength(
    99,
  );
  // A checkpoint behind the local data: wiped, restored cold.
  const behind = await openTaskStores(
    reopened,
    't#0',
    ['counts'],
    checkpoint(1, { counts: 90 }),
    async () => 0,
  );
  expect(behind.plan).toMatchObject({ wipe: true, reason: 'local-ahead' });
  expect((behind.create(config) as LocalKeyValueStore).size).toBe(0);
  expect(readMeta(reopened, 't#0')).toBeNull();
  await reopened.close();
});

test('the driver with local stores: a restart restores warm, a lost disk cold', () => {
  const text = serdes(stringSerde, stringSerde);
  const builder = new StreamsBuilder({ applicationId: 'ls', changelogCacheEntriesMax: 20 });
  builder
    .stream('lines', text)
    .groupBy((_k, word) => word, { keySerde: stringSerde })
    .count({ name: 'counts' });
  const driver = new TopologyTestDriver(builder.build(), { commit: 'manual', localState: true });
  for (let i = 0; i < 300; i += 1) driver.pipe('lines', text, null, `w${i % 100}`);
  driver.commit();
  const restored = (): number =>
    Object.values(driver.metrics()).reduce((sum, m) => sum + m.restored, 0);
  const countsTask = 'ls-counts-repartition#0';
  driver.crash();
  expect(driver.restorePlan(countsTask)?.reason).toBe('warm');
  expect(restored()).toBe(0);
  driver.crash({ loseLocalState: true });
  expect(driver.restorePlan(countsTask)?.reason).toBe('no-local-state');
  expect(restored()).toBeGreaterThanOrEqual(100);
  expect(driver.storeEntries('counts')).toHaveLength(100);
  expect(driver.storeEntries('counts').every((e) => e.value === 3)).toBe(true);
});

test('a state directory another instance holds is STREAMS_STATE_DIR_LOCKED, not a level error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rill-local-unit-'));
  dirs.push(dir);
  const first = await LevelLocalDb.open(dir);
  const second = await LevelLocalDb.open(dir).then(
    () => null,
    (error: unknown) => error,
  );
  expect(second).toBeInstanceOf(StreamsError);
  expect(second).toMatchObject({ code: 'STREAMS_STATE_DIR_LOCKED', retriable: false });
  await first.close();
  const reopened = await LevelLocalDb.open(dir);
  await reopened.close();
});
