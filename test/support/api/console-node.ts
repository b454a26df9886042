// One node's HTTP server in process for console tests: a broker over test twins (memory logs,
// a one-node metadata log, a manual clock for the broker) and the real server and console on a
// real clock, with or without --console-write.
import { pino } from 'pino';
import { H2Transport } from '../../../src/api/client/index.ts';
import { buildServer, type RillApp } from '../../../src/api/server/index.ts';
import { Broker, MetadataImage, type MetadataCommand } from '../../../src/broker/index.ts';
import { SeededRandom } from '../../../src/common/index.ts';
import { defaultServerConfig } from '../../../src/main.ts';
import { ManualClock } from '../broker/manual-clock.ts';
import { MemoryMetadataLog } from '../broker/memory-metadata-log.ts';
import { MemoryPartitionLog } from '../broker/memory-partition-log.ts';
import { realClock } from '../real-clock.ts';

/** `sampleIntervalMs`: the console's per-node sampling, on the real wall clock (else 10 s). */
export async function startServer(
  consoleWrite: boolean,
  sampleIntervalMs?: number,
): Promise<{ app: RillApp; broker: Broker }> {
  const image = new MetadataImage();
  const logger = pino({ level: 'silent' });
  const broker = new Broker(
    {
      nodeId: 1,
      advertisedUrl: 'http://n1',
      fetchWaitersMax: 10,
      produceWaitersMax: 10,
      heartbeatIntervalMs: 1000,
      retentionCheckIntervalMs: 1000,
      registrationRetryMs: 100,
    },
    {
      clock: new ManualClock(),
      wallClock: { wallMs: () => 0 },
      random: new SeededRandom(1),
      image,
      metadata: new MemoryMetadataLog<MetadataCommand>(1, image),
      store: {
        open: async () => new MemoryPartitionLog(),
        remove: async () => {},
        list: async () => [],
      },
      logger,
    },
  );
  await broker.start();
  const app = await buildServer(
    { ...defaultServerConfig, clusterSecret: null },
    {
      broker,
      logger,
      wallClock: { wallMs: () => (sampleIntervalMs === undefined ? 0 : Date.now()) },
      clock: realClock,
      forwarder: new H2Transport(),
      consoleWrite,
      ...(sampleIntervalMs === undefined ? {} : { consoleSampleIntervalMs: sampleIntervalMs }),
    },
  );
  return { app, broker };
}
