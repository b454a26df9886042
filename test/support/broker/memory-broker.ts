// A started one-node Broker over test twins: memory partition logs, a one-node metadata log and
// a manual clock, for tests that mount the real server on it in process.
import { pino, type Logger } from 'pino';
import { Broker, MetadataImage, type MetadataCommand } from '../../../src/broker/index.ts';
import { SeededRandom } from '../../../src/common/index.ts';
import { ManualClock } from './manual-clock.ts';
import { MemoryMetadataLog } from './memory-metadata-log.ts';
import { MemoryPartitionLog } from './memory-partition-log.ts';

export async function startMemoryBroker(): Promise<{ broker: Broker; logger: Logger }> {
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
  return { broker, logger };
}
