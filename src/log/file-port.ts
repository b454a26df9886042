// The file operations a partition log performs, as a port: the log reaches the disk only
// through it, so a test can put a disk under it that loses unsynced writes at a crash
// (test/support/log/lossy-disk.ts). File descriptors stay real numbers because readers get
// file slices that the HTTP layer reads by fd. The default is node:fs itself, unwrapped.
import {
  closeSync,
  fdatasync,
  fstatSync,
  fsync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  write,
  writeSync,
} from 'node:fs';
import { promisify } from 'node:util';

export interface FilePort {
  /** `flags` as node:fs takes them ('w', 'r', or O_* bits); directories open with 'r'. */
  readonly openSync: (path: string, flags: string | number) => number;
  readonly closeSync: (fd: number) => void;
  readonly readSync: (
    fd: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ) => number;
  readonly writeSync: (
    fd: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ) => number;
  readonly write: (
    fd: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ) => Promise<{ bytesWritten: number }>;
  /** Data and size of a file durable. */
  readonly fdatasync: (fd: number) => Promise<void>;
  readonly fsync: (fd: number) => Promise<void>;
  /** Of a directory: the names created, renamed and unlinked in it become durable. */
  readonly fsyncSync: (fd: number) => void;
  readonly fstatSync: (fd: number) => { readonly size: number };
  readonly ftruncateSync: (fd: number, length: number) => void;
  readonly renameSync: (from: string, to: string) => void;
  readonly unlinkSync: (path: string) => void;
  readonly readdirSync: (dir: string) => string[];
  readonly mkdirSync: (dir: string, options: { recursive: true }) => void;
  readonly readFileSync: (path: string, encoding: 'utf8') => string;
}

/** node:fs as it is: what every log uses unless a test injects another port. */
export const nodeFilePort: FilePort = {
  openSync,
  closeSync,
  readSync,
  writeSync,
  write: promisify(write),
  fdatasync: promisify(fdatasync),
  fsync: promisify(fsync),
  fsyncSync,
  fstatSync,
  ftruncateSync,
  renameSync,
  unlinkSync,
  readdirSync: (dir) => readdirSync(dir),
  mkdirSync: (dir, options) => {
    mkdirSync(dir, options);
  },
  readFileSync,
};
