// The composition root: the only place that builds real file systems, sockets, timers, clocks
// and loggers, and wires them into the metadata Raft log, the controller, the broker and the
// HTTP/2 server. It parses nothing: the CLI hands it a NodeConfig. `startNode` resolves once the
// node serves and its incarnation is registered; `stop` moves leadership away first.
import { randomInt } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { Http2Server, ServerHttp2Stream } from 'node:http2';
import { connect } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino, destination, type Logger } from 'pino';
import { H2Transport } from './api/client/index.ts';
import { HttpReplicaTransport } from './api/replica-transport.ts';
import {
  buildServer,
  defaultKafkaConfig,
  type KafkaConfig,
  type InternalRoute,
  type RillApp,
  type ServerConfig,
} from './api/server/index.ts';
import {
  answerForwardedProposal,
  answerHeartbeat,
  answerUnreachable,
  Broker,
  Controller,
  ControllerClient,
  heartbeatPath,
  unreachablePath,
  type ProbeOutcome,
  controlledShutdown,
  defaultGroupCoordinatorConfig,
  defaultLogCleanerSettings,
  FilePartitionStore,
  ForwardingMetadataLog,
  HttpControllerChannel,
  MetadataImage,
  metadataLimits,
  metadataProposePath,
  type BrokerConfig,
  type GroupCoordinatorConfig,
  type MetadataCommand,
  type PartitionStore,
  type ReplicationSettings,
} from './broker/index.ts';
import { SeededRandom, type Clock, type WallClock } from './common/index.ts';
import { PartitionLog, SyncTimings } from './log/index.ts';
import {
  HttpRaftTransport,
  LevelRaftStorage,
  RaftMetadataLog,
  httpRaftTransportConfig,
  raftMessagesPath,
  raftStreamPath,
  raftMetadataLogDefaults,
} from './raft/index.ts';

/** The broker's defaults the `rill broker` command shows in its help. */
export { defaultReplicationSettings } from './broker/index.ts';

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
  /** broker.session.timeout.ms: the controller fences a node silent for this long. */
  readonly sessionTimeoutMs: number;
  /** replica.lag.time.max.ms; the default when absent. */
  readonly replicaLagTimeMaxMs?: number;
  /** Overrides of the node limits (`--limit name=value`); the defaults when absent. */
  readonly limits?: Readonly<Partial<Record<NodeLimitName, number>>>;
  /** --console-write: the web console may change the cluster (docs/console.md). */
  readonly consoleWrite?: boolean;
  /** auto.create.topics.enable for Kafka clients (Metadata, Produce); true when absent. */
  readonly autoCreateTopics?: boolean;
  /** BrokerConfig.produceValidation ('records' when absent); 'framing' is for benchmarks. */
  readonly produceValidation?: 'records' | 'framing';
}

/** Timings of the metadata plane (see docs/operations.md). */
/** Leaders a node forwards produce requests to at once; more wait for a connection slot. */
const forwardConnectionsMax = 256;

export const defaultClusterTimings = {
  sessionTimeoutMs: 6_000,
  controllerCheckIntervalMs: 250,
  /** Broker heartbeats (requests, not records) go out this often; at most a third of a session. */
  heartbeatIntervalMs: 2_000,
  /** A node is probed at most this often on unreachability reports. */
  probeIntervalMs: 500,
  /** A probe's TCP connect gives up (an 'timeout': left to the session timeout) after this. */
  probeTimeoutMs: 1_000,
  preferredLeaderIntervalMs: 60_000,
  proposeTimeoutMs: 15_000,
  controlledShutdownTimeoutMs: 5_000,
} as const;

export interface RunningNode {
  readonly url: string;
  stop(): Promise<void>;
}

