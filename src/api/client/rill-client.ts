// The entry point of the client library: one RillClient per application holds the connections
// (one HTTP/2 connection per broker) and the metadata cache, and makes producers, consumers and
// admins that share them. Its constructor is a composition root: without `deps` it builds the
// real transport, clocks and randomness.
import type { Clock, Random, WallClock } from '../../common/index.ts';
import { Admin } from './admin.ts';
import { Consumer, type ConsumerConfig } from './consumer.ts';
import { GroupConsumer, type GroupConsumerConfig } from './group-consumer.ts';
import { defaultMetadataConfig, MetadataCache, type MetadataConfig } from './metadata-cache.ts';
import { Producer, type ProducerConfig } from './producer.ts';
import { systemClock, systemRandom, systemWallClock } from './system-ports.ts';
import { H2Transport, type H2TransportConfig, type Transport } from './transport.ts';

export interface RillClientConfig extends Partial<Omit<MetadataConfig, 'bootstrapUrls'>> {
  /** Any brokers of the cluster; the rest are learned from them. */
  readonly bootstrapUrls: readonly string[];
  readonly transport?: Partial<H2TransportConfig>;
}

export interface RillClientDeps {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly wallClock: WallClock;
  readonly random: Random;
}

export class RillClient {
  readonly metadata: MetadataCache;
  readonly #deps: RillClientDeps;
  readonly #producers = new Set<Producer>();
  readonly #consumers = new Set<Consumer>();
  readonly #groupConsumers = new Set<GroupConsumer>();

  constructor(config: RillClientConfig, deps?: RillClientDeps) {
    this.#deps = deps ?? {
      transport: new H2Transport(config.transport ?? {}),
      clock: systemClock,
      wallClock: systemWallClock,
      random: systemRandom(),
    };
    const { transport: _transport, ...metadataConfig } = config;
    this.metadata = new MetadataCache(
      { ...defaultMetadataConfig, ...metadataConfig },
      { transport: this.#deps.transport, clock: this.#deps.clock },
    );
  }

  producer(config: Partial<ProducerConfig> = {}): Producer {
    const producer = new Producer(config, { ...this.#deps, metadata: this.metadata });
    this.#producers.add(producer);
    return producer;
  }

  /** With a groupId: a member of that consumer group (subscribe, run); else assign/poll. */
  consumer(config: Partial<GroupConsumerConfig> & { groupId: string }): GroupConsumer;
  consumer(config?: Partial<ConsumerConfig>): Consumer;
  consumer(
    config: Partial<ConsumerConfig> | (Partial<GroupConsumerConfig> & { groupId: string }) = {},
  ): Consumer | GroupConsumer {
    const deps = { ...this.#deps, metadata: this.metadata };
    if ('groupId' in config) {
      const member = new GroupConsumer(config, deps);
      this.#groupConsumers.add(member);
      return member;
    }
    const consumer = new Consumer(config, deps);
    this.#consumers.add(consumer);
    return consumer;
  }

  admin(): Admin {
    return new Admin({ ...this.#deps, metadata: this.metadata });
  }

  /** Delivers what producers hold, stops consumers (group members leave), then disconnects. */
  async close(): Promise<void> {
    await Promise.all([...this.#producers].map((producer) => producer.close()));
    // Members commit and leave their groups (each close() after the first is a no-op).
    await Promise.allSettled([...this.#groupConsumers].map((member) => member.close()));
    for (const consumer of this.#consumers) consumer.close();
    await this.#deps.transport.close();
  }
}
