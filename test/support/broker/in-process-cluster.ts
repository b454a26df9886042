// In-process brokers replicating over real h2c servers on loopback, their metadata on one
// SharedMetadataBus instead of Raft: a test harness for the data plane (follower fetch, HW,
// ISR, acks) before the Raft metadata is wired. Each node has its own data directory and can
// be stopped and started again on it. Each node records its last replica session exchanges
// (requests and answers) so tests can see what travels on the wire.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { H2Transport } from '../../../src/api/client/index.ts';
import { HttpReplicaTransport } from '../../../src/api/replica-transport.ts';
import { buildServer, type RillApp } from '../../../src/api/server/index.ts';
import {
  Broker,
  FilePartitionStore,
  MetadataImage,
  toPartitionState,
  type MetadataCommand,
  type ReplicaTransport,
  type GroupCoordinatorConfig,
  type SessionFetchAnswer,
  type SessionFetchCall,
} from '../../../src/broker/index.ts';
import { SeededRandom, toNodeId, type NodeId } from '../../../src/common/index.ts';
import { onNodeUnavailable } from '../../../src/broker/replication/index.ts';
import { PartitionLog, SyncTimings, type FilePort } from '../../../src/log/index.ts';
import { defaultServerConfig } from '../../../src/main.ts';
import { realClock, realLogClock, realWallClock as wallClock } from '../real-clock.ts';
import { SharedMetadataBus } from './shared-metadata-log.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const secret = 'in-process-secret';

/** One session round trip as the follower saw it; answer null: it failed. */
export interface RecordedExchange {
  readonly leaderUrl: string;
  readonly call: SessionFetchCall;
  readonly answer: SessionFetchAnswer | null;
  /** performance.now() when the request was sent and when it was answered or failed. */
  readonly sentMs: number;
  readonly doneMs: number;
}

const exchangesMax = 2_000;

export interface ClusterNode {
  readonly id: number;
  /** The last `exchangesMax` session round trips of this node's fetcher. */
  readonly exchanges: RecordedExchange[];
  readonly url: string;
  readonly dataDir: string;
  broker: Broker | null;
  image: MetadataImage | null;
  server: RillApp | null;
}

export class InProcessCluster {
  readonly bus = new SharedMetadataBus<MetadataCommand>();
  readonly nodes: ClusterNode[] = [];
  readonly #root: string;
  readonly #lagMs: number;

  /** The group coordinators' settings (tests shorten sessions). */
  readonly #groups: Partial<GroupCoordinatorConfig>;
  /** The file port of a node's partition logs, asked at each start (default node:fs). */
  readonly #filesOf: ((nodeId: number) => FilePort) | undefined;

  private constructor(
    root: string,
    lagMs: number,
    groups: Partial<GroupCoordinatorConfig>,
    filesOf: ((nodeId: number) => FilePort) | undefined,
  ) {
    this.#root = root;
    this.#lagMs = lagMs;
    this.#groups = groups;
    this.#filesOf = filesOf;
  }