/** Limits and intervals of a production node (see docs/operations.md). */
export const defaultServerConfig: Omit<ServerConfig, 'clusterSecret' | 'kafka'> = {
  bodyBytesMax: 64 * 1024 * 1024,
  streamsPerSessionMax: 256,
  streamWindowBytes: 16 * 1024 * 1024,
  sessionWindowBytes: 64 * 1024 * 1024,
  // Longer than the longest wait a request may ask for: a parked fetch sends no frames.
  sessionIdleTimeoutMs: 180_000,
  fetchBytesMax: 64 * 1024 * 1024,
  waitMsMax: 120_000,
  // The stream guard (issue 15): a connection's requests, the node's client and node-to-node
  // requests in flight, resets per second before GOAWAY, body and idle-connection deadlines.
  requestsPerSessionMax: 256,
  clientRequestsMax: 16_384,
  internalRequestsMax: 4_096,
  streamResetsPerSecondMax: 200,
  requestBodyTimeoutMs: 60_000,
  connectionIdleTimeoutMs: 120_000,
};

export const defaultBrokerLimits: Omit<BrokerConfig, 'nodeId' | 'advertisedUrl'> = {
  fetchWaitersMax: 10_000,
  produceWaitersMax: 10_000,
  heartbeatIntervalMs: defaultClusterTimings.heartbeatIntervalMs,
  retentionCheckIntervalMs: 60_000,
  registrationRetryMs: 500,
};

/** The Kafka listener's `--limit` names (Kafka's broker config each stands for). */
const kafkaLimits = {
  kafkaRequestBytesMax: 'requestBytesMax', // socket.request.max.bytes
  kafkaConnectionsMax: 'connectionsMax', // max.connections
  kafkaInFlightPerConnectionMax: 'inFlightPerConnectionMax', // queued.max.requests, per connection
  kafkaConnectionIdleMs: 'connectionIdleMs', // connections.max.idle.ms
  kafkaNumPartitions: 'autoCreatePartitions', // num.partitions
  kafkaDefaultReplicationFactor: 'autoCreateReplicationFactor', // default.replication.factor
} as const;
type KafkaLimitName = keyof typeof kafkaLimits;
const kafkaLimitNames = Object.keys(kafkaLimits) as KafkaLimitName[];

/** The limits `rill broker --limit name=value` may set (docs/operations.md, Node limits). */
export type NodeLimitName =
  | keyof typeof defaultServerConfig
  | 'fetchWaitersMax'
  | 'produceWaitersMax'
  | 'logCleanerDedupeBufferBytes'
  | 'logCleanerBackoffMs'
  | 'groupSessionTimeoutMs'
  | 'groupHeartbeatIntervalMs'
  | 'groupInitialRebalanceDelayMs'
  | 'groupMinSessionTimeoutMs'
  | 'offsetsTopicPartitions'
  | 'producerIdExpirationMs'
  | 'producersPerPartitionMax'
  | KafkaLimitName;
export const nodeLimitNames: readonly NodeLimitName[] = [
  ...(Object.keys(defaultServerConfig) as (keyof typeof defaultServerConfig)[]),
  'fetchWaitersMax',
  'produceWaitersMax',
  'logCleanerDedupeBufferBytes', // log.cleaner.dedupe.buffer.size
  'logCleanerBackoffMs', // log.cleaner.backoff.ms
  'groupSessionTimeoutMs', // group.consumer.session.timeout.ms
  'groupHeartbeatIntervalMs', // group.consumer.heartbeat.interval.ms
  'groupInitialRebalanceDelayMs', // group.initial.rebalance.delay.ms (classic groups)
  'groupMinSessionTimeoutMs', // group.min.session.timeout.ms (classic groups)
  'offsetsTopicPartitions', // offsets.topic.num.partitions
  // Idempotent producers: producer.id.expiration.ms and the per-partition bound.
  'producerIdExpirationMs',
  'producersPerPartitionMax',
  ...kafkaLimitNames,
];

