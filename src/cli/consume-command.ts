// `rill consume TOPIC`: prints record values, one per line, from every partition of the topic
// (or one with --partition), starting at the end, --from-beginning, --offset O (with
// --partition) or --from-timestamp T; stops after --max-messages records or --timeout-ms
// without one. The topic and partition are checked before fetching. With --group G it is a
// member of group G: it reads the partitions the coordinator assigns, from the committed
// offsets (--from-beginning only where there is none), commits as it goes and on exit or
// Ctrl-C, then leaves the group.
import { Command } from 'commander';
import { decodeText, type ConsumerRecord, type RillClient } from '../api/client/index.ts';
import {
  parseInteger,
  parseTimestamp,
  requireTopic,
  runWithClient,
  usageError,
  withClientOptions,
  writeOut,
  type ClientOptions,
} from './cluster-client.ts';

interface ConsumeOptions extends ClientOptions {
  readonly group?: string;
  readonly groupInstanceId?: string;
  readonly fromBeginning?: boolean;
  readonly fromTimestamp?: number;
  readonly partition?: number;
  readonly offset?: number;
  readonly maxMessages?: number;
  readonly timeoutMs?: number;
  readonly printKey?: boolean;
}

export function consumeCommand(): Command {
  return withClientOptions(
    new Command('consume')
      .description('print records, one value per line (from the end unless told otherwise)')
      .argument('<topic>')
      .option('--group <group>', 'consume as a member of this consumer group')
      .option(
        '--group-instance-id <id>',
        'with --group: a static member id, so a restart within the session keeps its partitions',
      )
      .option('--partition <p>', 'only this partition', parseInteger(0))
      .option(
        '--from-beginning',
        'start at each partition’s log start (with --group: where the group has no commit)',
      )
      .option('--offset <o>', 'start at this offset (needs --partition)', parseInteger(0))
      .option(
        '--from-timestamp <time>',
        'start at the first record at or after TIME (ISO 8601 or ms since the epoch)',
        parseTimestamp,
      )
      .option('--max-messages <n>', 'exit after n records', parseInteger(1))
      .option('--timeout-ms <ms>', 'exit after ms without a record', parseInteger(1))
      .option('--print-key', 'print KEY<TAB>VALUE'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  rill consume demo --from-beginning --max-messages 10\n' +
        '  rill consume demo --group billing --from-beginning   # run it in 3 terminals\n' +
        '  rill consume demo --partition 2 --offset 1500 --print-key\n' +
        '  rill consume demo --from-timestamp 2026-01-31T12:00:00Z --timeout-ms 5000 --json',
    )
    .action((topic: string, options: ConsumeOptions) =>
      runWithClient(options, async (client) => {
        checkStartOptions(options);
        const count = await requireTopic(client, topic, options.partition);
        if (options.group !== undefined) {
          const seen = await consumeAsMember(client, topic, options.group, options);
          if (options.json !== true) {
            process.stderr.write(`consumed ${seen} record(s) from ${topic}\n`);
          }
          return;
        }
        const partitions =
          options.partition === undefined
            ? Array.from({ length: count }, (_, p) => p)
            : [options.partition];
        const seen = await consume(client, topic, partitions, options);
        if (options.json !== true) {
          process.stderr.write(`consumed ${seen} record(s) from ${topic}\n`);
        }
      }),
    );
}

function checkStartOptions(options: ConsumeOptions): void {
  if (options.group !== undefined) {
    const fixed = [options.partition, options.offset, options.fromTimestamp];
    if (fixed.some((option) => option !== undefined)) {
      throw usageError(
        '--group reads the partitions the group assigns from its committed offsets: ' +
          'omit --partition, --offset and --from-timestamp (or reset the group’s offsets)',
      );
    }
  } else if (options.groupInstanceId !== undefined) {
    throw usageError('--group-instance-id needs --group');
  }
  if (options.offset !== undefined && options.partition === undefined) {
    throw usageError('--offset needs --partition: offsets are per partition');
  }
  const starts = [options.fromBeginning, options.offset, options.fromTimestamp];
  if (starts.filter((start) => start !== undefined).length > 1) {
    throw usageError('give one of --from-beginning, --offset, --from-timestamp');
  }
}

async function consume(
  client: RillClient,
  topic: string,
  partitions: readonly number[],
  options: ConsumeOptions,
): Promise<number> {
  const consumer = client.consumer();
  consumer.assign(partitions.map((partition) => ({ topic, partition })));
  for (const partition of partitions) {
    const tp = { topic, partition };
    if (options.offset !== undefined) consumer.seek(tp, options.offset);
    else if (options.fromBeginning === true) consumer.seekToBeginning(tp);
    else if (options.fromTimestamp === undefined) consumer.seekToEnd(tp);
    else {
      const { offset } = await client.admin().offsets(topic, partition, options.fromTimestamp);
      // No record at or after the time: start at the end, for what comes next.
      if (offset === null || offset === undefined) consumer.seekToEnd(tp);
      else consumer.seek(tp, offset);
    }
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
  return seen;
}

function format(record: ConsumerRecord, options: ConsumeOptions): string {
  if (options.json === true) {
    const { topic, partition, offset, timestampMs } = record;
    const key = decodeText(record.key);
    const value = decodeText(record.value);
    return `${JSON.stringify({ topic, partition, offset, timestampMs, key, value })}\n`;
  }
  const value = decodeText(record.value) ?? 'null';
  if (options.printKey !== true) return `${value}\n`;
  return `${decodeText(record.key) ?? 'null'}\t${value}\n`;
}

/**
 * Consumes as a member of `group` until --max-messages, --timeout-ms without a record, or
 * SIGINT/SIGTERM; each record is committed once printed (at-least-once), and the member
 * commits and leaves the group on the way out. A second Ctrl-C exits at once.
 */
async function consumeAsMember(
  client: RillClient,
  topic: string,
  group: string,
  options: ConsumeOptions,
): Promise<number> {
  const consumer = client.consumer({
    groupId: group,
    groupInstanceId: options.groupInstanceId ?? null,
    autoOffsetReset: options.fromBeginning === true ? 'earliest' : 'latest',
  });
  let seen = 0;
  const limit = options.maxMessages ?? Infinity;
  let lastRecordMs = performance.now();
  const stop = (): void => {
    void consumer.close().catch(noop); // Its failure surfaces from the close() awaited below.
  };
  const onSignal = (): void => {
    if (consumer.closing) process.exit(130);
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const idle =
    options.timeoutMs === undefined
      ? null
      : setInterval(() => {
          if (performance.now() - lastRecordMs >= (options.timeoutMs ?? 0)) stop();
        }, 50);
  try {
    consumer.subscribe([topic]);
    await consumer.run({
      eachMessage: async (record) => {
        await writeOut(format(record, options));
        seen += 1;
        lastRecordMs = performance.now();
        if (seen < limit) return;
        // No record after this one is handed out (so none is committed unprinted).
        consumer.pause(consumer.assignment());
        stop();
      },
    });
    await consumer.close();
  } finally {
    if (idle !== null) clearInterval(idle);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await consumer.close().catch(noop);
  }
  return seen;
}

function noop(): void {}
