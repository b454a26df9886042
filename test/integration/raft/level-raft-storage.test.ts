// Goal: LevelRaftStorage keeps exactly what each synced save wrote, across reopen and kill -9.
// Method: real LevelDB in a tmpdir; write, reopen, compare; a child process killed mid-stream.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { LevelRaftStorage, type Entry, type Snapshot } from '../../../src/raft/index.ts';

const directories: string[] = [];
function freshDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'rill-raft-storage-'));
  directories.push(directory);
  return directory;
}
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const directory of directories.splice(0)) {
    rmSync(directory, { recursive: true, force: true });
  }
});

function entry(index: number, term: number, text = `e${index}`): Entry {
  return { index, term, kind: 'command', data: new TextEncoder().encode(text) };
}
function range(from: number, to: number, term: number): Entry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));
}
async function reopen(directory: string, cachedEntryCountMax = 1000): Promise<LevelRaftStorage> {
  const storage = new LevelRaftStorage({ directory, cachedEntryCountMax });
  await storage.open();
  return storage;
}
const membership = { voters: [1, 2, 3], observers: [] };

describe('LevelRaftStorage', () => {
  test('an empty store starts at index 1 with term 0 and no vote', async () => {
    const storage = await reopen(freshDirectory());
    expect(storage.firstIndex()).toBe(1);
    expect(storage.lastIndex()).toBe(0);
    expect(storage.hardState()).toEqual({ term: 0, vote: null, commit: 0 });
    expect(storage.snapshot()).toBeNull();
    await storage.close();
  });

  test('entries and hard state survive a reopen', async () => {
    const directory = freshDirectory();
    const storage = await reopen(directory);
    await storage.save({
      hardState: { term: 2, vote: 3, commit: 4 },
      snapshot: null,
      entries: range(1, 5, 1),
    });
    await storage.save({ hardState: null, snapshot: null, entries: range(6, 8, 2) });
    await storage.close();
    const again = await reopen(directory);
    expect(again.hardState()).toEqual({ term: 2, vote: 3, commit: 4 });
    expect(again.lastIndex()).toBe(8);
    expect(await again.entries(1, 9)).toEqual([...range(1, 5, 1), ...range(6, 8, 2)]);
    expect([again.term(5), again.term(6), again.term(9)]).toEqual([1, 2, null]);
    await again.close();
  });

  test('a commit-only change is written with the next batch, or at close', async () => {
    const directory = freshDirectory();
    const storage = await reopen(directory);
    await storage.save({
      hardState: { term: 1, vote: 1, commit: 0 },
      snapshot: null,
      entries: range(1, 5, 1),
    });
    await storage.save({ hardState: { term: 1, vote: 1, commit: 3 }, snapshot: null, entries: [] });
    expect(storage.hardState().commit).toBe(3);
    await storage.save({ hardState: null, snapshot: null, entries: range(6, 6, 1) });
    await storage.save({ hardState: { term: 1, vote: 1, commit: 5 }, snapshot: null, entries: [] });
    await storage.close();
    const again = await reopen(directory);
    expect(again.hardState()).toEqual({ term: 1, vote: 1, commit: 5 });
    await again.close();
  });

  test('an append into the log truncates the conflicting suffix, durably', async () => {
    const directory = freshDirectory();
    const storage = await reopen(directory);
    await storage.save({ hardState: null, snapshot: null, entries: range(1, 10, 1) });
    await storage.save({
      hardState: null,
      snapshot: null,
      entries: [entry(6, 3, 'new6'), entry(7, 3, 'new7')],
    });
    expect(storage.lastIndex()).toBe(7);
    expect(storage.term(5)).toBe(1);
    expect(storage.term(6)).toBe(3);
    await storage.close();
    const again = await reopen(directory);
    expect(again.lastIndex()).toBe(7);
    expect(await again.entries(5, 8)).toEqual([
      entry(5, 1),
      entry(6, 3, 'new6'),
      entry(7, 3, 'new7'),
    ]);
    await again.close();
  });

  test('entries older than the cached tail are read back from disk', async () => {
    const directory = freshDirectory();
    const storage = await reopen(directory, 4);
    for (let index = 1; index <= 40; index += 5) {
      await storage.save({
        hardState: null,
        snapshot: null,
        entries: range(index, index + 4, 1 + (index >> 4)),
      });
    }
    const expected = [
      ...range(1, 5, 1),
      ...range(6, 10, 1),
      ...range(11, 15, 1),
      ...range(16, 20, 2),
    ];
    expect(await storage.entries(1, 21)).toEqual(expected);
    expect([storage.term(33), storage.term(36)]).toEqual([2, 3]);
    await storage.save({ hardState: null, snapshot: null, entries: [entry(3, 9)] });
    expect(storage.lastIndex()).toBe(3);
    expect(await storage.entries(1, 4)).toEqual([entry(1, 1), entry(2, 1), entry(3, 9)]);
    await storage.close();
  });

  test('a matching snapshot compacts the prefix and keeps the suffix', async () => {
    const directory = freshDirectory();
    const storage = await reopen(directory);
    await storage.save({
      hardState: null,
      snapshot: null,
      entries: [...range(1, 5, 1), ...range(6, 12, 2)],
    });
    const snapshot: Snapshot = {
      meta: { index: 8, term: 2, membership },
      data: Uint8Array.of(1, 2, 3),
    };
    await storage.save({ hardState: { term: 2, vote: 1, commit: 8 }, snapshot, entries: [] });
    expect([storage.firstIndex(), storage.lastIndex(), storage.term(8), storage.term(7)]).toEqual([
      9,
      12,
      2,
      null,
    ]);
    await storage.close();
    const again = await reopen(directory);
    expect(again.snapshot()).toEqual(snapshot);
    expect([again.firstIndex(), again.lastIndex(), again.term(8), again.term(9)]).toEqual([
      9, 12, 2, 2,
    ]);
    expect(await again.entries(9, 13)).toEqual(range(9, 12, 2));
    await again.close();
  });

  test('a snapshot that disagrees with the log replaces the whole log (Raft §7)', async () => {
    const directory = freshDirectory();
    const storage = await reopen(directory);
    await storage.save({ hardState: null, snapshot: null, entries: range(1, 10, 1) });
    const snapshot: Snapshot = { meta: { index: 20, term: 4, membership }, data: Uint8Array.of(9) };
    await storage.save({
      hardState: { term: 4, vote: null, commit: 20 },
      snapshot,
      entries: [entry(21, 4)],
    });
    await storage.close();
    const again = await reopen(directory);
    expect([
      again.firstIndex(),
      again.lastIndex(),
      again.term(20),
      again.term(21),
      again.term(5),
    ]).toEqual([21, 21, 4, 4, null]);
    expect(await again.entries(21, 22)).toEqual([entry(21, 4)]);
    await again.close();
  });

  test('kill -9 during synced saves keeps every acknowledged batch, whole', async () => {
    const directory = freshDirectory();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/support/raft/storage-writer.ts', directory],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    children.push(child);
    let acknowledged = 0;
    let pending = '';
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error(`writer acked only ${acknowledged}`)),
        30_000,
      );
      child.on('error', reject);
      child.on('exit', () => reject(new Error('writer exited on its own')));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) acknowledged = Number(line);
        if (acknowledged >= 300 && child.signalCode === null && !child.killed) {
          // Chunks still in the pipe arrive after this: they must not touch the exit listener.
          clearTimeout(deadline);
          child.removeAllListeners('exit');
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise((resolve) => child.once('exit', resolve));
    }
    const storage = await reopen(directory);
    expect(storage.lastIndex()).toBeGreaterThanOrEqual(acknowledged);
    // Each batch wrote commit = its last index, so a torn batch would break this equality.
    expect(storage.hardState().commit).toBe(storage.lastIndex());
    const all = await storage.entries(1, storage.lastIndex() + 1);
    expect(all.map((e) => e.index)).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    await storage.close();
  });
});