/** The Kafka listener's settings with this node's overrides. */
function kafkaConfigOf(config: NodeConfig): KafkaConfig {
  const kafka: Record<string, number | boolean> = { ...defaultKafkaConfig };
  for (const name of kafkaLimitNames) {
    const value = config.limits?.[name];
    if (value !== undefined) kafka[kafkaLimits[name]] = value;
  }
  kafka['autoCreateTopics'] = config.autoCreateTopics ?? defaultKafkaConfig.autoCreateTopics;
  return kafka as unknown as KafkaConfig;
}

/** The group coordinator's settings with this node's overrides. */
function groupSettingsOf(config: NodeConfig): GroupCoordinatorConfig {
  const defaults = defaultGroupCoordinatorConfig;
  const limits = config.limits ?? {};
  return {
    ...defaults,
    offsetsTopicPartitions: limits.offsetsTopicPartitions ?? defaults.offsetsTopicPartitions,
    core: {
      ...defaults.core,
      sessionTimeoutMs: limits.groupSessionTimeoutMs ?? defaults.core.sessionTimeoutMs,
      heartbeatIntervalMs: limits.groupHeartbeatIntervalMs ?? defaults.core.heartbeatIntervalMs,
    },
    classic: {
      ...defaults.classic,
      initialRebalanceDelayMs:
        limits.groupInitialRebalanceDelayMs ?? defaults.classic.initialRebalanceDelayMs,
      sessionTimeoutMsMin: limits.groupMinSessionTimeoutMs ?? defaults.classic.sessionTimeoutMsMin,
    },
  };
}

/** The server's limits with this node's overrides. */
function serverConfigOf(config: NodeConfig): ServerConfig {
  const server: Record<string, number> = { ...defaultServerConfig };
  for (const [name, value] of Object.entries(config.limits ?? {})) {
    if (Object.hasOwn(server, name) && value !== undefined) server[name] = value;
  }
  const limits = server as unknown as typeof defaultServerConfig;
  return { ...limits, clusterSecret: config.clusterSecret, kafka: kafkaConfigOf(config) };
}

/** Overrides of the replication defaults this node was started with. */
function replicationSettings(config: NodeConfig): Partial<ReplicationSettings> {
  const { producerIdExpirationMs, producersPerPartitionMax } = config.limits ?? {};
  const producers = {
    ...(producerIdExpirationMs === undefined ? {} : { producerIdExpirationMs }),
    ...(producersPerPartitionMax === undefined ? {} : { producersPerPartitionMax }),
  };
  const lagMs = config.replicaLagTimeMaxMs;
  if (lagMs === undefined) return producers;
  // An unanswered ISR change is resent well within one lag period.
  const isrChangeRetryMs = Math.max(100, Math.floor(lagMs / 4));
  return { ...producers, replicaLagTimeMaxMs: lagMs, isrChangeRetryMs };
}

const realClock: Clock = {
  nowMs: () => performance.now(),
  schedule(delayMs, run) {
    const timer = setTimeout(run, delayMs);
    return () => clearTimeout(timer);
  },
};

/** Raft log entries the storage keeps in memory; older ones are read from disk. */
const raftStorageCachedEntryCountMax = 1_024;
const realWallClock: WallClock = { wallMs: () => Date.now() };
const logClock = { wallMs: realWallClock.wallMs, schedule: realClock.schedule };

export async function startNode(
  config: NodeConfig,
  progress: (line: string) => void,
): Promise<RunningNode> {
  const opened: { destination: ReturnType<typeof destination> | null } = { destination: null };
  try {
    return await startNodeWith(config, progress, opened);
  } catch (error) {
    // A node that fails early (a port in use) exits at once; pino flushes its log file on exit
    // and throws if the file is not open yet, which buried the one-line reason under a stack.
    const log = opened.destination;
    if (log !== null && (log as unknown as { fd: number }).fd < 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, logOpenWaitMs);
        log.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    throw error;
  }
}

/** How long a failed start-up waits for its log file to open before it reports the failure. */
const logOpenWaitMs = 2_000;

