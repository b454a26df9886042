// A child process for the kill -9 test of LevelRaftStorage: it appends batches of entries,
// each with a hard state whose commit equals the batch's last index, and prints every index
// whose save resolved. The parent kills it mid-stream and checks what survived.
import { LevelRaftStorage } from '../../../src/raft/index.ts';

const directory = process.argv[2];
if (directory === undefined) throw new Error('usage: storage-writer.ts DIRECTORY');
const storage = new LevelRaftStorage({ directory, cachedEntryCountMax: 64 });
const state = await storage.open();
let next = state.lastIndex + 1;
const data = new Uint8Array(1024).fill(7);
for (;;) {
  const entries = Array.from({ length: 1 + (next % 7) }, (_, i) => ({
    term: 1 + Math.floor((next + i) / 50),
    index: next + i,
    kind: 'command' as const,
    data,
  }));
  const last = next + entries.length - 1;
  await storage.save({
    hardState: { term: entries.at(-1)?.term ?? 1, vote: 1, commit: last },
    snapshot: null,
    entries,
  });
  process.stdout.write(`${last}\n`);
  next = last + 1;
}
