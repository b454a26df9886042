// Helpers of the word-count integration tests: a seeded generator, the example as a child
// process, producing lines and reading back every count change per word.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import type { RillClient } from '../../../src/api/client/index.ts';
import { readToEnd } from '../../../scripts/nexmark-run.ts';

const root = resolve(import.meta.dirname, '../../..');

/** mulberry32: a small seeded generator, so a seed replays the same input and kill times. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface App {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
}

export function startWordCount(
  url: string,
  appId: string,
  input: string,
  output: string,
  instanceId: string,
  stateDir?: string,
): App {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'examples/word-count.ts',
      ...['--bootstrap', url, '--input', input, '--output', output],
      ...['--application-id', appId, '--instance-id', instanceId],
      ...(stateDir === undefined ? [] : ['--state-dir', stateDir]),
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return { child, output: () => text, exited };
}

export async function produceLines(
  client: RillClient,
  topic: string,
  lines: readonly string[],
): Promise<void> {
  const producer = client.producer({ lingerMs: 5 });
  await Promise.all(lines.map((line, i) => producer.send({ topic, key: `k${i}`, value: line })));
  await producer.flush();
  await producer.close();
}

/** Every record of `topic`: word → the count values written, in offset order. */
export async function readCounts(
  client: RillClient,
  topic: string,
): Promise<Map<string, number[]>> {
  const counts = new Map<string, number[]>();
  const decoder = new TextDecoder();
  await readToEnd(client, topic, (r) => {
    const word = decoder.decode(r.key ?? new Uint8Array());
    counts.set(word, [...(counts.get(word) ?? []), Number(decoder.decode(r.value ?? undefined))]);
  });
  return counts;
}