async function startNodeWith(
  config: NodeConfig,
  progress: (line: string) => void,
  opened: { destination: ReturnType<typeof destination> | null },
): Promise<RunningNode> {
  const url = config.advertisedUrl ?? `http://${config.listenHost}:${config.listenPort}`;
  await mkdir(config.dataDir, { recursive: true });
  const logDestination = destination({ dest: config.logFile ?? 1, sync: false, mkdir: true });
  opened.destination = logDestination;
  const logger = pino({ level: config.logLevel, base: { node: config.nodeId } }, logDestination);
  if (config.clusterSecret === null) {
    const warning = 'no cluster secret: /internal/v1 accepts requests from anyone';
    logger.warn(warning);
    progress(`warning: ${warning} (set --cluster-secret or RILL_CLUSTER_SECRET)`);
  }
  const plane = buildMetadataPlane(config, url, logger);
  const logSyncs = new SyncTimings();
  const store: PartitionStore = new FilePartitionStore(
    { directory: join(config.dataDir, 'partitions') },
    {
      openLog: (directory, logConfig) =>
        PartitionLog.open(directory, logConfig, { clock: logClock, onSync: logSyncs.observe }),
    },
  );
  const broker = new Broker(
    {
      ...defaultBrokerLimits,
      fetchWaitersMax: config.limits?.fetchWaitersMax ?? defaultBrokerLimits.fetchWaitersMax,
      produceWaitersMax: config.limits?.produceWaitersMax ?? defaultBrokerLimits.produceWaitersMax,
      heartbeatIntervalMs: heartbeatIntervalMs(config),
      nodeId: config.nodeId,
      advertisedUrl: url,
      replication: replicationSettings(config),
      produceValidation: config.produceValidation ?? 'records',
      logCleaner: {
        dedupeBufferBytes:
          config.limits?.logCleanerDedupeBufferBytes ?? defaultLogCleanerSettings.dedupeBufferBytes,
        checkIntervalMs:
          config.limits?.logCleanerBackoffMs ?? defaultLogCleanerSettings.checkIntervalMs,
      },
    },
    {
      clock: realClock,
      wallClock: realWallClock,
      random: new SeededRandom(randomInt(2 ** 47)),
      image: plane.image,
      metadata: plane.metadata,
      store,
      logger: logger.child({ module: 'broker' }),
      replicaTransport: new HttpReplicaTransport({
        clusterSecret: config.clusterSecret,
        responseBytesMax: defaultServerConfig.fetchBytesMax + defaultServerConfig.bodyBytesMax,
        requestTimeoutMs: 5_000,
      }),
      liveness: plane.liveness,
      // A leader refused this node's replica fetch: the controller probes it, fences if closed.
      onNodeRefused: (nodeId) => {
        plane.liveness.reportUnreachable(nodeId).catch((error: unknown) => {
          // Best effort: the controller's own Raft transport or the session timeout also see it.
          logger.debug({ err: error, nodeId }, 'unreachable report not delivered');
        });
      },
    },
  );
  const server = await buildServer(serverConfigOf(config), {
    broker,
    forwarder: new H2Transport({ connectionsMax: forwardConnectionsMax }),
    logger: logger.child({ module: 'api' }),
    wallClock: realWallClock,
    clock: realClock,
    afterInput: () => new Promise((resolve) => setImmediate(resolve)),
    internalRoutes: internalRoutes(plane),
    internalStreams: [
      {
        path: raftStreamPath,
        accept: (stream, headers) => plane.raftTransport.acceptStream(stream, headers),
      },
    ],
    logSyncs,
    groups: groupSettingsOf(config),
    consoleWrite: config.consoleWrite === true,
  });
  const streams = trackStreams(server.server);
  await server.listen({ host: config.listenHost, port: config.listenPort });
  progress(`node ${config.nodeId} listening on ${url}`);
  plane.controller.start();
  await broker.start();
  progress(`node ${config.nodeId} serving ${broker.listTopics().length} topic(s)`);
  logger.info({ url }, 'ready');
  return {
    url,
    stop: () => stopNode({ config, server, streams, broker, plane, logger, logDestination }),
  };
}