  static async start(
    size: number,
    lagMs: number,
    groups: Partial<GroupCoordinatorConfig> = {},
    filesOf?: (nodeId: number) => FilePort,
  ): Promise<InProcessCluster> {
    const root = await mkdtemp(join(tmpdir(), 'rill-repl-'));
    const cluster = new InProcessCluster(root, lagMs, groups, filesOf);
    for (let id = 1; id <= size; id += 1) {
      const port = await freePort();
      const node: ClusterNode = {
        id,
        url: `http://127.0.0.1:${port}`,
        exchanges: [],
        dataDir: join(cluster.#root, `node-${id}`),
        broker: null,
        image: null,
        server: null,
      };
      cluster.nodes.push(node);
    }
    await Promise.all(cluster.nodes.map((node) => cluster.startNode(node.id)));
    return cluster;
  }

  node(id: number): ClusterNode {
    const node = this.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  broker(id: number): Broker {
    const broker = this.node(id).broker;
    if (broker === null) throw new Error(`node ${id} is stopped`);
    return broker;
  }

  async startNode(id: number): Promise<void> {
    const node = this.node(id);
    const image = new MetadataImage();
    const metadata = this.bus.member(id, image);
    const logSyncs = new SyncTimings();
    const files = this.#filesOf?.(id);
    const store = new FilePartitionStore(
      { directory: join(node.dataDir, 'partitions') },
      {
        openLog: (directory, config) =>
          PartitionLog.open(directory, config, {
            clock: realLogClock,
            onSync: logSyncs.observe,
            ...(files === undefined ? {} : { files }),
          }),
      },
    );
    const broker = new Broker(
      {
        nodeId: id,
        advertisedUrl: node.url,
        fetchWaitersMax: 1000,
        produceWaitersMax: 1000,
        heartbeatIntervalMs: 60_000,
        retentionCheckIntervalMs: 60_000,
        registrationRetryMs: 50,
        replication: { replicaLagTimeMaxMs: this.#lagMs, isrChangeRetryMs: 200 },
        replicaFetchMaxWaitMs: 200,
        // Only replicas of compacted topics are looked at; quick so tests need not wait.
        logCleaner: { checkIntervalMs: 200 },
      },
      {
        clock: realClock,
        wallClock,
        random: new SeededRandom(id * 7919 + Date.now()),
        image,
        metadata,
        store,
        logger: quiet,
        replicaTransport: recording(
          new HttpReplicaTransport({
            clusterSecret: secret,
            responseBytesMax: 64 * 1024 * 1024,
            requestTimeoutMs: 2000,
          }),
          node.exchanges,
        ),
      },
    );
    const server = await buildServer(
      {
        ...defaultServerConfig,
        bodyBytesMax: 16 * 1024 * 1024,
        streamsPerSessionMax: 256,
        streamWindowBytes: 1024 * 1024,
        sessionWindowBytes: 4 * 1024 * 1024,
        sessionIdleTimeoutMs: 60_000,
        fetchBytesMax: 16 * 1024 * 1024,
        waitMsMax: 30_000,
        clusterSecret: secret,
      },
      {
        broker,
        logger: silentFastifyLogger(),
        wallClock,
        clock: realClock,
        forwarder: new H2Transport(),
        logSyncs,
        groups: this.#groups,
      },
    );
    await server.listen({ host: '127.0.0.1', port: Number(new URL(node.url).port) });
    await broker.start();
    node.broker = broker;
    this.#admit(id, image);
    node.image = image;
    node.server = server;
  }

  /**
   * A restarted node registers fenced (issue 7). With no controller here, the harness does
   * what a controller pass does: it moves the leadership the old incarnation held to another
   * ISR member of a running node (offline if none), then unfences the node.
   */
  #admit(id: number, image: MetadataImage): void {
    const own = image.node(id);
    if (own?.status !== 'fenced' || own.shuttingDown) return;
    const running = this.nodes.filter((n) => n.broker !== null && n.id !== id);
    const context = {
      liveNodes: new Set(running.map((n) => toNodeId(n.id))),
      ineligible: new Set<NodeId>(),
      uncleanLeaderElection: false,
    };
    for (const topic of image.topics()) {
      for (const record of topic.partitions) {
        if (record.leader !== id) continue;
        const state = toPartitionState(record);
        const next = onNodeUnavailable(state, toNodeId(id), context);
        if (next === null) continue;
        const { partition, partitionEpoch } = record;
        const change = { type: 'change-partition' as const, topic: topic.name, partition };
        const fields = { leader: next.leader, leaderEpoch: next.leaderEpoch, isr: next.isr };
        const command = { ...change, ...fields, replicas: next.replicas };
        this.bus.commit({ ...command, expectedPartitionEpoch: partitionEpoch }, null);
      }
    }
    this.bus.commit({ type: 'unfence-node', nodeId: id, brokerEpoch: own.brokerEpoch }, null);
  }

  async stopNode(id: number): Promise<void> {
    const node = this.node(id);
    const { broker, server } = node;
    node.broker = null;
    node.image = null;
    node.server = null;
    await server?.close();
    await broker?.stop();
  }

  async close(): Promise<void> {
    for (const node of this.nodes) await this.stopNode(node.id);
    await rm(this.#root, { recursive: true, force: true });
  }
}

function recording(inner: ReplicaTransport, exchanges: RecordedExchange[]): ReplicaTransport {
  const remember = (exchange: RecordedExchange): void => {
    exchanges.push(exchange);
    if (exchanges.length > exchangesMax) exchanges.splice(0, exchanges.length - exchangesMax);
  };
  return {
    epochEndOffset: (url, call) => inner.epochEndOffset(url, call),
    async sessionFetch(leaderUrl, call, signal) {
      const sentMs = performance.now();
      try {
        const answer = await inner.sessionFetch(leaderUrl, call, signal);
        remember({ leaderUrl, call, answer, sentMs, doneMs: performance.now() });
        return answer;
      } catch (error) {
        remember({ leaderUrl, call, answer: null, sentMs, doneMs: performance.now() });
        throw error;
      }
    },
    close: () => inner.close(),
  };
}

function silentFastifyLogger() {
  const logger = {
    level: 'silent',
    fatal() {},
    error() {},
    warn() {},
    info() {},
    debug() {},
    trace() {},
    silent() {},
    child: () => logger,
  };
  return logger;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
