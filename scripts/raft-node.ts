// A standalone Raft node for the Raft real-process test and `npm run bench:raft` (brokers run
// the same RaftMetadataLog over the metadata image, see src/main.ts): a tiny key-value state
// machine, served with the raft route and a few test routes on one fastify h2c port. Prints
// one JSON line when listening.
//   node --import tsx scripts/raft-node.ts --node-id 1 --listen 127.0.0.1:P \
//     --voters 1@127.0.0.1:P1,2@127.0.0.1:P2,3@127.0.0.1:P3 --data-dir D [--snapshot-entries N]
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { SeededRandom, type Clock } from '../src/common/index.ts';
import {
  HttpRaftTransport,
  LevelRaftStorage,
  RaftMetadataLog,
  httpRaftTransportConfig,
  raftMessagesPath,
  raftMetadataLogDefaults,
  type StateMachine,
} from '../src/raft/index.ts';

interface PutCommand {
  readonly key: string;
  readonly value: string;
}

/** The test state machine: a map of strings; apply returns the applied index. */
class KeyValueStateMachine implements StateMachine<PutCommand> {
  values = new Map<string, string>();
  /** Snapshots restored since the process started (at start-up, or sent by the leader). */
  restoreCount = 0;
  apply(command: PutCommand, index: number): unknown {
    this.values.set(command.key, command.value);
    return { index };
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify([...this.values]));
  }
  restore(snapshot: Uint8Array): void {
    this.restoreCount += 1;
    this.values = new Map(JSON.parse(new TextDecoder().decode(snapshot)) as [string, string][]);
  }
}

const systemClock: Clock = {
  nowMs: () => performance.now(),
  schedule(delayMs, run) {
    const timer = setTimeout(run, delayMs);
    return () => clearTimeout(timer);
  },
};

function parseMembers(list: string | undefined): Map<number, string> {
  const members = new Map<number, string>();
  for (const item of (list ?? '').split(',').filter((part) => part !== '')) {
    const [id, address] = item.split('@');
    if (id === undefined || address === undefined)
      throw new Error(`bad member ${item}, want ID@HOST:PORT`);
    members.set(Number(id), `http://${address}`);
  }
  return members;
}

const { values: args } = parseArgs({
  options: {
    'node-id': { type: 'string' },
    listen: { type: 'string' },
    voters: { type: 'string' },
    observers: { type: 'string' },
    'data-dir': { type: 'string' },
    secret: { type: 'string' },
    'snapshot-entries': { type: 'string' },
    'tick-ms': { type: 'string' },
    'heartbeat-ticks': { type: 'string' },
    'election-ticks': { type: 'string' },
  },
});
const nodeId = Number(args['node-id']);
const [host, port] = (args.listen ?? '').split(':');
if (
  !Number.isInteger(nodeId) ||
  host === undefined ||
  port === undefined ||
  args['data-dir'] === undefined
) {
  throw new Error(
    'usage: raft-node.ts --node-id N --listen HOST:PORT --voters ID@HOST:PORT,... --data-dir D',
  );
}

const stateMachine = new KeyValueStateMachine();
const raftConfig = {
  ...raftMetadataLogDefaults,
  nodeId,
  voters: parseMembers(args.voters),
  observers: parseMembers(args.observers),
  tickMs: Number(args['tick-ms'] ?? raftMetadataLogDefaults.tickMs),
  heartbeatTicks: Number(args['heartbeat-ticks'] ?? raftMetadataLogDefaults.heartbeatTicks),
  electionTimeoutTicks: Number(
    args['election-ticks'] ?? raftMetadataLogDefaults.electionTimeoutTicks,
  ),
  snapshotEntryCount: Number(
    args['snapshot-entries'] ?? raftMetadataLogDefaults.snapshotEntryCount,
  ),
};
const storage = new LevelRaftStorage({ directory: args['data-dir'], cachedEntryCountMax: 1_024 });
const transport = new HttpRaftTransport(httpRaftTransportConfig(raftConfig, args.secret ?? null), {
  clock: systemClock,
});
const log = new RaftMetadataLog<PutCommand>(raftConfig, {
  stateMachine,
  clock: systemClock,
  random: new SeededRandom(randomInt(2 ** 31)),
  storage,
  transport,
});
log.onLeaderChange((leaderId, term) => {
  process.stderr.write(`node ${nodeId}: leader ${leaderId ?? 'none'} in term ${term}\n`);
});

const server = Fastify({ http2: true, bodyLimit: 256 << 20 });
server.post(raftMessagesPath, async (request, reply) => {
  const response = transport.handleRequest(request.body, request.headers);
  return reply.code(response.status).send(response.body);
});
server.get('/v1/raft', async () => log.status());
server.get('/test/counters', async () => ({
  ...log.counters(),
  transport: transport.counters,
  storage: { syncedWriteCount: storage.syncedWriteCount },
}));
server.get('/test/state', async () => ({
  ...log.status(),
  restoreCount: stateMachine.restoreCount,
  values: Object.fromEntries(stateMachine.values),
}));
server.post<{ Body: PutCommand }>('/test/propose', async (request, reply) => {
  try {
    return await log.propose({ key: request.body.key, value: request.body.value });
  } catch (error) {
    return reply.code(503).send(errorBody(error));
  }
});

/** Closed loop inside this node: `outstanding` proposals in flight, for `durationMs`. */
server.post<{
  Body: { outstanding: number; durationMs: number; valueBytes: number; keys: number };
}>('/test/bench', async (request) => {
  const { outstanding, durationMs, valueBytes, keys } = request.body;
  const value = 'x'.repeat(valueBytes);
  const latenciesMs: number[] = [];
  let failures = 0;
  let sequence = 0;
  const startMs = performance.now();
  const endMs = startMs + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < endMs) {
      const key = `k${sequence % keys}`;
      sequence += 1;
      const sentMs = performance.now();
      try {
        await log.propose({ key, value });
        latenciesMs.push(performance.now() - sentMs);
      } catch {
        failures += 1; // Counted and reported: a lost leadership mid-run shows up here.
      }
    }
  };
  await Promise.all(Array.from({ length: outstanding }, worker));
  const seconds = (performance.now() - startMs) / 1000;
  latenciesMs.sort((a, b) => a - b);
  const quantile = (q: number): number =>
    latenciesMs[Math.floor(q * (latenciesMs.length - 1))] ?? NaN;
  return {
    commits: latenciesMs.length,
    failures,
    seconds,
    p50Ms: quantile(0.5),
    p99Ms: quantile(0.99),
  };
});

function errorBody(error: unknown): unknown {
  const typed = error as { code?: string; message?: string; details?: Record<string, unknown> };
  return {
    error: {
      code: typed.code ?? 'UNKNOWN',
      message: typed.message ?? String(error),
      ...typed.details,
    },
  };
}

await log.start();
await server.listen({ host, port: Number(port) });
process.stdout.write(
  `${JSON.stringify({ event: 'listening', nodeId, url: `http://${host}:${port}` })}\n`,
);

const shutdown = (): void => {
  void (async () => {
    await log.stop();
    // server.close() waits for idle HTTP/2 sessions that peers keep open: do not wait for it.
    void server.close();
    process.exit(0);
  })();
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
