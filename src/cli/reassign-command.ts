// `rill topic reassign T --partition P --replicas 1,2,3 [--wait]`: asks the controller to move a
// partition to other nodes (POST …/reassignment), and with --wait follows it by describing the
// topic until the partition's replicas are the target and no `targetReplicas` is left, printing
// each step (replicas, ISR, leader) as it changes. Times out with CLIENT_TIMEOUT, exit 1.
import { Command, InvalidArgumentError } from 'commander';
import { ClientError, type PartitionDescription, type RillClient } from '../api/client/index.ts';
import {
  parseInteger,
  requireTopic,
  runWithClient,
  withClientOptions,
  type ClientOptions,
} from './cluster-client.ts';

/** How often --wait describes the topic: a reassignment takes seconds. */
const waitPollMs = 250;

interface ReassignOptions extends ClientOptions {
  readonly partition: number;
  readonly replicas: number[];
  readonly wait?: boolean;
  readonly timeoutMs: number;
}

export function reassignCommand(): Command {
  return withClientOptions(
    new Command('reassign')
      .argument('<name>')
      .description('move a partition to other nodes (the first replica is the preferred leader)')
      .requiredOption('--partition <p>', 'the partition to move', parseInteger(0))
      .requiredOption('--replicas <ids>', 'target node ids, comma-separated, e.g. 1,2,3', nodeIds)
      .option('--wait', 'follow the move and print its progress until it is done')
      .option('--timeout-ms <ms>', 'with --wait: give up after ms', parseInteger(1), 120_000)
      .addHelpText(
        'after',
        '\nExample: rill topic reassign demo --partition 0 --replicas 3,2 --wait',
      ),
  ).action((name: string, options: ReassignOptions) =>
    runWithClient(options, async (client) => {
      await requireTopic(client, name, options.partition);
      const started = await client
        .admin()
        .reassignPartition(name, options.partition, options.replicas);
      const where = `${name}/${options.partition}`;
      if (options.json !== true || options.wait !== true) {
        print(options, { topic: name, ...started }, `reassigning ${where}: ${state(started)}`);
      }
      if (options.wait !== true) return;
      const done = await follow(client, name, options, started);
      print(options, { topic: name, ...done, done: true }, `reassigned ${where}: ${state(done)}`);
    }),
  );
}

function nodeIds(value: string): number[] {
  const ids = value.split(',').map((id) => id.trim());
  if (ids.some((id) => !/^\d{1,9}$/.test(id))) {
    throw new InvalidArgumentError(`expected node ids like 1,2,3, got '${value}'`);
  }
  const numbers = ids.map(Number);
  if (new Set(numbers).size !== numbers.length) {
    throw new InvalidArgumentError(`a node appears twice in '${value}'`);
  }
  return numbers;
}

/** Describes the topic until the partition sits on the target replicas, printing each change. */
async function follow(
  client: RillClient,
  name: string,
  options: ReassignOptions,
  started: PartitionDescription,
): Promise<PartitionDescription> {
  const deadline = performance.now() + options.timeoutMs;
  const target = options.replicas.join(',');
  let last = state(started);
  for (;;) {
    const described = (await client.admin().describeTopic(name)).partitions[options.partition];
    if (described === undefined) {
      throw new ClientError('UNKNOWN_TOPIC_OR_PARTITION', `${name}/${options.partition} is gone`);
    }
    const now = state(described);
    const finished =
      described.targetReplicas === undefined && described.replicas.join(',') === target;
    if (finished) return described;
    if (now !== last && options.json !== true) console.log(`  ${now}`);
    last = now;
    if (performance.now() > deadline) {
      throw new ClientError(
        'CLIENT_TIMEOUT',
        `${name}/${options.partition} not moved within ${options.timeoutMs} ms (now ${now})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, waitPollMs));
  }
}

function state(partition: PartitionDescription): string {
  const target =
    partition.targetReplicas === undefined ? '' : ` target=${partition.targetReplicas.join(',')}`;
  return (
    `replicas=${partition.replicas.join(',')} isr=${partition.isr.join(',')}` +
    ` leader=${partition.leader ?? 'none'} epoch=${partition.leaderEpoch}${target}`
  );
}

function print(options: ReassignOptions, json: object, text: string): void {
  console.log(options.json === true ? JSON.stringify(json) : text);
}
