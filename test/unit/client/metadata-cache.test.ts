// Goal: the metadata cache asks the next broker when one is down, serves cached leaders until
// they expire or are invalidated, shares one refresh among concurrent callers, and keeps at
// most topicsMax topics. Method: a scripted Transport and a ManualClock.
import { describe, expect, test } from 'vitest';
import { ClientError } from '../../../src/api/client/client-error.ts';
import { MetadataCache, defaultMetadataConfig } from '../../../src/api/client/metadata-cache.ts';
import type {
  Transport,
  TransportRequest,
  TransportResponse,
} from '../../../src/api/client/transport.ts';
import { ManualClock } from './manual-clock.ts';

class ScriptedTransport implements Transport {
  readonly asked: string[] = [];
  readonly down = new Set<string>();
  leader = 1;

  async request(url: string, request: TransportRequest): Promise<TransportResponse> {
    this.asked.push(`${url}${request.path}`);
    if (this.down.has(url)) throw new ClientError('CLIENT_CONNECTION', `${url} refused`);
    if (request.path === '/v1/cluster') {
      const brokers = [1, 2].map((id) => ({ id, url: `http://b${id}`, status: 'alive' }));
      return ok({ clusterId: 'c', controllerId: 1, brokers });
    }
    const name = request.path.split('?')[0]?.split('/')[3] ?? '';
    const partitions = [{ partition: 0, leader: this.leader, leaderEpoch: this.leader }];
    return ok({ name, configs: {}, partitions });
  }

  async close(): Promise<void> {}
}

function ok(body: unknown): TransportResponse {
  return { status: 200, headers: {}, body: Buffer.from(JSON.stringify(body)) };
}

function setup(topicsMax = 100) {
  const clock = new ManualClock();
  const transport = new ScriptedTransport();
  const cache = new MetadataCache(
    {
      ...defaultMetadataConfig,
      bootstrapUrls: ['http://b1', 'http://b2'],
      metadataMaxAgeMs: 10_000,
      topicsMax,
    },
    { transport, clock },
  );
  return { clock, transport, cache };
}

describe('MetadataCache', () => {
  test('a dead bootstrap broker is skipped', async () => {
    const { transport, cache } = setup();
    transport.down.add('http://b1');
    expect(await cache.leader('t', 0)).toEqual({ leaderId: 1, leaderEpoch: 1, url: 'http://b1' });
    expect(transport.asked.some((a) => a.startsWith('http://b2'))).toBe(true);
  });

  test('no broker answering is CLIENT_NO_BROKER, retriable', async () => {
    const { transport, cache } = setup();
    transport.down.add('http://b1');
    transport.down.add('http://b2');
    const error = (await cache.topic('t').catch((e: unknown) => e)) as ClientError;
    expect(error.code).toBe('CLIENT_NO_BROKER');
    expect(error.retriable).toBe(true);
  });

  test('leaders are cached until invalidated or older than metadataMaxAgeMs', async () => {
    const { clock, transport, cache } = setup();
    expect((await cache.leader('t', 0)).leaderId).toBe(1);
    transport.leader = 2;
    expect((await cache.leader('t', 0)).leaderId).toBe(1);
    cache.invalidate('t');
    expect((await cache.leader('t', 0)).leaderId).toBe(2);
    transport.leader = 1;
    await clock.advance(10_000);
    expect((await cache.leader('t', 0)).leaderId).toBe(1);
  });

  test('concurrent refreshes of one topic share one request', async () => {
    const { transport, cache } = setup();
    await cache.brokers();
    const before = transport.asked.length;
    await Promise.all([cache.topic('t'), cache.topic('t'), cache.topic('t')]);
    expect(transport.asked.length - before).toBe(1);
  });

  test('at most topicsMax topics are cached', async () => {
    const { cache } = setup(2);
    for (const name of ['a', 'b', 'c']) await cache.topic(name);
    expect(cache.cachedTopic('a')).toBeUndefined();
    expect(cache.cachedTopic('c')?.name).toBe('c');
  });
});
