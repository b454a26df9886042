// The HttpRaftTransport settings of the transport tests: small bounds, short timeouts; a test
// overrides the bounds it is about.
import type { HttpRaftTransportConfig } from '../../../src/raft/index.ts';

export function testTransportConfig(
  nodeId: number,
  peers: [number, string][],
  secret: string | null,
  overrides: Partial<HttpRaftTransportConfig> = {},
): HttpRaftTransportConfig {
  return {
    nodeId,
    peers: new Map(peers),
    secret,
    queueCountMax: 8,
    queueBytesMax: 1 << 20,
    batchCountMax: 64,
    batchBytesMax: 1 << 20,
    inflightRequestCountMax: 2,
    inboundMessageCountMax: 256,
    requestTimeoutMs: 2_000,
    retryBackoffMs: 50,
    piggybackBytesMax: 32 * 1024,
    frameBytesMax: 1 << 20,
    streamRefusedBackoffMs: 60_000,
    ...overrides,
  };
}
