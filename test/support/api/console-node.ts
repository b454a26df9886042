// One node's HTTP server in process for console tests: a broker over test twins (memory logs,
// a one-node metadata log, a manual clock for the broker) and the real server and console on a
// real clock, with or without --console-write.
import { H2Transport } from '../../../src/api/client/index.ts';
import { buildServer, type RillApp } from '../../../src/api/server/index.ts';
import type { Broker } from '../../../src/broker/index.ts';
import { defaultServerConfig } from '../../../src/main.ts';
import { startMemoryBroker } from '../broker/memory-broker.ts';
import { realClock } from '../real-clock.ts';

/** `sampleIntervalMs`: the console's per-node sampling, on the real wall clock (else 10 s). */
export async function startServer(
  consoleWrite: boolean,
  sampleIntervalMs?: number,
): Promise<{ app: RillApp; broker: Broker }> {
  const { broker, logger } = await startMemoryBroker();
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