interface MetadataPlane {
  readonly image: MetadataImage;
  /** This node's Raft log: serves forwarded proposals. */
  readonly raft: RaftMetadataLog<MetadataCommand>;
  /** The Raft log's transport: serves the raft route. */
  readonly raftTransport: HttpRaftTransport;
  /** What the broker proposes through: local on the controller, forwarded elsewhere. */
  readonly metadata: ForwardingMetadataLog<MetadataCommand>;
  readonly controller: Controller;
  /** How this node's session reaches the controller (locally while it is the controller). */
  readonly liveness: ControllerClient;
}

/** The metadata Raft group member (voter or observer), the forwarding log and the controller. */
function buildMetadataPlane(config: NodeConfig, url: string, logger: Logger): MetadataPlane {
  const voterUrls = new Map(config.voters.map((v) => [v.id, `http://${v.host}:${v.port}`]));
  const isVoter = voterUrls.has(config.nodeId);
  const image = new MetadataImage();
  const raftConfig = {
    ...raftMetadataLogDefaults,
    nodeId: config.nodeId,
    voters: voterUrls,
    // A node outside --voters follows as an observer; the controller adds it when it registers.
    observers: isVoter ? new Map<number, string>() : new Map([[config.nodeId, url]]),
  };
  const raftStorage = new LevelRaftStorage({
    directory: join(config.dataDir, 'raft'),
    cachedEntryCountMax: raftStorageCachedEntryCountMax,
  });
  const raftTransport = new HttpRaftTransport(
    httpRaftTransportConfig(raftConfig, config.clusterSecret),
    { clock: realClock },
  );
  const raft = new RaftMetadataLog<MetadataCommand>(raftConfig, {
    stateMachine: image,
    clock: realClock,
    random: new SeededRandom(randomInt(2 ** 47)),
    storage: raftStorage,
    transport: raftTransport,
  });
  // A peer's port refused: the controller probes it (rate-limited) and fences it if closed.
  raftTransport.onPeerUnreachable((nodeId) => controller.reportUnreachable(nodeId));
  const channel = new HttpControllerChannel({
    secret: config.clusterSecret,
    requestTimeoutMs: defaultClusterTimings.proposeTimeoutMs,
    connectionsMax: voterUrls.size,
  });
  const metadata = new ForwardingMetadataLog<MetadataCommand>(
    {
      nodeId: config.nodeId,
      voterUrls,
      proposeTimeoutMs: defaultClusterTimings.proposeTimeoutMs,
      retryBackoffMs: raftMetadataLogDefaults.tickMs * 2,
      applyWaitersMax: raftMetadataLogDefaults.pendingProposalCountMax,
    },
    { local: raft, channel, clock: realClock, applied: image },
  );
  const controller = new Controller(
    {
      nodeId: config.nodeId,
      sessionTimeoutMs: config.sessionTimeoutMs,
      checkIntervalMs: Math.min(
        defaultClusterTimings.controllerCheckIntervalMs,
        Math.floor(config.sessionTimeoutMs / 4),
      ),
      preferredLeaderIntervalMs: defaultClusterTimings.preferredLeaderIntervalMs,
      voterIds: [...voterUrls.keys()],
      probeIntervalMs: defaultClusterTimings.probeIntervalMs,
      ineligiblePerNodeMax: metadataLimits.partitionsMax,
    },
    {
      clock: realClock,
      image,
      metadata: raft,
      membership: {
        setPeerAddress: (nodeId, peerUrl) => raft.setPeerAddress(nodeId, peerUrl),
        addObserver: async (nodeId, peerUrl) => {
          await raft.changeMembership({ type: 'add-observer', nodeId }, peerUrl);
        },
      },
      probe: (peerUrl) => probePort(peerUrl, defaultClusterTimings.probeTimeoutMs),
      logger: logger.child({ module: 'controller' }),
    },
  );
  const liveness = new ControllerClient({
    nodeId: config.nodeId,
    voterUrls,
    leaderId: () => raft.status().leaderId,
    local: controller,
    requests: channel,
    requestTimeoutMs: heartbeatIntervalMs(config),
  });
  return { image, raft, raftTransport, metadata, controller, liveness };
}

