// `rill produce TOPIC`: one record per stdin line (optionally `KEY<sep>VALUE`), sent through the
// batching producer once the topic (and --partition) are known to exist; flushes at end of
// input and prints a summary to stderr (JSON to stdout with --json), and with --verbose each
// retry and leader change. Exits non-zero if any record was not acknowledged.
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import type { Acks, ProducerEvent } from '../api/client/index.ts';
import type { Compression } from '../log/index.ts';
import {
  parseInteger,
  reportFailure,
  requireTopic,
  runWithClient,
  withClientOptions,
  type ClientOptions,
} from './cluster-client.ts';
import { SendWindow } from './send-window.ts';

const compressions: readonly Compression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
/** Lines read ahead of their acknowledgements: bounds memory on a fast stdin. */
const unacknowledgedLinesMax = 50_000;

interface ProduceOptions extends ClientOptions {
  readonly keySeparator?: string;
  readonly acks: Acks;
  readonly compression: Compression;
  readonly partition?: number;
  readonly lingerMs: number;
  readonly verbose?: boolean;
}

export function parseAcks(value: string): Acks {
  if (value === 'all' || value === '-1') return 'all';
  if (value === '1') return 1;
  if (value === '0') return 0;
  throw new InvalidArgumentError('acks must be all, 1 or 0');
}

export function parseCompression(value: string): Compression {
  const found = compressions.find((c) => c === value);
  if (found === undefined)
    throw new InvalidArgumentError(`compression must be ${compressions.join('|')}`);
  return found;
}

export function produceCommand(): Command {
  return withClientOptions(
    new Command('produce')
      .description('send one record per stdin line')
      .argument('<topic>')
      .option('--key-separator <s>', 'split each line into KEY<s>VALUE at the first <s>')
      .option('--acks <acks>', 'all | 1 | 0', parseAcks, 'all' as Acks)
      .option(
        '--compression <codec>',
        compressions.join(' | '),
        parseCompression,
        'none' as Compression,
      )
      .option('--partition <p>', 'send every record to this partition', parseInteger(0))
      .option('--linger-ms <ms>', 'how long a batch waits for more records', parseInteger(0), 5)
      .option('--verbose', 'print each retry and leader change to stderr'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        "  printf 'a\\nb\\n' | rill produce demo\n" +
        "  printf 'user-1:hello\\n' | rill produce demo --key-separator : --acks all\n" +
        '  seq 1000 | rill produce demo --partition 2 --verbose',
    )
    .action((topic: string, options: ProduceOptions) =>
      runWithClient(options, async (client) => {
        await requireTopic(client, topic, options.partition);
        const producer = client.producer({
          acks: options.acks,
          compression: options.compression,
          lingerMs: options.lingerMs,
          // A person is waiting: an unknown topic fails within seconds, not after a minute.
          maxBlockMs: 5_000,
          ...(options.verbose === true ? { onEvent: printEvent } : {}),
        });
        const partitions = new Set<number>();
        const window = new SendWindow(unacknowledgedLinesMax, (metadata) =>
          partitions.add(metadata.partition),
        );
        const startMs = performance.now();
        const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
        const explicit = options.partition === undefined ? {} : { partition: options.partition };
        for await (const line of lines) {
          const { key, value } = splitLine(line, options.keySeparator);
          if (window.isFull) await window.whenNotFull();
          window.send(producer, { topic, key, value, ...explicit });
        }
        await producer.flush();
        const elapsedMs = performance.now() - startMs;
        const summary = {
          topic,
          records: window.acknowledged,
          failed: window.failed,
          partitions: [...partitions].sort((a, b) => a - b),
          elapsedMs: Math.round(elapsedMs),
        };
        if (options.json === true) console.log(JSON.stringify(summary));
        process.stderr.write(
          `produced ${summary.records} record(s) to ${topic} ` +
            `(partitions ${summary.partitions.join(',') || '-'}) in ${summary.elapsedMs} ms\n`,
        );
        if (window.firstError !== null) {
          reportFailure(window.firstError);
          process.stderr.write(`rill: ${window.failed} record(s) were not acknowledged\n`);
        }
      }),
    );
}

function printEvent(event: ProducerEvent): void {
  const where = `${event.topic}/${event.partition}`;
  switch (event.type) {
    case 'retry':
      process.stderr.write(
        `rill: retry ${event.attempt} of ${event.records} record(s) to ${where} in ` +
          `${Math.round(event.backoffMs)} ms after ${event.code}: ${event.message}\n`,
      );
      return;
    case 'leader-change':
      process.stderr.write(
        `rill: ${where} leader changed: node ${event.fromLeaderId} -> node ` +
          `${event.toLeaderId} (leader epoch ${event.leaderEpoch})\n`,
      );
      return;
    default: {
      const never: never = event; // A new event type must be printed here.
      return never;
    }
  }
}

function splitLine(
  line: string,
  separator: string | undefined,
): { key: string | null; value: string } {
  if (separator === undefined || separator === '') return { key: null, value: line };
  const at = line.indexOf(separator);
  if (at < 0) return { key: null, value: line };
  return { key: line.slice(0, at), value: line.slice(at + separator.length) };
}
