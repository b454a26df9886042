// `rill topic create|list|describe|delete|alter|offsets|reassign`: topic administration through
// the Admin client. Commands that name a partition check it exists before sending anything.
import { Command, InvalidArgumentError } from 'commander';
import type { RillClient, TopicDescription } from '../api/client/index.ts';
import {
  parseInteger,
  parseTimestamp,
  requireTopic,
  runWithClient,
  usageError,
  withClientOptions,
  type ClientOptions,
} from './cluster-client.ts';
import { reassignCommand } from './reassign-command.ts';

interface AlterOptions extends ClientOptions {
  readonly config: Record<string, string>;
  readonly deleteConfig: string[];
}

interface OffsetsOptions extends ClientOptions {
  readonly partition?: number;
  readonly timestamp?: number;
}

export function topicCommand(): Command {
  const topic = new Command('topic').description(
    'create, list, describe, alter and delete topics; offsets; reassign partitions',
  );
  withClientOptions(
    topic
      .command('create <name>')
      .description('create a topic')
      .option('--partitions <n>', 'number of partitions', parseInteger(1), 1)
      .option('--replication-factor <r>', 'copies of each partition', parseInteger(1), 1)
      .option(
        '--config <key=value...>',
        'topic configs, e.g. retention.ms=60000',
        collectConfig,
        {},
      )
      .addHelpText(
        'after',
        '\nExample: rill topic create orders --partitions 6 --replication-factor 3 ' +
          '--config retention.ms=86400000 min.insync.replicas=2\n' +
          'Configs (Kafka names): docs/operations.md "Topic configs".',
      ),
  ).action(
    (
      name: string,
      options: ClientOptions & {
        partitions: number;
        replicationFactor: number;
        config: Record<string, string>;
      },
    ) =>
      runWithClient(options, async (client) => {
        const created = await client.admin().createTopic({
          name,
          partitions: options.partitions,
          replicationFactor: options.replicationFactor,
          configs: options.config,
        });
        if (options.json === true) console.log(JSON.stringify(created));
        else console.log(`created topic ${name} with ${options.partitions} partition(s)`);
      }),
  );
  withClientOptions(topic.command('list').description('list topics')).action(
    (options: ClientOptions) =>
      runWithClient(options, async (client) => {
        const topics = await client.admin().listTopics();
        if (options.json === true) {
          console.log(JSON.stringify({ topics }));
          return;
        }
        for (const t of topics) {
          console.log(
            `${t.name}\tpartitions=${t.partitions}\treplication-factor=${t.replicationFactor}`,
          );
        }
      }),
  );
  withClientOptions(
    topic.command('describe <name>').description('show partitions, leaders, ISR and offsets'),
  ).action((name: string, options: ClientOptions) =>
    runWithClient(options, async (client) => {
      const description = await client.admin().describeTopic(name);
      console.log(options.json === true ? JSON.stringify(description) : formatTopic(description));
    }),
  );
  withClientOptions(
    topic.command('delete <name>').description('delete a topic and its data'),
  ).action((name: string, options: ClientOptions) =>
    runWithClient(options, async (client) => {
      await client.admin().deleteTopic(name);
      if (options.json === true) console.log(JSON.stringify({ deleted: name }));
      else console.log(`deleted topic ${name}`);
    }),
  );
  topic.addCommand(alterCommand());
  topic.addCommand(offsetsCommand());
  topic.addCommand(reassignCommand());
  return topic;
}

function alterCommand(): Command {
  return withClientOptions(
    new Command('alter')
      .argument('<name>')
      .description('set or remove topic config overrides')
      .option(
        '--config <key=value...>',
        'set an override, e.g. retention.ms=60000',
        collectConfig,
        {},
      )
      .option(
        '--delete-config <key...>',
        'remove an override: the default applies again',
        collect,
        [],
      )
      .addHelpText(
        'after',
        '\nExample: rill topic alter demo --config retention.ms=3600000 --delete-config segment.ms',
      ),
  ).action((name: string, options: AlterOptions) =>
    runWithClient(options, async (client) => {
      const changes: Record<string, string | null> = { ...options.config };
      for (const key of options.deleteConfig) {
        if (Object.hasOwn(changes, key)) throw usageError(`${key} is both set and deleted`);
        changes[key] = null;
      }
      if (Object.keys(changes).length === 0) {
        throw usageError('nothing to change: give --config k=v or --delete-config k');
      }
      await requireTopic(client, name);
      const described = await client.admin().alterTopicConfigs(name, changes);
      if (options.json === true) return console.log(JSON.stringify(described));
      const list = Object.entries(changes).map(([k, v]) => (v === null ? `-${k}` : `${k}=${v}`));
      console.log(`altered topic ${name}: ${list.join(' ')}`);
    }),
  );
}

function offsetsCommand(): Command {
  return withClientOptions(
    new Command('offsets')
      .argument('<name>')
      .description("each partition's log start offset and high watermark (from its leader)")
      .option('--partition <p>', 'only this partition', parseInteger(0))
      .option(
        '--timestamp <time>',
        'also the first offset at or after TIME (ISO 8601 or ms since the epoch)',
        parseTimestamp,
      )
      .addHelpText('after', '\nExample: rill topic offsets demo --timestamp 2026-01-31T12:00:00Z'),
  ).action((name: string, options: OffsetsOptions) =>
    runWithClient(options, async (client) => {
      const rows = await partitionOffsets(client, name, options);
      if (options.json === true)
        return console.log(JSON.stringify({ topic: name, partitions: rows }));
      for (const row of rows) {
        const at =
          options.timestamp === undefined ? '' : `\toffset-for-timestamp=${row.offset ?? 'none'}`;
        console.log(
          `${name}/${row.partition}\tlog-start=${row.logStartOffset}` +
            `\thigh-watermark=${row.highWatermark}${at}`,
        );
      }
    }),
  );
}

async function partitionOffsets(client: RillClient, name: string, options: OffsetsOptions) {
  const count = await requireTopic(client, name, options.partition);
  const partitions =
    options.partition === undefined
      ? Array.from({ length: count }, (_, p) => p)
      : [options.partition];
  const admin = client.admin();
  return Promise.all(
    partitions.map(async (partition) => ({
      partition,
      ...(await admin.offsets(name, partition, options.timestamp)),
    })),
  );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function collectConfig(value: string, previous: Record<string, string>): Record<string, string> {
  const at = value.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`${value} is not key=value`);
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

function formatTopic(topic: TopicDescription): string {
  const configs = Object.entries(topic.configs ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const lines = [
    `topic ${topic.name}\tpartitions=${topic.partitions.length}\tconfigs=${configs || '-'}`,
  ];
  for (const p of topic.partitions) {
    lines.push(
      `  partition ${p.partition}\tleader=${p.leader ?? 'none'}\tepoch=${p.leaderEpoch}` +
        `\treplicas=${p.replicas.join(',')}\tisr=${p.isr.join(',')}` +
        `\tlog-start=${p.logStartOffset ?? 'unknown'}` +
        `\thigh-watermark=${p.highWatermark ?? 'unknown'}` +
        `\tsource=${p.offsetsSource ?? 'none'}` +
        (p.offsetsAgeMs === undefined ? '' : `\tage=${p.offsetsAgeMs}ms`),
    );
  }
  return lines.join('\n');
}
