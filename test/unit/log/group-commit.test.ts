// Goal: group commit resolves each request only after a sync that began after it, and groups
// requests that arrive while a sync runs into one next sync. Method: a hand-released fake sync.
import { describe, expect, test } from 'vitest';
import { GroupCommit } from '../../../src/log/group-commit.ts';

function controlledSync() {
  const pending: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  const sync = () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject }));
  return { sync, pending };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  test('requests during a running sync share the next sync', async () => {
    const { sync, pending } = controlledSync();
    const group = new GroupCommit(sync);
    const done: string[] = [];
    void group.request().then(() => done.push('a'));
    await flush();
    expect(pending).toHaveLength(1);
    void group.request().then(() => done.push('b'));
    void group.request().then(() => done.push('c'));
    await flush();
    expect(pending).toHaveLength(1); // b and c wait: the running sync may predate their writes.
    pending[0]?.resolve();
    await flush();
    expect(done).toEqual(['a']);
    expect(pending).toHaveLength(2);
    pending[1]?.resolve();
    await flush();
    expect(done).toEqual(['a', 'b', 'c']);
    expect(group.syncCount).toBe(2);
    expect(group.isIdle).toBe(true);
  });

  test('a failed sync rejects its whole group and the next group still runs', async () => {
    const { sync, pending } = controlledSync();
    const group = new GroupCommit(sync);
    const first = group.request();
    await flush();
    const second = group.request();
    pending[0]?.reject(new Error('EIO'));
    await expect(first).rejects.toThrow('EIO');
    await flush();
    pending[1]?.resolve();
    await expect(second).resolves.toBeUndefined();
  });
});
