// `rill consume TOPIC`: prints record values, one per line, from every partition of the topic
// (or one with --partition), starting at the end or --from-beginning; stops after
// --max-messages records or --timeout-ms without one. Consumer groups come later: --group
// fails clearly instead of silently consuming without one.
import { Command } from 'commander';
import { ClientError, type ConsumerRecord } from '../api/client/index.ts';
import {
  parseInteger,
  runWithClient,
  withClientOptions,
  writeOut,
  type ClientOptions,
} from './cluster-client.ts';

interface ConsumeOptions extends ClientOptions {
  readonly group?: string;
  readonly fromBeginning?: boolean;
  readonly partition?: number;
  readonly offset?: number;
  readonly maxMessages?: number;
  readonly timeoutMs?: number;
  readonly printKey?: boolean;
}

export function consumeCommand(): Command {
  return withClientOptions(
    new Command('consume')
      .description('print records, one value per line')
      .argument('<topic>')
      .option('--group <group>', 'consume as a member of a consumer group (not available yet)')
      .option('--from-beginning', 'start at the log start instead of the end')
      .option('--partition <p>', 'only this partition', parseInteger(0))
      .option('--offset <o>', 'start at this offset (with --partition)', parseInteger(0))
      .option('--max-messages <n>', 'exit after n records', parseInteger(1))
      .option('--timeout-ms <ms>', 'exit after ms without a record', parseInteger(1))
      .option('--print-key', 'print KEY<TAB>VALUE'),
  ).action((topic: string, options: ConsumeOptions) =>
    runWithClient(options, async (client) => {
      if (options.group !== undefined) {
        throw new ClientError(
          'INVALID_REQUEST',
          'consumer groups are not available yet; omit --group',
        );
      }
      const metadata = await client.metadata.topic(topic);
      const partitions =
        options.partition === undefined
          ? metadata.partitions.map((p) => p.partition)
          : [options.partition];
      const consumer = client.consumer();
      consumer.assign(partitions.map((partition) => ({ topic, partition })));
      for (const partition of partitions) {
        const tp = { topic, partition };
        if (options.offset !== undefined) consumer.seek(tp, options.offset);
        else if (options.fromBeginning === true) consumer.seekToBeginning(tp);
        else consumer.seekToEnd(tp);
      }
      let seen = 0;
      const limit = options.maxMessages ?? Infinity;
      let lastRecordMs = performance.now();
      while (seen < limit) {
        const waitMs =
          options.timeoutMs === undefined
            ? 1_000
            : options.timeoutMs - (performance.now() - lastRecordMs);
        if (waitMs <= 0) break;
        const records = await consumer.poll({ maxWaitMs: Math.min(waitMs, 1_000) });
        if (records.length === 0) continue;
        lastRecordMs = performance.now();
        const taken = records.slice(0, limit - seen);
        seen += taken.length;
        await writeOut(taken.map((record) => format(record, options)).join(''));
      }
      consumer.close();
      if (options.json !== true) process.stderr.write(`consumed ${seen} record(s) from ${topic}\n`);
    }),
  );
}

function format(record: ConsumerRecord, options: ConsumeOptions): string {
  const text = (bytes: Uint8Array | null): string | null =>
    bytes === null
      ? null
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  if (options.json === true) {
    const { topic, partition, offset, timestampMs } = record;
    const key = text(record.key);
    const value = text(record.value);
    return `${JSON.stringify({ topic, partition, offset, timestampMs, key, value })}\n`;
  }
  const value = text(record.value) ?? 'null';
  return options.printKey === true ? `${text(record.key) ?? 'null'}\t${value}\n` : `${value}\n`;
}
