// One real single-node broker process and a client of it for a whole test file: spawned in
// beforeAll, closed and stopped in afterAll. `ready` receives both once they exist, so a file
// keeps its own `broker` and `client` names.
import { afterAll, beforeAll } from 'vitest';
import { RillClient } from '../../../src/api/client/index.ts';
import { spawnBroker, type BrokerProcess } from '../../../scripts/spawn-broker.ts';

export function useSpawnedBroker(
  ready: (broker: BrokerProcess, client: RillClient) => void,
  hookTimeoutMs?: number,
): void {
  let broker: BrokerProcess | undefined;
  let client: RillClient | undefined;
  beforeAll(async () => {
    broker = await spawnBroker();
    client = new RillClient({ bootstrapUrls: [broker.url] });
    ready(broker, client);
  }, hookTimeoutMs);
  afterAll(async () => {
    await client?.close();
    await broker?.stop();
  });
}
