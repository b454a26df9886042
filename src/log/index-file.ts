// An index file of one segment while it is appended to. New entries wait in a small buffer
// (at most PENDING_ENTRIES_MAX) and go to the file in one positional write when it fills or the
// segment seals, syncs or closes: one syscall per many batches instead of one per batch. Entries
// on file and pending ones are read alike by number. Losing pending entries in a crash is safe:
// the segment that held them is re-validated, and its indexes rebuilt, on the next open.
import { assert } from '../common/index.ts';
import { nodeFilePort, type FilePort } from './file-port.ts';

/** Entries buffered per index file: 64 × 12 bytes at most, per segment being written. */
export const PENDING_ENTRIES_MAX = 64;

export class IndexFile<Entry> {
  readonly #entryBytes: number;
  readonly #encode: (entry: Entry) => Buffer;
  readonly #decode: (bytes: Buffer) => Entry;
  readonly #fs: FilePort;
  /** Entries [0, flushed) are in the file; the rest are pending, in order. */
  #flushed = 0;
  #pending: Entry[] = [];
  #last: Entry | null = null;

  constructor(
    entryBytes: number,
    encode: (entry: Entry) => Buffer,
    decode: (bytes: Buffer) => Entry,
    fs: FilePort = nodeFilePort,
  ) {
    this.#fs = fs;
    this.#entryBytes = entryBytes;
    this.#encode = encode;
    this.#decode = decode;
  }

  get count(): number {
    return this.#flushed + this.#pending.length;
  }

  get last(): Entry | null {
    return this.#last;
  }

  /** Forgets every entry; the caller has emptied the file. */
  reset(): void {
    this.#flushed = 0;
    this.#pending = [];
    this.#last = null;
  }

  /** Takes `count` entries already in the file, the last of which is `last`. */
  adopt(count: number, last: Entry | null): void {
    assert(this.#pending.length === 0, 'adopt only an index with nothing pending');
    this.#flushed = count;
    this.#last = last;
  }

  append(fd: number, entry: Entry): void {
    this.#pending.push(entry);
    this.#last = entry;
    if (this.#pending.length >= PENDING_ENTRIES_MAX) this.flush(fd);
  }

  flush(fd: number): void {
    if (this.#pending.length === 0) return;
    const bytes = Buffer.concat(this.#pending.map(this.#encode));
    const written = this.#fs.writeSync(
      fd,
      bytes,
      0,
      bytes.length,
      this.#flushed * this.#entryBytes,
    );
    assert(written === bytes.length, `index write of ${bytes.length} bytes wrote ${written}`);
    this.#flushed += this.#pending.length;
    this.#pending = [];
  }

  /** Reads entry i (< count) from the file or the pending buffer. Valid until the next append. */
  reader(fd: number): (i: number) => Entry {
    const scratch = Buffer.allocUnsafe(this.#entryBytes);
    return (i) => {
      if (i >= this.#flushed) {
        const entry = this.#pending[i - this.#flushed];
        assert(entry !== undefined, `index entry ${i} of ${this.count}`);
        return entry;
      }
      this.#fs.readSync(fd, scratch, 0, this.#entryBytes, i * this.#entryBytes);
      return this.#decode(scratch);
    };
  }
}
