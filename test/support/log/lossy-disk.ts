// A disk that loses what was not made durable when it crashes (issue 10): a FilePort over real
// files that also keeps, per file, the bytes as of its last fsync and the writes and
// truncations since, and per directory the names as of its last fsync. `crash()` kills the
// ports handed out so far and rewrites the directories to their durable state: unsynced
// writes vanish (or, torn, a random prefix of them survives, the last one cut anywhere),
// names created, renamed or unlinked since the directory's last fsync are undone.
// Not modelled: a directory created by mkdir is durable at once.
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  mkdirSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { SeededRandom } from '../../../src/common/index.ts';
import type { FilePort } from '../../../src/log/index.ts';

type Pending =
  | { readonly kind: 'write'; readonly position: number; readonly bytes: Buffer }
  | { readonly kind: 'truncate'; readonly length: number };

interface Inode {
  /** The content a crash keeps (before any torn prefix of `pending`). */
  durable: Buffer;
  pending: Pending[];
}

interface Dir {
  readonly current: Map<string, Inode>;
  durable: Map<string, Inode>;
}

type Open =
  { readonly kind: 'file'; readonly inode: Inode } | { readonly kind: 'dir'; readonly dir: string };

export interface CrashOptions {
  /** Keep a random prefix of each file's unsynced writes, the last cut at a random byte. */
  readonly torn?: boolean;
}

export interface LossyDiskStats {
  readonly crashes: number;
  /** Unsynced bytes written and dropped by crashes (torn prefixes kept are not counted). */
  readonly droppedBytes: number;
  /** Names undone by crashes: created or renamed without a directory fsync. */
  readonly namesUndone: number;
}

export class LossyDisk {
  readonly #random: SeededRandom;
  readonly #dirs = new Map<string, Dir>();
  readonly #open = new Map<number, Open>();
  /** Real fds of crashed incarnations: kept open so their numbers are never reused. */
  readonly #dead: number[] = [];
  #incarnation = 0;
  #crashes = 0;
  #droppedBytes = 0;
  #namesUndone = 0;

  constructor(seed: number) {
    this.#random = new SeededRandom(seed);
  }

  get stats(): LossyDiskStats {
    return {
      crashes: this.#crashes,
      droppedBytes: this.#droppedBytes,
      namesUndone: this.#namesUndone,
    };
  }

  /** Bytes written but not yet fsynced, over every file: what a crash now would drop. */
  get unsyncedBytes(): number {
    let bytes = 0;
    for (const dir of this.#dirs.values()) {
      for (const inode of dir.current.values()) bytes += pendingBytes(inode);
    }
    return bytes;
  }

