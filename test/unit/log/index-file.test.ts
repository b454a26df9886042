// Goal: an index file reads back every entry, whether it is still buffered or already written,
// and writes a full buffer in one go. Method: a real temp file, counted against its size.
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { IndexFile, PENDING_ENTRIES_MAX } from '../../../src/log/index-file.ts';
import {
  OFFSET_INDEX_ENTRY_BYTES,
  decodeOffsetIndexEntry,
  encodeOffsetIndexEntry,
} from '../../../src/log/offset-index.ts';

test('entries read back from the buffer and the file alike; a full buffer is written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rill-index-'));
  const fd = openSync(join(dir, 'x.index'), 'w+');
  try {
    const index = new IndexFile(
      OFFSET_INDEX_ENTRY_BYTES,
      encodeOffsetIndexEntry,
      decodeOffsetIndexEntry,
    );
    const total = PENDING_ENTRIES_MAX + 5;
    for (let i = 0; i < total; i += 1)
      index.append(fd, { relativeOffset: i + 1, position: i * 100 });
    expect(fstatSync(fd).size).toBe(PENDING_ENTRIES_MAX * OFFSET_INDEX_ENTRY_BYTES);
    const entryAt = index.reader(fd);
    for (let i = 0; i < total; i += 1)
      expect(entryAt(i)).toEqual({ relativeOffset: i + 1, position: i * 100 });
    expect(index.count).toBe(total);
    index.flush(fd);
    expect(fstatSync(fd).size).toBe(total * OFFSET_INDEX_ENTRY_BYTES);
    const reopened = new IndexFile(
      OFFSET_INDEX_ENTRY_BYTES,
      encodeOffsetIndexEntry,
      decodeOffsetIndexEntry,
    );
    reopened.adopt(total, index.last);
    expect(reopened.reader(fd)(total - 1)).toEqual(index.last);
    reopened.reset();
    expect(reopened.count).toBe(0);
    expect(reopened.last).toBe(null);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
