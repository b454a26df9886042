// What every client-side command shares: the --bootstrap and --json options, a RillClient
// built from them and closed afterwards, and the CLI's failure contract — one line on stderr
// and a non-zero exit code, never a stack trace for an expected failure.
import { InvalidArgumentError, type Command } from 'commander';
import { ClientError, RillClient } from '../api/client/index.ts';

export const defaultBootstrap = 'http://127.0.0.1:9091';

export interface ClientOptions {
  readonly bootstrap: string;
  readonly json?: boolean;
}

/** Adds --bootstrap URL[,URL…] and --json to a command. */
export function withClientOptions(command: Command): Command {
  return command
    .option('--bootstrap <urls>', 'brokers to start from, comma-separated', defaultBootstrap)
    .option('--json', 'print machine-readable JSON');
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
    client = new RillClient({ bootstrapUrls: bootstrapUrls(options.bootstrap) });
    await work(client);
  } catch (error) {
    reportFailure(error);
  } finally {
    await client?.close();
  }
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

export function parseInteger(min: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < min) {
      throw new InvalidArgumentError(`expected an integer >= ${min}`);
    }
    return parsed;
  };
}

/** Writes to stdout, waiting when the pipe is full, so a slow reader bounds our memory. */
export async function writeOut(text: string): Promise<void> {
  if (process.stdout.write(text)) return;
  await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}