/** Three heartbeats per session at least, so one lost heartbeat never fences a node. */
function heartbeatIntervalMs(config: NodeConfig): number {
  return Math.min(defaultBrokerLimits.heartbeatIntervalMs, Math.floor(config.sessionTimeoutMs / 3));
}

/**
 * A TCP connect to the node's advertised host and port. 'refused' only for a definite answer
 * (ECONNREFUSED, ECONNRESET); anything else (a timeout, an unreachable host) is left to the
 * session timeout. A paused process still accepts connections (the kernel's backlog).
 */
function probePort(url: string, timeoutMs: number): Promise<ProbeOutcome> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 80) });
    const finish = (outcome: ProbeOutcome): void => {
      socket.destroy();
      resolve(outcome);
    };
    socket.setTimeout(timeoutMs, () => finish('timeout'));
    socket.once('connect', () => finish('open'));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const definite = error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET';
      finish(definite ? 'refused' : 'timeout');
    });
  });
}

function internalRoutes(plane: MetadataPlane): InternalRoute[] {
  const { controller } = plane;
  return [
    {
      method: 'POST',
      path: raftMessagesPath,
      handle: (body, headers) => plane.raftTransport.handleRequest(body, headers),
    },
    {
      method: 'POST',
      path: metadataProposePath,
      handle: (body) => answerForwardedProposal(plane.raft, body),
    },
    { method: 'POST', path: heartbeatPath, handle: (body) => answerHeartbeat(controller, body) },
    {
      method: 'POST',
      path: unreachablePath,
      handle: (body) => answerUnreachable(controller, body),
    },
  ];
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
/**
 * How long closing the server may then take. A session whose peer went away half-closed
 * (seen: a CLOSE-WAIT socket after a 1,000-partition cluster's Ctrl-C) kept server.close()
 * pending for good; past this the node stops anyway and the process exits.
 */
const serverCloseMaxMs = 5_000;

/** Whether `promise` settles within `ms` (a rejection counts as settled and is rethrown). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function stopNode(parts: {
  config: NodeConfig;
  server: RillApp;
  streams: ReturnType<typeof trackStreams>;
  broker: Broker;
  plane: MetadataPlane;
  logger: Logger;
  logDestination: ReturnType<typeof destination>;
}): Promise<void> {
  const { config, server, streams, broker, plane, logger, logDestination } = parts;
  // Controlled shutdown first: leadership moves while this node still serves and replicates.
  const brokerEpoch = broker.brokerEpoch;
  if (brokerEpoch !== null) {
    await controlledShutdown(
      config.nodeId,
      brokerEpoch,
      defaultClusterTimings.controlledShutdownTimeoutMs,
      { clock: realClock, image: plane.image, metadata: plane.metadata, logger },
    );
  }
  plane.controller.stop();
  // Parked long polls answer now; GOAWAY goes out once they are sent (undici fails streams
  // still open when a GOAWAY arrives, even those the GOAWAY lets finish).
  broker.drain();
  await streams.whenIdle(shutdownGraceMs);
  if (!(await settlesWithin(server.close(), serverCloseMaxMs))) {
    logger.warn({ serverCloseMaxMs }, 'the server did not close in time; stopping anyway');
  }
  await broker.stop();
  logger.info('stopped');
  logDestination.flushSync();
}
