// `rill group list|describe|reset-offsets|delete`: consumer group administration through the
// Admin client (docs/api.md "Consumer groups"). describe prints the group's state and members,
// then one row per partition: owner, committed offset, high watermark, lag in records and
// seconds. reset-offsets and delete are refused by the coordinator while the group has members.
import { Command } from 'commander';
import type { GroupDescription, GroupListing, OffsetResetTarget } from '../api/client/index.ts';
import {
  parseInteger,
  parseTimestamp,
  requireTopic,
  runWithClient,
  usageError,
  withClientOptions,
  type ClientOptions,
} from './cluster-client.ts';

interface ResetOptions extends ClientOptions {
  readonly topic: string;
  readonly toEarliest?: boolean;
  readonly toLatest?: boolean;
  readonly toOffset?: number;
  readonly toDatetime?: number;
  readonly dryRun?: boolean;
}

export function groupCommand(): Command {
  const group = new Command('group').description(
    'list, describe, reset the offsets of, and delete consumer groups',
  );
  withClientOptions(group.command('list').description('every group: state and members')).action(
    (options: ClientOptions) =>
      runWithClient(options, async (client) => {
        const groups = await client.admin().listGroups();
        console.log(options.json === true ? JSON.stringify({ groups }) : formatList(groups));
      }),
  );
  withClientOptions(
    group
      .command('describe <group>')
      .description('state, members, and per partition: owner, committed offset, HW, lag'),
  ).action((name: string, options: ClientOptions) =>
    runWithClient(options, async (client) => {
      const description = await client.admin().describeGroup(name);
      console.log(
        options.json === true ? JSON.stringify(description) : formatDescription(description),
      );
    }),
  );
  group.addCommand(resetOffsetsCommand());
  withClientOptions(
    group.command('delete <group>').description('delete a group without members, and its offsets'),
  ).action((name: string, options: ClientOptions) =>
    runWithClient(options, async (client) => {
      await client.admin().deleteGroup(name);
      if (options.json === true) console.log(JSON.stringify({ deleted: name }));
      else console.log(`deleted group ${name}`);
    }),
  );
  return group;
}

function resetOffsetsCommand(): Command {
  return withClientOptions(
    new Command('reset-offsets')
      .argument('<group>')
      .description("move a group's committed offsets for a topic (the group must have no members)")
      .requiredOption('--topic <topic>', 'the topic whose offsets move (every partition)')
      .option('--to-earliest', "each partition's log start")
      .option('--to-latest', "each partition's high watermark (skip everything so far)")
      .option('--to-offset <n>', 'this offset (clamped to each partition’s range)', parseInteger(0))
      .option(
        '--to-datetime <time>',
        'the first record at or after TIME (ISO 8601 or ms since the epoch)',
        parseTimestamp,
      )
      .option('--dry-run', 'print what would be committed; change nothing')
      .addHelpText(
        'after',
        '\nExamples:\n' +
          '  rill group reset-offsets billing --topic orders --to-earliest --dry-run\n' +
          '  rill group reset-offsets billing --topic orders --to-datetime 2026-01-31T12:00:00Z',
      ),
  ).action((name: string, options: ResetOptions) =>
    runWithClient(options, async (client) => {
      const to = resetTarget(options);
      await requireTopic(client, options.topic);
      const dryRun = options.dryRun === true;
      const offsets = await client.admin().resetOffsets(name, { topic: options.topic, to, dryRun });
      if (options.json === true) {
        console.log(JSON.stringify({ group: name, dryRun, offsets }));
        return;
      }
      const rows = offsets.map((o) => [o.topic, String(o.partition), String(o.offset)]);
      console.log(table(['TOPIC', 'PARTITION', dryRun ? 'WOULD-COMMIT' : 'COMMITTED'], rows));
      if (dryRun) console.log('(dry run: nothing committed)');
    }),
  );
}

/** The one --to-* option given; a usage error for none or several. */
export function resetTarget(options: ResetOptions): OffsetResetTarget {
  const targets: OffsetResetTarget[] = [];
  if (options.toEarliest === true) targets.push('earliest');
  if (options.toLatest === true) targets.push('latest');
  if (options.toOffset !== undefined) targets.push({ offset: options.toOffset });
  if (options.toDatetime !== undefined) targets.push({ timestamp: options.toDatetime });
  const [only, ...more] = targets;
  if (only === undefined || more.length > 0) {
    throw usageError('give one of --to-earliest, --to-latest, --to-offset N, --to-datetime TIME');
  }
  return only;
}

function formatList(groups: readonly GroupListing[]): string {
  if (groups.length === 0) return '(no groups)';
  const rows = groups.map((g) => [g.group, g.state, String(g.members), g.protocol]);
  return table(['GROUP', 'STATE', 'MEMBERS', 'PROTOCOL'], rows);
}

export function formatDescription(group: GroupDescription): string {
  const lines = [
    group.protocol === 'classic'
      ? `group ${group.group}: state ${group.state}, protocol classic (Kafka clients), ` +
        `generation ${group.groupEpoch}, assignor ${group.assignor}, ` +
        `${group.members.length} member(s)`
      : `group ${group.group}: state ${group.state}, epoch ${group.groupEpoch}, ` +
        `assignor ${group.assignor}, ${group.members.length} member(s)`,
    '',
  ];
  if (group.members.length > 0) {
    const clients = group.members.some((m) => typeof m.clientId === 'string');
    const members = group.members.map((m) => [
      m.memberId,
      m.instanceId ?? '-',
      String(m.memberEpoch),
      ...(clients ? [m.clientId ?? '-'] : []),
      m.clientHost ?? '-',
      m.subscribedTopicRegex === null
        ? m.subscribedTopics.join(',')
        : `/${m.subscribedTopicRegex}/`,
      m.assignment.map((a) => `${a.topic}:${a.partitions.join(',')}`).join(' ') || '-',
    ]);
    const header = [
      'MEMBER',
      'INSTANCE',
      group.protocol === 'classic' ? 'GENERATION' : 'EPOCH',
      ...(clients ? ['CLIENT-ID'] : []),
      'HOST',
      'SUBSCRIBED',
      'PARTITIONS',
    ];
    lines.push(table(header, members), '');
  }
  const rows = group.offsets.map((o) => [
    o.topic,
    String(o.partition),
    o.owner ?? '-',
    o.committedOffset === null ? '-' : String(o.committedOffset),
    o.highWatermark === null ? '-' : String(o.highWatermark),
    o.lag === null ? '-' : String(o.lag),
    o.lagSeconds === null ? '-' : o.lagSeconds.toFixed(1),
  ]);
  const header = ['TOPIC', 'PARTITION', 'OWNER', 'COMMITTED', 'HW', 'LAG', 'LAG-SECONDS'];
  lines.push(rows.length === 0 ? '(no partitions)' : table(header, rows));
  return lines.join('\n');
}

/** Left-aligned columns, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
