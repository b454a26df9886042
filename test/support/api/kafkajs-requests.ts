// Request frames as KafkaJS 2.2.4 encodes them, from its own protocol encoders, for each API
// and version it sends that Rill's core serves. test/unit/api/kafka/fixtures holds them as
// captured (hex); the codec test checks both the capture and today's KafkaJS against Rill's
// readers. Regenerate: npx tsx test/support/api/kafkajs-requests.ts > <fixture file>.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface KafkajsRequest {
  readonly apiKey: number;
  readonly apiVersion: number;
  encode(): Promise<{ buffer: Buffer }>;
}
type RequestFactory = (params: unknown) => KafkajsRequest;
type Framer = (args: {
  correlationId: number;
  clientId: string;
  request: KafkajsRequest;
}) => Promise<{ buffer: Buffer }>;

export interface CapturedRequest {
  readonly api: string;
  readonly version: number;
  readonly hex: string;
}

const fixedTimestamp = 1_700_000_000_000;
export const capturedParams: Record<string, unknown> = {
  metadata: { topics: ['alpha', 'beta'], allowAutoTopicCreation: false },
  produce: {
    acks: -1,
    timeout: 30_000,
    topicData: [
      {
        topic: 'alpha',
        partitions: [
          { partition: 2, messages: [{ key: 'k', value: 'v', timestamp: fixedTimestamp }] },
        ],
      },
    ],
  },
  fetch: {
    replicaId: -1,
    maxWaitTime: 250,
    minBytes: 1,
    maxBytes: 1_048_576,
    isolationLevel: 1,
    topics: [{ topic: 'alpha', partitions: [{ partition: 3, fetchOffset: '42', maxBytes: 4096 }] }],
  },
  listOffsets: {
    replicaId: -1,
    isolationLevel: 1,
    topics: [{ topic: 'alpha', partitions: [{ partition: 1, timestamp: -2 }] }],
  },
  apiVersions: {},
};

const versions: Record<string, readonly number[]> = {
  metadata: [0, 1, 2, 3, 4, 5, 6],
  produce: [3, 4, 5, 6, 7],
  fetch: [4, 5, 6, 7, 8, 9, 10, 11],
  listOffsets: [0, 1, 2, 3],
  apiVersions: [0, 1, 2],
};

export async function encodeWithKafkajs(api: string, version: number): Promise<Buffer> {
  const factory = require(
    `kafkajs/src/protocol/requests/${api}/v${version}/request`,
  ) as RequestFactory;
  const frame = require('kafkajs/src/protocol/request') as Framer;
  const request = factory(capturedParams[api]);
  const encoded = await frame({ correlationId: 7, clientId: 'kafkajs-capture', request });
  return encoded.buffer;
}

export async function captureAll(): Promise<CapturedRequest[]> {
  const captured: CapturedRequest[] = [];
  for (const [api, list] of Object.entries(versions)) {
    for (const version of list) {
      captured.push({ api, version, hex: (await encodeWithKafkajs(api, version)).toString('hex') });
    }
  }
  return captured;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await captureAll(), null, 1)}\n`);
}
