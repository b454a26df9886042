// What every client-side command shares: the --bootstrap and --json options, a RillClient
// built from them and closed afterwards, checks that a topic and partition exist before
// anything is sent, and the CLI's failure contract — one line on stderr and a non-zero exit
// code, never a stack trace for an expected failure.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { ClientError, RillClient } from '../api/client/index.ts';

export const defaultBootstrap = 'http://127.0.0.1:9091';
/** `rill cluster up` writes its nodes' URLs here (one line, comma-separated) in DIR. */
export const bootstrapFileName = 'bootstrap';
/** A topic just created may take a moment to reach the node asked: look once more after this. */
const unknownTopicRecheckMs = 150;

export interface ClientOptions {
  /** Absent: RILL_BOOTSTRAP, then ./data/bootstrap, then defaultBootstrap. */
  readonly bootstrap?: string;
  readonly json?: boolean;
}

/** Adds --bootstrap URL[,URL…] and --json to a command. */
export function withClientOptions(command: Command): Command {
  return command
    .option(
      '--bootstrap <urls>',
      'nodes to start from, comma-separated; default: $RILL_BOOTSTRAP, else the list ' +
        `\`rill cluster up\` wrote to ./data/${bootstrapFileName}, else ${defaultBootstrap}`,
    )
    .option('--json', 'print machine-readable JSON');
}

/**
 * Where the command starts: --bootstrap if given, else $RILL_BOOTSTRAP, else the node list
 * `rill cluster up` left in ./data (so every node is tried, not only the first), else 9091.
 */
export function resolveBootstrap(
  option: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): string {
  if (option !== undefined) return option;
  const fromEnv = env['RILL_BOOTSTRAP'];
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv;
  try {
    const fromFile = readFileSync(join(cwd, 'data', bootstrapFileName), 'utf8').trim();
    if (fromFile !== '') return fromFile;
  } catch (error) {
    // No cluster was started from here (ENOENT) or it is unreadable: fall back to the default.
    if ((error as NodeJS.ErrnoException).code === undefined) throw error;
  }
  return defaultBootstrap;
}

export function bootstrapUrls(option: string): string[] {
  const urls = option
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url.length > 0);
  for (const url of urls) {
    if (!/^https?:\/\/[^/]+\/?$/.test(url)) {
      throw new ClientError('INVALID_REQUEST', `--bootstrap: ${url} is not http://HOST:PORT`);
    }
  }
  if (urls.length === 0) throw new ClientError('INVALID_REQUEST', '--bootstrap is empty');
  return urls.map((url) => url.replace(/\/$/, ''));
}

/** Runs `work` with a client for --bootstrap; any failure becomes one stderr line, exit 1. */
export async function runWithClient(
  options: ClientOptions,
  work: (client: RillClient) => Promise<void>,
): Promise<void> {
  let client: RillClient | null = null;
  try {
    const bootstrap = resolveBootstrap(options.bootstrap, process.env, process.cwd());
    client = new RillClient({ bootstrapUrls: bootstrapUrls(bootstrap) });
    await work(client);
  } catch (error) {
    reportFailure(error);
  } finally {
    await client?.close();
  }
}

/**
 * The topic's partition count, after checking that it exists and, if given, that it has
 * `partition`: UNKNOWN_TOPIC_OR_PARTITION otherwise, within a fraction of a second, so a typo
 * fails at once instead of after the producer's or consumer's retries.
 */
export async function requireTopic(
  client: RillClient,
  topic: string,
  partition?: number,
): Promise<number> {
  let partitions: number;
  try {
    partitions = (await client.metadata.topic(topic, true)).partitions.length;
  } catch (error) {
    if (!(error instanceof ClientError) || error.code !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
    await new Promise((resolve) => setTimeout(resolve, unknownTopicRecheckMs));
    try {
      partitions = (await client.metadata.topic(topic, true)).partitions.length;
    } catch (again) {
      if (!(again instanceof ClientError) || again.code !== error.code) throw again;
      throw new ClientError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} does not exist`);
    }
  }
  if (partition !== undefined && partition >= partitions) {
    const range = partitions === 1 ? 'only partition 0' : `partitions 0-${partitions - 1}`;
    throw new ClientError(
      'UNKNOWN_TOPIC_OR_PARTITION',
      `topic ${topic} has no partition ${partition} (it has ${range})`,
    );
  }
  return partitions;
}

export function reportFailure(error: unknown): void {
  const text =
    error instanceof ClientError
      ? `${error.code}: ${error.message}`
      : error instanceof Error
        ? error.message
        : String(error);
  process.stderr.write(`rill: ${text.split('\n')[0] ?? ''}\n`);
  process.exitCode = 1;
}

/** A usage error found after parsing (options that do not go together): one line, exit 1. */
export function usageError(message: string): ClientError {
  return new ClientError('INVALID_REQUEST', message);
}

export function parseInteger(min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    }
    return parsed;
  };
}

/** A point in time as ms since the epoch: an integer, or an ISO 8601 date (2026-01-31T12:00Z). */
export function parseTimestamp(value: string): number {
  if (/^\d+$/.test(value)) return Number(value);
  const parsed = Date.parse(value);
  if (!/^\d{4}-\d\d-\d\d/.test(value) || Number.isNaN(parsed)) {
    throw new InvalidArgumentError(`expected ms since the epoch or an ISO date, got '${value}'`);
  }
  return parsed;
}

/** Writes to stdout, waiting when the pipe is full, so a slow reader bounds our memory. */
export async function writeOut(text: string): Promise<void> {
  if (process.stdout.write(text)) return;
  await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}
