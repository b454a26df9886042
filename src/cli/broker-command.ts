// `rill broker`: runs one node in the foreground. Parses and checks the options, hands a
// NodeConfig to main.ts, prints progress and `ready`, and stops cleanly on SIGINT/SIGTERM.
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  defaultClusterTimings,
  defaultReplicationSettings,
  nodeLimitNames,
  startNode,
  type NodeConfig,
  type NodeLimitName,
  type VoterAddress,
} from '../main.ts';

function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (match === null || !(port >= 0 && port <= 65535)) {
    throw new InvalidArgumentError(`expected HOST:PORT, got '${value}'`);
  }
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

function parseNodeId(value: string): number {
  const id = Number(value);
  if (!/^\d{1,9}$/.test(value) || !Number.isSafeInteger(id)) {
    throw new InvalidArgumentError(`expected a non-negative integer, got '${value}'`);
  }
  return id;
}

function parseVoters(value: string): VoterAddress[] {
  const voters = value.split(',').map((item) => {
    const at = item.indexOf('@');
    if (at < 0) throw new InvalidArgumentError(`expected ID@HOST:PORT, got '${item}'`);
    return { id: parseNodeId(item.slice(0, at)), ...parseHostPort(item.slice(at + 1)) };
  });
  if (new Set(voters.map((v) => v.id)).size !== voters.length) {
    throw new InvalidArgumentError('voter ids must be distinct');
  }
  return voters;
}

interface BrokerOptions {
  nodeId: number;
  listen: { host: string; port: number };
  voters?: VoterAddress[];
  dataDir: string;
  clusterSecret?: string;
  advertisedUrl?: string;
  logLevel: string;
  logFile?: string;
  sessionTimeoutMs: number;
  replicaLagTimeMaxMs: number;
  limit: Partial<Record<NodeLimitName, number>>;
  consoleWrite?: boolean;
  autoCreateTopics: boolean;
  produceValidation: 'records' | 'framing';
}

/** Collects `--limit name=value` (repeatable) into an object of known node limits. */
function parseLimit(
  value: string,
  limits: Partial<Record<NodeLimitName, number>>,
): Partial<Record<NodeLimitName, number>> {
  const match = /^([A-Za-z]+)=(\d{1,15})$/.exec(value);
  const name = match?.[1] as NodeLimitName | undefined;
  const amount = Number(match?.[2]);
  if (name === undefined || !nodeLimitNames.includes(name) || !(amount > 0)) {
    throw new InvalidArgumentError(
      `expected NAME=POSITIVE_INTEGER with NAME one of ${nodeLimitNames.join(', ')}`,
    );
  }
  return { ...limits, [name]: amount };
}

function parseMs(value: string): number {
  const ms = Number(value);
  if (!/^\d{1,9}$/.test(value) || ms < 100) {
    throw new InvalidArgumentError(`expected milliseconds >= 100, got '${value}'`);
  }
  return ms;
}

export function brokerCommand(): Command {
  return new Command('broker')
    .description(
      'Run one Rill node (broker and metadata voter, or observer when not in --voters) ' +
        'in the foreground.',
    )
    .requiredOption('--node-id <id>', 'this node id, unique in the cluster', parseNodeId)
    .requiredOption('--listen <host:port>', 'address of the HTTP/2 (h2c) port', parseHostPort)
    .option(
      '--voters <list>',
      'metadata voters as ID@HOST:PORT,... (default: this node alone)',
      parseVoters,
    )
    .requiredOption('--data-dir <dir>', 'directory for metadata and partition logs')
    .option('--cluster-secret <secret>', 'secret for /internal/v1 (env RILL_CLUSTER_SECRET)')
    .option('--advertised-url <url>', 'URL others reach this node at (default http://LISTEN)')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .option('--log-file <path>', 'write JSON logs to this file instead of stdout')
    .option(
      '--session-timeout-ms <ms>',
      'broker.session.timeout.ms: the controller fences a node silent this long',
      parseMs,
      defaultClusterTimings.sessionTimeoutMs,
    )
    .option(
      '--replica-lag-time-max-ms <ms>',
      'replica.lag.time.max.ms: a follower not caught up this long leaves the ISR',
      parseMs,
      defaultReplicationSettings.replicaLagTimeMaxMs,
    )
    .option(
      '--no-auto-create-topics',
      'auto.create.topics.enable=false: Kafka Metadata and Produce never create topics',
    )
    .option(
      '--limit <name=value>',
      'override a node limit (repeatable; names and defaults in docs/operations.md)',
      parseLimit,
      {},
    )
    .option('--console-write', 'let the web console at / create, delete, produce and reset')
    .addOption(
      // Benchmarks only (scripts/bench/validate.ts): produce as before issue 15, with framing,
      // CRC and sizes checked but records not walked and compressed batches not expanded, to
      // measure what record validation costs. Hidden: a node that appends such batches may
      // store one that no JSON fetch can decode.
      new Option('--produce-validation <what>', 'records (default) or framing')
        .choices(['records', 'framing'])
        .default('records')
        .hideHelp(),
    )
    .addHelpText(
      'after',
      '\nExample:\n  rill broker --node-id 1 --listen 127.0.0.1:9091 ' +
        '--voters 1@127.0.0.1:9091,2@127.0.0.1:9092,3@127.0.0.1:9093 --data-dir ./data/node-1\n' +
        'Prints `ready` once it serves and is registered; SIGINT or SIGTERM moves its partition\n' +
        'leadership away (controlled shutdown), then stops it.',
    )
    .action(async (options: BrokerOptions) => {
      await runBroker(options);
    });
}

async function runBroker(options: BrokerOptions): Promise<void> {
  const listen = options.listen;
  const config: NodeConfig = {
    nodeId: options.nodeId,
    listenHost: listen.host,
    listenPort: listen.port,
    advertisedUrl: options.advertisedUrl ?? null,
    voters: options.voters ?? [{ id: options.nodeId, ...listen }],
    dataDir: options.dataDir,
    clusterSecret: options.clusterSecret ?? process.env['RILL_CLUSTER_SECRET'] ?? null,
    logLevel: options.logLevel,
    logFile: options.logFile ?? null,
    sessionTimeoutMs: options.sessionTimeoutMs,
    replicaLagTimeMaxMs: options.replicaLagTimeMaxMs,
    limits: options.limit,
    consoleWrite: options.consoleWrite === true,
    autoCreateTopics: options.autoCreateTopics,
    produceValidation: options.produceValidation,
  };
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  let node;
  try {
    node = await startNode(config, print);
  } catch (error) {
    process.stderr.write(
      `rill broker: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  }
  print('ready');
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      process.stderr.write(`rill broker: second ${signal}, exiting now\n`);
      process.exit(130);
    }
    stopping = true;
    print(`stopping (${signal})`);
    node.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`rill broker: unclean stop: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
