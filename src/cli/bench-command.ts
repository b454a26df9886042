// `rill bench produce|consume`: the client benchmarks of ./client-bench.ts against a running
// cluster, with a progress line a second on stderr and the result on stdout (JSON with --json).
import { Command } from 'commander';
import type { Acks } from '../api/client/index.ts';
import type { Compression } from '../log/index.ts';
import { benchConsume, benchLatency, benchProduce } from './client-bench.ts';
import {
  parseInteger,
  runWithClient,
  withClientOptions,
  type ClientOptions,
} from './cluster-client.ts';
import { parseAcks, parseCompression } from './produce-command.ts';

interface BenchProduceOptions extends ClientOptions {
  readonly records: number;
  readonly recordBytes: number;
  readonly acks: Acks;
  readonly compression: Compression;
  readonly batchBytes: number;
  readonly lingerMs: number;
  readonly rate?: number;
  readonly seconds: number;
}

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export function benchCommand(): Command {
  const bench = new Command('bench').description(
    'measure throughput and latency against a cluster',
  );
  withClientOptions(
    bench
      .command('produce <topic>')
      .description('produce throughput, or acknowledgement latency with --rate')
      .option('--records <n>', 'records to send', parseInteger(1), 200_000)
      .option('--record-bytes <n>', 'value size', parseInteger(0), 1024)
      .option('--acks <acks>', 'all | 1 | 0', parseAcks, 'all' as Acks)
      .option(
        '--compression <codec>',
        'none | gzip | snappy | lz4 | zstd',
        parseCompression,
        'none' as Compression,
      )
      .option('--batch-bytes <n>', 'batch.size', parseInteger(100), 256 * 1024)
      .option('--linger-ms <ms>', 'linger.ms', parseInteger(0), 5)
      .option(
        '--rate <n>',
        'records/s: measure latency at this fixed rate instead',
        parseInteger(1),
      )
      .option('--seconds <s>', 'how long to run at --rate', parseInteger(1), 10),
  ).action((topic: string, options: BenchProduceOptions) =>
    runWithClient(options, async (client) => {
      const producer = {
        acks: options.acks,
        compression: options.compression,
        batchSizeBytes: options.batchBytes,
        lingerMs: options.lingerMs,
        requestBytesMax: Math.max(1024 * 1024, options.batchBytes),
      };
      const result =
        options.rate === undefined
          ? await benchProduce(client, {
              topic,
              records: options.records,
              recordBytes: options.recordBytes,
              producer,
              progress,
            })
          : await benchLatency(client, {
              topic,
              ratePerSecond: options.rate,
              seconds: options.seconds,
              recordBytes: options.recordBytes,
              producer,
              progress,
            });
      console.log(options.json === true ? JSON.stringify(result) : describe(result));
    }),
  );
  withClientOptions(
    bench
      .command('consume <topic>')
      .description('catch-up consume throughput from the beginning of every partition')
      .option('--records <n>', 'records to read', parseInteger(1), 200_000),
  ).action((topic: string, options: ClientOptions & { records: number }) =>
    runWithClient(options, async (client) => {
      const result = await benchConsume(client, { topic, records: options.records, progress });
      console.log(options.json === true ? JSON.stringify(result) : describe(result));
    }),
  );
  return bench;
}

function describe(result: object): string {
  return Object.entries(result)
    .map(([name, value]) => `${name}=${String(value)}`)
    .join(' ');
}
