// The composition root: the only place that builds real file systems, sockets, timers, clocks
// and loggers, and wires them into the metadata log, the broker and the HTTP/2 server. It
// parses nothing: the CLI hands it a NodeConfig. `startNode` resolves once the node serves.
import { randomInt } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { Http2Server, ServerHttp2Stream } from 'node:http2';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino, destination, type Logger } from 'pino';
import {
  buildServer,
  type InternalRoute,
  type RillApp,
  type ServerConfig,
} from './api/server/index.ts';
import {
  Broker,
  FilePartitionStore,
  LevelMetadataLog,
  MetadataImage,
  type BrokerConfig,
  type MetadataCommand,
  type PartitionStore,
} from './broker/index.ts';
import { SeededRandom, type Clock, type WallClock } from './common/index.ts';
import { PartitionLog } from './log/index.ts';

export interface VoterAddress {
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

export interface NodeConfig {
  readonly nodeId: number;
  readonly listenHost: string;
  readonly listenPort: number;
  /** What other nodes and clients dial; defaults to http://listenHost:listenPort. */
  readonly advertisedUrl: string | null;
  readonly voters: readonly VoterAddress[];
  readonly dataDir: string;
  readonly clusterSecret: string | null;
  readonly logLevel: string;
  /** Structured logs go here, or to stdout when null. */
  readonly logFile: string | null;
}

export interface RunningNode {
  readonly url: string;
  stop(): Promise<void>;
}

/** Limits and intervals of a production node (see docs/operations.md). */
export const defaultServerConfig: Omit<ServerConfig, 'clusterSecret'> = {
  bodyBytesMax: 64 * 1024 * 1024,
  streamsPerSessionMax: 256,
  streamWindowBytes: 16 * 1024 * 1024,
  sessionWindowBytes: 64 * 1024 * 1024,
  // Longer than the longest wait a request may ask for: a parked fetch sends no frames.
  sessionIdleTimeoutMs: 180_000,
  fetchBytesMax: 64 * 1024 * 1024,
  waitMsMax: 120_000,
};

export const defaultBrokerLimits: Omit<BrokerConfig, 'nodeId' | 'advertisedUrl'> = {
  fetchWaitersMax: 10_000,
  produceWaitersMax: 10_000,
  heartbeatIntervalMs: 2_000,
  retentionCheckIntervalMs: 60_000,
  registrationRetryMs: 500,
};

const realClock: Clock = {
  nowMs: () => performance.now(),
  schedule(delayMs, run) {
    const timer = setTimeout(run, delayMs);
    return () => clearTimeout(timer);
  },
};

const realWallClock: WallClock = { wallMs: () => Date.now() };
const logClock = { wallMs: realWallClock.wallMs, schedule: realClock.schedule };

export async function startNode(
  config: NodeConfig,
  progress: (line: string) => void,
): Promise<RunningNode> {
  const url = config.advertisedUrl ?? `http://${config.listenHost}:${config.listenPort}`;
  await mkdir(config.dataDir, { recursive: true });
  const logDestination = destination({ dest: config.logFile ?? 1, sync: false, mkdir: true });
  const logger = pino({ level: config.logLevel, base: { node: config.nodeId } }, logDestination);
  if (config.clusterSecret === null) {
    const warning = 'no cluster secret: /internal/v1 accepts requests from anyone';
    logger.warn(warning);
    progress(`warning: ${warning} (set --cluster-secret or RILL_CLUSTER_SECRET)`);
  }
  const metadata = buildMetadata(config);
  const store: PartitionStore = new FilePartitionStore(
    { directory: join(config.dataDir, 'partitions') },
    {
      openLog: (directory, logConfig) =>
        PartitionLog.open(directory, logConfig, { clock: logClock }),
    },
  );
  const broker = new Broker(
    { ...defaultBrokerLimits, nodeId: config.nodeId, advertisedUrl: url },
    {
      clock: realClock,
      wallClock: realWallClock,
      random: new SeededRandom(randomInt(2 ** 47)),
      image: metadata.image,
      metadata: metadata.log,
      store,
      logger: logger.child({ module: 'broker' }),
    },
  );
  const internalRoutes: InternalRoute[] = [];
  const server = await buildServer(
    { ...defaultServerConfig, clusterSecret: config.clusterSecret },
    { broker, logger: logger.child({ module: 'api' }), wallClock: realWallClock, internalRoutes },
  );
  const streams = trackStreams(server.server);
  await server.listen({ host: config.listenHost, port: config.listenPort });
  progress(`node ${config.nodeId} listening on ${url}`);
  await broker.start();
  progress(`node ${config.nodeId} serving ${broker.listTopics().length} topic(s)`);
  logger.info({ url }, 'ready');
  return { url, stop: () => stopNode({ server, streams, broker, logger, logDestination }) };
}

function buildMetadata(config: NodeConfig): {
  image: MetadataImage;
  log: LevelMetadataLog<MetadataCommand>;
} {
  const voterIds = config.voters.map((voter) => voter.id);
  if (voterIds.length !== 1 || voterIds[0] !== config.nodeId) {
    // TODO(#4): a RaftMetadataLog replaces this check once Raft is wired into the node.
    throw new Error(
      `this build runs one-voter clusters only (--voters ${config.nodeId}@HOST:PORT); ` +
        `got voters ${voterIds.join(',')}`,
    );
  }
  const image = new MetadataImage();
  const log = new LevelMetadataLog<MetadataCommand>(
    {
      nodeId: config.nodeId,
      directory: join(config.dataDir, 'metadata'),
      pendingProposalsMax: 1024,
      snapshotEveryEntries: 1000,
    },
    image,
  );
  return { image, log };
}

/** Streams open on the server, so a shutdown can let answered requests finish first. */
function trackStreams(server: Http2Server): { whenIdle(timeoutMs: number): Promise<void> } {
  let open = 0;
  let onIdle: (() => void) | null = null;
  server.on('stream', (stream: ServerHttp2Stream) => {
    open += 1;
    stream.once('close', () => {
      open -= 1;
      if (open === 0) onIdle?.();
    });
  });
  return {
    whenIdle: (timeoutMs) =>
      open === 0
        ? Promise.resolve()
        : new Promise((resolve) => {
            const timer = setTimeout(resolve, timeoutMs);
            onIdle = () => {
              clearTimeout(timer);
              resolve();
            };
          }),
  };
}

/** How long a shutdown lets in-flight requests finish before closing the sessions. */
const shutdownGraceMs = 5_000;

async function stopNode(parts: {
  server: RillApp;
  streams: ReturnType<typeof trackStreams>;
  broker: Broker;
  logger: Logger;
  logDestination: ReturnType<typeof destination>;
}): Promise<void> {
  const { server, streams, broker, logger, logDestination } = parts;
  // Parked long polls answer now; GOAWAY goes out once they are sent (undici fails streams
  // still open when a GOAWAY arrives, even those the GOAWAY lets finish).
  broker.drain();
  await streams.whenIdle(shutdownGraceMs);
  await server.close();
  await broker.stop();
  logger.info('stopped');
  logDestination.flushSync();
}