  /** A port for the current incarnation; after `crash()` every call on it throws EIO. */
  port(): FilePort {
    const incarnation = this.#incarnation;
    const alive = (): void => {
      if (incarnation !== this.#incarnation)
        throw ioError('EIO', 'the disk crashed under this port');
    };
    return {
      openSync: (path, flags) => (alive(), this.#openFile(resolve(path), flags)),
      closeSync: (fd) => {
        alive();
        this.#entry(fd);
        this.#open.delete(fd);
        closeSync(fd);
      },
      readSync: (fd, buffer, offset, length, position) => {
        alive();
        this.#entry(fd);
        return readSync(fd, buffer, offset, length, position);
      },
      writeSync: (fd, buffer, offset, length, position) => {
        alive();
        return this.#write(fd, buffer, offset, length, position);
      },
      write: async (fd, buffer, offset, length, position) => {
        await Promise.resolve();
        alive();
        return { bytesWritten: this.#write(fd, buffer, offset, length, position) };
      },
      fdatasync: async (fd) => {
        await Promise.resolve();
        alive();
        this.#sync(fd);
      },
      fsync: async (fd) => {
        await Promise.resolve();
        alive();
        this.#sync(fd);
      },
      fsyncSync: (fd) => (alive(), this.#sync(fd)),
      fstatSync: (fd) => (alive(), this.#entry(fd), fstatSync(fd)),
      ftruncateSync: (fd, length) => {
        alive();
        const inode = this.#inodeOf(fd);
        ftruncateSync(fd, length);
        inode.pending.push({ kind: 'truncate', length });
      },
      renameSync: (from, to) => (alive(), this.#rename(resolve(from), resolve(to))),
      unlinkSync: (path) => (alive(), this.#unlink(resolve(path))),
      readdirSync: (dir) => (alive(), this.#dir(resolve(dir)), readdirSync(dir)),
      mkdirSync: (dir, options) => {
        alive();
        mkdirSync(dir, options);
      },
      readFileSync: (path, encoding) => (alive(), readFileSync(path, encoding)),
    };
  }

  /**
   * The power fails: every port handed out so far dies, and each directory the disk has seen
   * is rewritten to what was durable (see the top of the file).
   */
  crash(options: CrashOptions = {}): void {
    this.#incarnation += 1;
    this.#crashes += 1;
    this.#dead.push(...this.#open.keys());
    this.#open.clear();
    for (const [path, dir] of this.#dirs) this.#restore(path, dir, options.torn === true);
  }

  /** Closes the file descriptors crashed ports left open. */
  dispose(): void {
    for (const fd of this.#dead.splice(0)) closeSync(fd);
    for (const fd of [...this.#open.keys()]) closeSync(fd);
    this.#open.clear();
  }

  #restore(path: string, dir: Dir, torn: boolean): void {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      if (!dir.durable.has(name) && statSync(full).isFile()) {
        unlinkSync(full);
        this.#namesUndone += 1;
      }
    }
    for (const name of dir.current.keys()) {
      if (dir.durable.get(name) !== dir.current.get(name)) this.#namesUndone += 1;
    }
    const survivors = new Map<string, Inode>();
    const seen = new Map<Inode, Inode>();
    for (const [name, inode] of dir.durable) {
      let survivor = seen.get(inode);
      if (survivor === undefined) {
        const content = this.#afterCrash(inode, torn);
        survivor = { durable: content, pending: [] };
        seen.set(inode, survivor);
      }
      // A fresh file under the name: descriptors of the crashed incarnation keep the old one.
      const tmp = join(path, `.${name}.lossy-disk`);
      writeFileSync(tmp, survivor.durable);
      renameSync(tmp, join(path, name));
      survivors.set(name, survivor);
    }
    dir.current.clear();
    for (const [name, inode] of survivors) dir.current.set(name, inode);
    dir.durable = new Map(survivors);
  }

  #afterCrash(inode: Inode, torn: boolean): Buffer {
    const total = pendingBytes(inode);
    let content = inode.durable;
    if (!torn || inode.pending.length === 0) {
      this.#droppedBytes += total;
      return content;
    }
    const keep = this.#random.int(inode.pending.length + 1);
    let kept = 0;
    for (let i = 0; i < keep && i < inode.pending.length; i += 1) {
      const op = inode.pending[i];
      if (op === undefined) break;
      const cut = i === keep - 1 && op.kind === 'write';
      const bytes =
        cut && op.kind === 'write'
          ? op.bytes.subarray(0, this.#random.int(op.bytes.length + 1))
          : null;
      content = apply(content, bytes === null ? op : ({ ...op, bytes } as Pending));
      kept += op.kind === 'write' ? (bytes ?? op.bytes).length : 0;
    }
    this.#droppedBytes += total - kept;
    return content;
  }

  #dir(path: string): Dir {
    let dir = this.#dirs.get(path);
    if (dir !== undefined) return dir;
    const current = new Map<string, Inode>();
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      if (statSync(full).isFile()) current.set(name, { durable: readFileSync(full), pending: [] });
    }
    dir = { current, durable: new Map(current) };
    this.#dirs.set(path, dir);
    return dir;
  }

  #openFile(path: string, flags: string | number): number {
    const isDir = statIfExists(path)?.isDirectory() === true;
    if (isDir) {
      this.#dir(path);
      const fd = openSync(path, 'r');
      this.#open.set(fd, { kind: 'dir', dir: path });
      return fd;
    }
    const dir = this.#dir(dirname(path));
    const name = basename(path);
    const fd = openSync(path, flags);
    const { create, truncate } = flagsOf(flags);
    let inode = dir.current.get(name);
    if (inode === undefined) {
      if (!create) {
        closeSync(fd);
        throw ioError('ENOENT', `lossy disk does not know ${path}`);
      }
      inode = { durable: Buffer.alloc(0), pending: [] };
      dir.current.set(name, inode);
    } else if (truncate) {
      inode.pending.push({ kind: 'truncate', length: 0 });
    }
    this.#open.set(fd, { kind: 'file', inode });
    return fd;
  }

  #entry(fd: number): Open {
    const entry = this.#open.get(fd);
    if (entry === undefined) throw ioError('EBADF', `fd ${fd} is not open on the lossy disk`);
    return entry;
  }

  #inodeOf(fd: number): Inode {
    const entry = this.#entry(fd);
    if (entry.kind !== 'file') throw ioError('EISDIR', `fd ${fd} is a directory`);
    return entry.inode;
  }

  #write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
    const inode = this.#inodeOf(fd);
    const written = writeSync(fd, buffer, offset, length, position);
    const bytes = Buffer.from(buffer.subarray(offset, offset + written));
    inode.pending.push({ kind: 'write', position, bytes });
    return written;
  }

  #sync(fd: number): void {
    const entry = this.#entry(fd);
    if (entry.kind === 'dir') {
      const dir = this.#dir(entry.dir);
      dir.durable = new Map(dir.current);
      return;
    }
    const { inode } = entry;
    for (const op of inode.pending) inode.durable = apply(inode.durable, op);
    inode.pending = [];
  }

  #rename(from: string, to: string): void {
    const source = this.#dir(dirname(from));
    const target = this.#dir(dirname(to));
    renameSync(from, to);
    const inode = source.current.get(basename(from));
    if (inode === undefined) throw ioError('ENOENT', `lossy disk does not know ${from}`);
    source.current.delete(basename(from));
    target.current.set(basename(to), inode);
  }

  #unlink(path: string): void {
    const dir = this.#dir(dirname(path));
    unlinkSync(path);
    dir.current.delete(basename(path));
  }
}

function apply(content: Buffer, op: Pending): Buffer {
  if (op.kind === 'truncate') {
    if (op.length <= content.length) return Buffer.from(content.subarray(0, op.length));
    return Buffer.concat([content, Buffer.alloc(op.length - content.length)]);
  }
  const end = op.position + op.bytes.length;
  const next =
    end > content.length ? Buffer.concat([content, Buffer.alloc(end - content.length)]) : content;
  op.bytes.copy(next, op.position);
  return next;
}

function pendingBytes(inode: Inode): number {
  let bytes = 0;
  for (const op of inode.pending) if (op.kind === 'write') bytes += op.bytes.length;
  return bytes;
}

function flagsOf(flags: string | number): { create: boolean; truncate: boolean } {
  if (typeof flags === 'number') {
    return {
      create: (flags & constants.O_CREAT) !== 0,
      truncate: (flags & constants.O_TRUNC) !== 0,
    };
  }
  const create = flags.startsWith('w') || flags.startsWith('a');
  return { create, truncate: flags.startsWith('w') };
}

function statIfExists(path: string): ReturnType<typeof statSync> | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function ioError(code: string, message: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: ${message}`);
  error.code = code;
  return error;
}
