// A `rill consume TOPIC --group G --json` child process for cluster tests: its stdout lines are
// parsed into records as they come, so a test can wait for records, stop it with SIGINT (it
// commits and leaves) or kill -9 it (it does neither).
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const rillBin = resolve(import.meta.dirname, '../../../bin/rill.js');
const stderrCharsMax = 64 * 1024;

export interface PrintedRecord {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

export class ConsumeMember {
  readonly records: PrintedRecord[] = [];
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcess;
  #stderr = '';

  constructor(
    bootstrap: string,
    topic: string,
    group: string,
    extraArgs: readonly string[] = ['--from-beginning'],
  ) {
    const args = [rillBin, 'consume', topic, '--group', group, '--json', '--bootstrap', bootstrap];
    this.#child = spawn(process.execPath, [...args, ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = createInterface({ input: this.#child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      const parsed = JSON.parse(line) as PrintedRecord;
      this.records.push({
        partition: parsed.partition,
        offset: parsed.offset,
        value: parsed.value,
      });
    });
    this.#child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-stderrCharsMax);
    });
    this.exited = new Promise((done) => this.#child.once('exit', (code) => done(code)));
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** The partitions it printed records of. */
  partitions(): Set<number> {
    return new Set(this.records.map((r) => r.partition));
  }

  /** Ctrl-C: commit, leave, exit 0. */
  async interrupt(): Promise<number | null> {
    this.#child.kill('SIGINT');
    return this.exited;
  }

  /** kill -9: no commit, no leave. */
  async kill(): Promise<void> {
    this.#child.kill('SIGKILL');
    await this.exited;
  }
}

/** How often each `partition:offset` was printed across `members`. */
export function deliveries(members: readonly ConsumeMember[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const member of members) {
    for (const r of member.records) {
      const key = `${r.partition}:${r.offset}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}
