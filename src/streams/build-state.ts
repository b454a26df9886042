// What a StreamsBuilder accumulates while the DSL is called: nodes, stores, repartition topics
// and the joins whose inputs must be co-partitioned; names are checked as they are added.
// Internal names derive from the user's operator name only: store `name`, changelog topic
// `<applicationId>-<name>-changelog`, repartition topic `<applicationId>-<name>-repartition`.
import { StreamsError } from './errors.ts';
import type { ProcessorFactory } from './processor.ts';
import type { Serde, Serdes } from './serdes.ts';
import { passThrough, sinkProcessor } from './stateless.ts';
import { idToBytes } from './store-key.ts';
import {
  Topology,
  type CopartitionGroup,
  type ErrorPolicy,
  type NodeDef,
  type StoreDef,
} from './topology.ts';

export interface BuilderConfig {
  readonly applicationId: string;
  /** Keys a store holds at most per task (STREAMS_STORE_FULL beyond). */
  readonly storeEntriesMax?: number;
  /** Changed keys a store caches before its changelog must be flushed. */
  readonly changelogCacheEntriesMax?: number;
  /**
   * Entries a store keeps decoded in memory when it is local (level-backed: the runtime's
   * `stateDir`); the rest are read from disk on use. Ignored by in-memory stores.
   */
  readonly storeCacheEntriesMax?: number;
  /**
   * What a record that does not decode, or whose handler throws, does: `fail` (default) fails
   * the task with STREAMS_DESERIALIZATION / STREAMS_HANDLER; `{ deadLetterTopic }` skips it
   * and writes it there (its key and value bytes, headers naming the error), counted in the
   * task's `deadLettered` metric. Never swallowed.
   */
  readonly onError?: ErrorPolicy;
}

export type { ErrorPolicy };

export const storeEntriesMaxDefault = 1_000_000;
export const changelogCacheEntriesMaxDefault = 10_000;
export const storeCacheEntriesMaxDefault = 10_000;

const namePattern = /^[A-Za-z0-9._-]{1,100}$/;

export function checkName(name: string, what: string): void {
  if (typeof name !== 'string' || !namePattern.test(name)) {
    throw new StreamsError(
      'STREAMS_INVALID_NAME',
      `${what} needs a name of 1-100 letters, digits, '.', '_' or '-' (got ${String(name)})`,
      { details: { name } },
    );
  }
}

function windowedKeyOfId(keySerde: Serde<unknown>): (id: string) => unknown {
  return (id) => {
    const bytes = idToBytes(id);
    const view = new DataView(bytes.buffer, bytes.length - 16, 16);
    const window = { startMs: Number(view.getBigInt64(0)), endMs: Number(view.getBigInt64(8)) };
    return { key: keySerde.deserialize(bytes.subarray(0, bytes.length - 16)), window };
  };
}

export class BuildState {
  readonly config: BuilderConfig;
  readonly #nodes: NodeDef[] = [];
  readonly #stores: StoreDef[] = [];
  readonly #repartitionTopics: string[] = [];
  readonly #groups: CopartitionGroup[] = [];
  readonly #names = new Set<string>();
  #counter = 0;

  constructor(config: BuilderConfig) {
    checkName(config.applicationId, 'the application');
    this.config = config;
  }

  /** A generated name for a stateless node (no state depends on it). */
  generatedName(label: string): string {
    const name = `${label.toUpperCase()}-${String(this.#counter).padStart(10, '0')}`;
    this.#counter += 1;
    return name;
  }

  addNode(node: Omit<NodeDef, 'topics' | 'serdes'> & Partial<NodeDef>): string {
    if (this.#names.has(node.name)) {
      throw new StreamsError('STREAMS_DUPLICATE_NAME', `two operators are named ${node.name}`, {
        details: { name: node.name },
      });
    }
    this.#names.add(node.name);
    this.#nodes.push({ topics: [], serdes: null, ...node });
    return node.name;
  }

  addProcessor(
    name: string,
    label: string,
    parents: readonly string[],
    create: ProcessorFactory,
    stores: readonly string[] = [],
  ): string {
    return this.addNode({ name, kind: 'processor', label, parents, stores, create });
  }

  /** `windowed`: ids are the key's bytes then the window's 16-byte suffix (store-key.ts). */
  addStore(
    name: string,
    valueSerde: Serde<unknown>,
    keySerde: Serde<unknown>,
    windowed = false,
  ): string {
    checkName(name, 'a store');
    this.#stores.push({
      name,
      keyOfId: windowed ? windowedKeyOfId(keySerde) : (id) => keySerde.deserialize(idToBytes(id)),
      changelogTopic: `${this.config.applicationId}-${name}-changelog`,
      valueSerde,
      entriesMax: this.config.storeEntriesMax ?? storeEntriesMaxDefault,
      changelogCacheEntriesMax:
        this.config.changelogCacheEntriesMax ?? changelogCacheEntriesMaxDefault,
      cacheEntriesMax: this.config.storeCacheEntriesMax ?? storeCacheEntriesMaxDefault,
    });
    return name;
  }

  /** Routes `parent`'s records through the repartition topic of operator `name`. */
  repartition(name: string, parent: string, serdes: Serdes<unknown, unknown>): string {
    const topic = `${this.config.applicationId}-${name}-repartition`;
    this.#repartitionTopics.push(topic);
    this.addNode({
      name: `${name}-repartition-sink`,
      kind: 'sink',
      label: 'repartition',
      parents: [parent],
      stores: [],
      topics: [topic],
      serdes,
      create: sinkProcessor(topic, serdes),
    });
    return this.addNode({
      name: `${name}-repartition-source`,
      kind: 'source',
      label: 'repartition',
      parents: [],
      stores: [],
      topics: [topic],
      serdes,
      create: passThrough,
    });
  }

  copartition(operator: string, left: string, right: string): void {
    this.#groups.push({ operator, sides: [left, right] });
  }

  build(): Topology {
    return new Topology({
      applicationId: this.config.applicationId,
      nodes: this.#nodes,
      stores: this.#stores,
      repartitionTopics: this.#repartitionTopics,
      copartitionGroups: this.#groups,
      onError: this.config.onError ?? 'fail',
    });
  }
}
