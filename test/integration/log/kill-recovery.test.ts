// Goal: after kill -9 in the middle of concurrent appends, the reopened log still holds every
// record that was acknowledged, at the offset it was acknowledged with, and accepts appends.
// Method: a child process appends from 8 appenders and prints each acknowledgement; the test
// kills it after a varying number of acks, reopens the log here, reads everything back, and
// repeats on the same directory. (A process crash keeps the page cache: this exercises torn
// writes and recovery, not the disk's own durability.)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { PartitionLog, decodeBatches } from '../../../src/log/index.ts';
import { killLogConfig } from '../../support/log/kill-log-config.ts';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

const clock = { wallMs: () => Date.now(), schedule: () => () => undefined };
const config = killLogConfig({ kind: 'always' });

/** Runs the child until it has printed `acksWanted` acks (or a deadline), then kill -9. */
async function appendThenKill(
  dir: string,
  flush: string,
  acksWanted: number,
): Promise<Map<number, string>> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/support/log/append-child.ts', dir, flush],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  const acked = new Map<number, string>();
  let pending = '';
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`only ${acked.size} acks in time`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [word, offset, tag] = line.split(' ');
        if (word === 'acked') acked.set(Number(offset), tag ?? '');
      }
      if (acked.size >= acksWanted) {
        clearTimeout(deadline);
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited early: ${code}`));
    });
  });
  await new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null
      ? resolve(null)
      : child.on('exit', resolve),
  );
  return acked;
}

async function readValues(log: PartitionLog): Promise<Map<number, string>> {
  const values = new Map<number, string>();
  for (let offset = log.logStartOffset; offset < log.logEndOffset;) {
    const result = await log.read(offset, 64 * 1024, log.logEndOffset);
    const bytes = Buffer.concat(
      result.slices.map((slice) => {
        const buffer = Buffer.alloc(slice.length);
        readSync(slice.fd, buffer, 0, slice.length, slice.position);
        return buffer;
      }),
    );
    result.release();
    for (const batch of await decodeBatches(bytes)) {
      for (const record of batch.records)
        values.set(
          record.offset,
          Buffer.from(record.value ?? [])
            .toString()
            .split('-x')[0] ?? '',
        );
    }
    offset = result.nextOffset;
  }
  return values;
}

test.each(['always', 'never'])(
  'kill -9 during appends loses no acknowledged record (flush %s)',
  async (flush) => {
    const dir = mkdtempSync(join(tmpdir(), 'rill-kill-'));
    try {
      const everAcked = new Map<number, string>();
      for (const acksWanted of [50, 137, 90]) {
        for (const [offset, tag] of await appendThenKill(dir, flush, acksWanted))
          everAcked.set(offset, tag);
        const log = await PartitionLog.open(dir, config, { clock });
        log.checkInvariants();
        const stored = await readValues(log);
        for (const [offset, tag] of everAcked)
          expect(stored.get(offset), `offset ${offset}`).toBe(tag);
        expect([...stored.keys()]).toEqual([...Array(log.logEndOffset).keys()]);
        await log.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
