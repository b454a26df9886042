// The entry of the DSL: stream(topic) and table(topic) start steps, build() freezes them into
// a Topology. A table is stateful, so it needs a name: its store and changelog take it.
import { storeGetter, tableSourceProcessor } from './aggregate.ts';
import { BuildState, checkName, type BuilderConfig } from './build-state.ts';
import { KStream, KTable, type Named, type StepOptions } from './dsl.ts';
import type { Serdes } from './serdes.ts';
import { passThrough } from './stateless.ts';
import type { Topology } from './topology.ts';

export class StreamsBuilder {
  readonly #build: BuildState;

  constructor(config: BuilderConfig) {
    this.#build = new BuildState(config);
  }

  /** Records of one or more topics (merged), decoded with `serdes`. */
  stream<K, V>(
    topics: string | readonly string[],
    serdes: Serdes<K, V>,
    options: StepOptions = {},
  ): KStream<K, V> {
    const build = this.#build;
    const list = typeof topics === 'string' ? [topics] : [...topics];
    const node = build.addNode({
      name: options.name ?? build.generatedName('KSTREAM-SOURCE'),
      kind: 'source',
      label: 'stream',
      parents: [],
      stores: [],
      topics: list,
      serdes: serdes as Serdes<unknown, unknown>,
      create: passThrough,
    });
    const anySerdes = serdes as Serdes<unknown, unknown>;
    return new KStream<K, V>({ build, node, serdes: anySerdes, keyChanged: false });
  }

  /** The latest value per key of `topic`, materialized in the store `options.name`. */
  table<K, V>(topic: string, serdes: Serdes<K, V>, options: Named): KTable<K, V> {
    checkName(options.name, 'a table');
    const build = this.#build;
    const anySerdes = serdes as Serdes<unknown, unknown>;
    const source = build.addNode({
      name: `${options.name}-source`,
      kind: 'source',
      label: 'table',
      parents: [],
      stores: [],
      topics: [topic],
      serdes: anySerdes,
      create: passThrough,
    });
    const store = build.addStore(options.name, anySerdes.value, anySerdes.key);
    build.addProcessor(
      options.name,
      'materialize',
      [source],
      tableSourceProcessor(store, anySerdes.key),
      [store],
    );
    return new KTable<K, V>({
      build,
      node: options.name,
      serdes: anySerdes,
      getter: storeGetter(store, anySerdes.key),
      stores: [store],
    });
  }

  build(): Topology {
    return this.#build.build();
  }
}
