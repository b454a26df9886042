// `rill topic create|list|describe|delete`: topic administration through the Admin client.
import { Command, InvalidArgumentError } from 'commander';
import type { TopicDescription } from '../api/client/index.ts';
import {
  parseInteger,
  runWithClient,
  withClientOptions,
  type ClientOptions,
} from './cluster-client.ts';

export function topicCommand(): Command {
  const topic = new Command('topic').description('create, list, describe and delete topics');
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
  return topic;
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
        `\tlog-start=${p.logStartOffset}\thigh-watermark=${p.highWatermark}`,
    );
  }
  return lines.join('\n');
}
