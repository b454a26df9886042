// The typed DSL: KStream (a record stream), KTable (a changelog of the latest value per key),
// KGroupedStream and WindowedKStream (the inputs of aggregations). Each call adds nodes to the
// builder's BuildState and returns a new typed step; key and value types are inferred from the
// functions passed. A step whose key changed (map, flatMap, selectKey, groupBy) is repartitioned
// through a topic named after the next stateful operator before that operator runs.
import { aggregateProcessor, storeGetter, type Aggregator } from './aggregate.ts';
import { checkName, type BuildState } from './build-state.ts';
import { StreamsError } from './errors.ts';
import {
  bufferSerde,
  joinedGetter,
  streamStreamJoinProcessor,
  streamTableJoinProcessor,
  tableTableJoinProcessor,
  type JoinKind,
  type Joiner,
} from './joins.ts';
import type { StreamRecord, TableGetterFactory } from './processor.ts';
import { numberSerde, windowedSerde, type Serde, type Serdes } from './serdes.ts';
import { flatMapProcessor, sinkProcessor, tableMapProcessor, tableToStream } from './stateless.ts';
import { slidingRecordsSerde, windowAggregateProcessor } from './window-aggregate.ts';
import type { JoinWindows, WindowDefinition, Windowed } from './windows.ts';

/** Options of a stateful operator: its name is required; stores and topics derive from it. */
export interface Named {
  readonly name: string;
}

/** A join's name (required) and the serde of its results' values, if they are written. */
export interface JoinOptions<VR> extends Named {
  readonly valueSerde?: Serde<VR>;
}

/** Optional name of a stateless operator (for describe()); no state depends on it. */
export interface StepOptions {
  readonly name?: string;
}

type AnySerdes = Serdes<unknown, unknown>;

/** The serdes known at a step: a key or value type changed by a function has none. */
interface StepSerdes {
  readonly key: Serde<unknown> | null;
  readonly value: Serde<unknown> | null;
}

const unknownSerdes: StepSerdes = { key: null, value: null };

function requireSerdes(serdes: StepSerdes, operator: string): AnySerdes {
  const { key, value } = serdes;
  if (key === null || value === null) {
    throw new StreamsError(
      'STREAMS_SERDES_MISSING',
      `${operator} needs the key and value serdes of its input; pass { serdes } to the step ` +
        'that changed the types (map, selectKey, mapValues, …)',
      { details: { operator } },
    );
  }
  return { key, value };
}

/** A step of a topology: the node producing it and the serdes of its records, if known. */
interface Step {
  readonly build: BuildState;
  readonly node: string;
  readonly serdes: StepSerdes;
  /** The key changed since the last repartition: a stateful operator repartitions first. */
  readonly keyChanged: boolean;
}

export class KStream<K, V> {
  /** @internal */
  readonly step: Step;

  constructor(step: Step) {
    this.step = step;
  }

  #next<K2, V2>(
    label: string,
    fn: (record: StreamRecord) => Iterable<StreamRecord>,
    options: { name?: string; serdes?: StepSerdes; keyChanged?: boolean },
  ): KStream<K2, V2> {
    const { build, node } = this.step;
    const name = options.name ?? build.generatedName(`KSTREAM-${label}`);
    build.addProcessor(name, label.toLowerCase(), [node], flatMapProcessor(fn));
    return new KStream<K2, V2>({
      build,
      node: name,
      serdes: options.serdes ?? this.step.serdes,
      keyChanged: this.step.keyChanged || options.keyChanged === true,
    });
  }

  filter(predicate: (key: K, value: V) => boolean, options: StepOptions = {}): KStream<K, V> {
    return this.#next('FILTER', (r) => (predicate(r.key as K, r.value as V) ? [r] : []), options);
  }

  filterNot(predicate: (key: K, value: V) => boolean, options: StepOptions = {}): KStream<K, V> {
    return this.#next('FILTER', (r) => (predicate(r.key as K, r.value as V) ? [] : [r]), options);
  }

  map<K2, V2>(
    fn: (key: K, value: V) => readonly [K2, V2],
    options: StepOptions & { serdes?: Serdes<K2, V2> } = {},
  ): KStream<K2, V2> {
    return this.#next(
      'MAP',
      (r) => {
        const [key, value] = fn(r.key as K, r.value as V);
        return [{ key, value, timestampMs: r.timestampMs }];
      },
      {
        ...options,
        serdes: (options.serdes as StepSerdes | undefined) ?? unknownSerdes,
        keyChanged: true,
      },
    );
  }

  mapValues<V2>(
    fn: (value: V, key: K) => V2,
    options: StepOptions & { valueSerde?: Serde<V2> } = {},
  ): KStream<K, V2> {
    return this.#next('MAPVALUES', (r) => [{ ...r, value: fn(r.value as V, r.key as K) }], {
      ...options,
      serdes: this.#withValueSerde(options.valueSerde),
    });
  }

  flatMap<K2, V2>(
    fn: (key: K, value: V) => Iterable<readonly [K2, V2]>,
    options: StepOptions & { serdes?: Serdes<K2, V2> } = {},
  ): KStream<K2, V2> {
    const each = function* (r: StreamRecord): Iterable<StreamRecord> {
      for (const [key, value] of fn(r.key as K, r.value as V)) {
        yield { key, value, timestampMs: r.timestampMs };
      }
    };
    const serdes = (options.serdes as StepSerdes | undefined) ?? unknownSerdes;
    return this.#next('FLATMAP', each, { ...options, serdes, keyChanged: true });
  }

  flatMapValues<V2>(
    fn: (value: V, key: K) => Iterable<V2>,
    options: StepOptions & { valueSerde?: Serde<V2> } = {},
  ): KStream<K, V2> {
    const each = function* (r: StreamRecord): Iterable<StreamRecord> {
      for (const value of fn(r.value as V, r.key as K)) yield { ...r, value };
    };
    return this.#next('FLATMAPVALUES', each, {
      ...options,
      serdes: this.#withValueSerde(options.valueSerde),
    });
  }

  selectKey<K2>(
    fn: (key: K, value: V) => K2,
    options: StepOptions & { keySerde?: Serde<K2> } = {},
  ): KStream<K2, V> {
    const serdes = {
      key: (options.keySerde as Serde<unknown> | undefined) ?? null,
      value: this.step.serdes.value,
    };
    return this.#next('SELECTKEY', (r) => [{ ...r, key: fn(r.key as K, r.value as V) }], {
      ...options,
      serdes,
      keyChanged: true,
    });
  }

  peek(fn: (key: K, value: V) => void, options: StepOptions = {}): KStream<K, V> {
    return this.#next(
      'PEEK',
      (r) => {
        fn(r.key as K, r.value as V);
        return [r];
      },
      options,
    );
  }

  /** Routes each record to the first branch whose predicate holds (in the object's key order). */
  split<N extends string>(
    branches: Record<N, (key: K, value: V) => boolean>,
  ): Record<N, KStream<K, V>> {
    const entries = Object.entries(branches) as [N, (key: K, value: V) => boolean][];
    const result = {} as Record<N, KStream<K, V>>;
    entries.forEach(([branch, predicate], index) => {
      const earlier = entries.slice(0, index).map(([, p]) => p);
      result[branch] = this.filter(
        (key, value) => predicate(key, value) && !earlier.some((p) => p(key, value)),
      );
    });
    return result;
  }

  merge(other: KStream<K, V>, options: StepOptions = {}): KStream<K, V> {
    const { build } = this.step;
    const name = options.name ?? build.generatedName('KSTREAM-MERGE');
    build.addProcessor(
      name,
      'merge',
      [this.step.node, other.step.node],
      flatMapProcessor((r) => [r]),
    );
    return new KStream<K, V>({
      build,
      node: name,
      serdes: {
        key: this.step.serdes.key ?? other.step.serdes.key,
        value: this.step.serdes.value ?? other.step.serdes.value,
      },
      keyChanged: this.step.keyChanged || other.step.keyChanged,
    });
  }

  /** Writes every record to `topic`, partitioned by key (murmur2, as Kafka's producer). */
  to(topic: string, serdes?: Serdes<K, V>, options: StepOptions = {}): void {
    const { build } = this.step;
    const resolved = requireSerdes(
      (serdes as StepSerdes | undefined) ?? this.step.serdes,
      `to(${topic})`,
    );
    build.addNode({
      name: options.name ?? build.generatedName('KSTREAM-SINK'),
      kind: 'sink',
      label: 'to',
      parents: [this.step.node],
      stores: [],
      topics: [topic],
      serdes: resolved,
      create: sinkProcessor(topic, resolved),
    });
  }

  groupByKey(options: { serdes?: Serdes<K, V> } = {}): KGroupedStream<K, V> {
    const serdes = (options.serdes as StepSerdes | undefined) ?? this.step.serdes;
    return new KGroupedStream<K, V>({ ...this.step, serdes });
  }

  groupBy<K2>(
    fn: (key: K, value: V) => K2,
    options: { keySerde: Serde<K2>; valueSerde?: Serde<V> },
  ): KGroupedStream<K2, V> {
    const value = (options.valueSerde as Serde<unknown> | undefined) ?? this.step.serdes.value;
    const rekeyed = this.selectKey(fn);
    const serdes = { key: options.keySerde as Serde<unknown>, value };
    return new KGroupedStream<K2, V>({ ...rekeyed.step, serdes });
  }

  /** Each record joined with the table's current value of its key; no match, no output. */
  join<VT, VR>(
    table: KTable<K, VT>,
    joiner: (value: V, tableValue: VT) => VR,
    options: JoinOptions<VR>,
  ): KStream<K, VR> {
    return this.#tableJoin<VR>('inner', table, joiner as Joiner, options);
  }

  /** Each record joined with the table's current value of its key, or null when absent. */
  leftJoin<VT, VR>(
    table: KTable<K, VT>,
    joiner: (value: V, tableValue: VT | null) => VR,
    options: JoinOptions<VR>,
  ): KStream<K, VR> {
    return this.#tableJoin<VR>('left', table, joiner as Joiner, options);
  }

  /** Pairs of records of the same key whose timestamps differ by at most windows.withinMs. */
  joinWindowed<VO, VR>(
    other: KStream<K, VO>,
    joiner: (value: V, otherValue: VO) => VR,
    windows: JoinWindows,
    options: JoinOptions<VR>,
  ): KStream<K, VR> {
    return this.#streamJoin<VR>('inner', other.step, joiner as Joiner, windows, options);
  }

  leftJoinWindowed<VO, VR>(
    other: KStream<K, VO>,
    joiner: (value: V, otherValue: VO | null) => VR,
    windows: JoinWindows,
    options: JoinOptions<VR>,
  ): KStream<K, VR> {
    return this.#streamJoin<VR>('left', other.step, joiner as Joiner, windows, options);
  }

  outerJoinWindowed<VO, VR>(
    other: KStream<K, VO>,
    joiner: (value: V | null, otherValue: VO | null) => VR,
    windows: JoinWindows,
    options: JoinOptions<VR>,
  ): KStream<K, VR> {
    return this.#streamJoin<VR>('outer', other.step, joiner as Joiner, windows, options);
  }

  #withValueSerde(valueSerde: Serde<unknown> | undefined): StepSerdes {
    return { key: this.step.serdes.key, value: valueSerde ?? null };
  }

  #tableJoin<VR>(
    kind: 'inner' | 'left',
    table: KTable<K, unknown>,
    joiner: Joiner,
    options: JoinOptions<unknown>,
  ): KStream<K, VR> {
    checkName(options.name, 'a join');
    const { build } = this.step;
    const input = prepareStateful(this.step, options.name, 'join');
    const t = table.table;
    build.copartition(options.name, input.node, t.node);
    build.addProcessor(
      options.name,
      `join(stream-table, ${kind})`,
      [input.node],
      streamTableJoinProcessor(kind, joiner, t.getter),
      t.stores,
    );
    const serdes = { key: input.serdes.key, value: options.valueSerde ?? null };
    return new KStream<K, VR>({ build, node: options.name, serdes, keyChanged: false });
  }

  #streamJoin<VR>(
    kind: JoinKind,
    otherStep: Step,
    joiner: Joiner,
    windows: JoinWindows,
    options: JoinOptions<unknown>,
  ): KStream<K, VR> {
    checkName(options.name, 'a join');
    const { build } = this.step;
    const left = prepareStateful(this.step, `${options.name}-left`, 'join');
    const right = prepareStateful(otherStep, `${options.name}-right`, 'join');
    const [leftSerdes, rightSerdes] = [
      requireSerdes(left.serdes, `join ${options.name}`),
      requireSerdes(right.serdes, `join ${options.name}`),
    ];
    const stores = [
      build.addStore(`${options.name}-left-buffer`, bufferSerde(leftSerdes.value), leftSerdes.key),
      build.addStore(
        `${options.name}-right-buffer`,
        bufferSerde(rightSerdes.value),
        leftSerdes.key,
      ),
    ] as const;
    build.copartition(options.name, left.node, right.node);
    const common = { kind, joiner, windows, keySerde: leftSerdes.key };
    const sides = (['left', 'right'] as const).map((side, i) =>
      build.addProcessor(
        `${options.name}-${side}`,
        `join(stream-stream, ${kind}, ${side})`,
        [(i === 0 ? left : right).node],
        streamStreamJoinProcessor({
          ...common,
          side,
          thisStore: stores[i] as string,
          otherStore: stores[1 - i] as string,
        }),
        stores,
      ),
    );
    build.addProcessor(
      options.name,
      'merge',
      sides,
      flatMapProcessor((r) => [r]),
    );
    const serdes = { key: leftSerdes.key, value: options.valueSerde ?? null };
    return new KStream<K, VR>({ build, node: options.name, serdes, keyChanged: false });
  }
}

/** The input of a stateful operator: repartitioned first when the key changed. */
function prepareStateful(step: Step, name: string, operator: string): Step {
  if (!step.keyChanged) return step;
  const serdes = requireSerdes(step.serdes, `${operator} ${name} (to repartition)`);
  const node = step.build.repartition(name, step.node, serdes);
  return { ...step, node, keyChanged: false };
}

export class KGroupedStream<K, V> {
  readonly #step: Step;

  constructor(step: Step) {
    this.#step = step;
  }

  count(options: Named): KTable<K, number> {
    return this.#aggregate(
      options.name,
      'count',
      numberSerde,
      (_k, _v, n) => ((n as number) ?? 0) + 1,
    );
  }

  reduce(reducer: (aggregate: V, value: V) => V, options: Named): KTable<K, V> {
    const serdes = requireSerdes(this.#step.serdes, `reduce ${options.name}`);
    return this.#aggregate(options.name, 'reduce', serdes.value, (_k, v, a) =>
      a === undefined ? v : reducer(a as V, v as V),
    );
  }

  aggregate<A>(
    initializer: () => A,
    aggregator: (key: K, value: V, aggregate: A) => A,
    options: Named & { serde: Serde<A> },
  ): KTable<K, A> {
    return this.#aggregate(options.name, 'aggregate', options.serde as Serde<unknown>, (k, v, a) =>
      aggregator(k as K, v as V, a === undefined ? initializer() : (a as A)),
    );
  }

  windowedBy(definition: WindowDefinition): WindowedKStream<K, V> {
    return new WindowedKStream<K, V>(this.#step, definition);
  }

  #aggregate<A>(name: string, label: string, valueSerde: Serde<unknown>, add: Aggregator) {
    checkName(name, label);
    const input = prepareStateful(this.#step, name, label);
    const serdes = requireSerdes(input.serdes, `${label} ${name}`);
    const { build } = input;
    const store = build.addStore(name, valueSerde, serdes.key);
    build.addProcessor(name, label, [input.node], aggregateProcessor(store, serdes.key, add), [
      store,
    ]);
    return new KTable<K, A>({
      build,
      node: name,
      serdes: { key: serdes.key, value: valueSerde },
      getter: storeGetter(store, serdes.key),
      stores: [store],
    });
  }
}

export class WindowedKStream<K, V> {
  readonly #step: Step;
  readonly #definition: WindowDefinition;

  constructor(step: Step, definition: WindowDefinition) {
    this.#step = step;
    this.#definition = definition;
  }

  count(options: Named): KTable<Windowed<K>, number> {
    const add: Aggregator = (_k, _v, n) => ((n as number | undefined) ?? 0) + 1;
    const merge = (_k: unknown, a: unknown, b: unknown): unknown => (a as number) + (b as number);
    return this.#aggregate(options.name, 'count', numberSerde, add, merge);
  }

  reduce(reducer: (aggregate: V, value: V) => V, options: Named): KTable<Windowed<K>, V> {
    const serdes = requireSerdes(this.#step.serdes, `reduce ${options.name}`);
    const add: Aggregator = (_k, v, a) => (a === undefined ? v : reducer(a as V, v as V));
    const merge = (_k: unknown, a: unknown, b: unknown): unknown => reducer(a as V, b as V);
    return this.#aggregate(options.name, 'reduce', serdes.value, add, merge);
  }

  /** Session windows also need `merge`, which combines two sessions a record bridges. */
  aggregate<A>(
    initializer: () => A,
    aggregator: (key: K, value: V, aggregate: A) => A,
    options: Named & { serde: Serde<A>; merge?: (key: K, a: A, b: A) => A },
  ): KTable<Windowed<K>, A> {
    const add: Aggregator = (k, v, a) =>
      aggregator(k as K, v as V, a === undefined ? initializer() : (a as A));
    const merge = options.merge as ((k: unknown, a: unknown, b: unknown) => unknown) | undefined;
    if (this.#definition.kind === 'session' && merge === undefined) {
      throw new StreamsError(
        'STREAMS_INVALID_WINDOW',
        `aggregate ${options.name} over session windows needs options.merge`,
        { details: { operator: options.name } },
      );
    }
    return this.#aggregate(
      options.name,
      'aggregate',
      options.serde as Serde<unknown>,
      add,
      merge ?? null,
    );
  }

  #aggregate<A>(
    name: string,
    label: string,
    valueSerde: Serde<unknown>,
    add: Aggregator,
    merge: ((k: unknown, a: unknown, b: unknown) => unknown) | null,
  ): KTable<Windowed<K>, A> {
    checkName(name, label);
    const input = prepareStateful(this.#step, name, label);
    const serdes = requireSerdes(input.serdes, `${label} ${name}`);
    const { build } = input;
    const store = build.addStore(name, valueSerde, serdes.key, true);
    const definition = this.#definition;
    // Sliding windows keep each key's raw records in a second store, restored with the first.
    const recordsStore =
      definition.kind === 'sliding'
        ? build.addStore(`${name}-records`, slidingRecordsSerde(serdes.value), serdes.key)
        : undefined;
    const processor = windowAggregateProcessor({
      store,
      keySerde: serdes.key,
      definition,
      add,
      merge,
      ...(recordsStore === undefined ? {} : { recordsStore }),
    });
    build.addProcessor(
      name,
      `${label} (${definition.kind} window, emit ${definition.emit})`,
      [input.node],
      processor,
      recordsStore === undefined ? [store] : [store, recordsStore],
    );
    const keySerde = windowedSerde(serdes.key) as Serde<unknown>;
    return new KTable<Windowed<K>, A>({
      build,
      node: name,
      serdes: { key: keySerde, value: valueSerde },
      getter: storeGetter(store, keySerde),
      stores: [store],
    });
  }
}

/** A table step: the node emitting its changes and how to read its current value per key. */
interface TableStep extends Omit<Step, 'keyChanged'> {
  readonly getter: TableGetterFactory;
  readonly stores: readonly string[];
}

export class KTable<K, V> {
  /** @internal */
  readonly table: TableStep;

  constructor(table: TableStep) {
    this.table = table;
  }

  filter(predicate: (key: K, value: V) => boolean, options: StepOptions = {}): KTable<K, V> {
    const test = (key: unknown, value: unknown): unknown =>
      predicate(key as K, value as V) ? value : null;
    return this.#view('FILTER', test, this.table.serdes, options);
  }

  mapValues<V2>(
    fn: (value: V, key: K) => V2,
    options: StepOptions & { valueSerde?: Serde<V2> } = {},
  ): KTable<K, V2> {
    const serdes = {
      key: this.table.serdes.key,
      value: (options.valueSerde as Serde<unknown> | undefined) ?? null,
    };
    return this.#view('MAPVALUES', (k, v) => fn(v as V, k as K), serdes, options);
  }

  /** The table's changes as a stream of (key, new value); null values are deletions. */
  toStream(options: StepOptions = {}): KStream<K, V | null> {
    const { build } = this.table;
    const name = options.name ?? build.generatedName('KTABLE-TOSTREAM');
    build.addProcessor(name, 'toStream', [this.table.node], tableToStream);
    return new KStream<K, V | null>({
      build,
      node: name,
      serdes: this.table.serdes,
      keyChanged: false,
    });
  }

  join<VO, VR>(
    other: KTable<K, VO>,
    joiner: (value: V, other: VO) => VR,
    options: JoinOptions<VR>,
  ): KTable<K, VR> {
    return this.#join<VR>('inner', other.table, joiner as Joiner, options);
  }

  leftJoin<VO, VR>(
    other: KTable<K, VO>,
    joiner: (value: V, other: VO | null) => VR,
    options: JoinOptions<VR>,
  ): KTable<K, VR> {
    return this.#join<VR>('left', other.table, joiner as Joiner, options);
  }

  outerJoin<VO, VR>(
    other: KTable<K, VO>,
    joiner: (value: V | null, other: VO | null) => VR,
    options: JoinOptions<VR>,
  ): KTable<K, VR> {
    return this.#join<VR>('outer', other.table, joiner as Joiner, options);
  }

  #view<V2>(
    label: string,
    fn: (key: unknown, value: unknown) => unknown,
    serdes: StepSerdes,
    options: StepOptions,
  ): KTable<K, V2> {
    const { build } = this.table;
    const name = options.name ?? build.generatedName(`KTABLE-${label}`);
    build.addProcessor(name, label.toLowerCase(), [this.table.node], tableMapProcessor(fn));
    const parent = this.table.getter;
    const getter: TableGetterFactory = (context) => {
      const read = parent(context);
      return (key) => {
        const value = read(key);
        return value === null ? null : fn(key, value);
      };
    };
    return new KTable<K, V2>({ build, node: name, serdes, getter, stores: this.table.stores });
  }

  #join<VR>(
    kind: JoinKind,
    other: TableStep,
    joiner: Joiner,
    options: JoinOptions<unknown>,
  ): KTable<K, VR> {
    checkName(options.name, 'a join');
    const { build } = this.table;
    build.copartition(options.name, this.table.node, other.node);
    const stores = [...new Set([...this.table.stores, ...other.stores])];
    const sides = [
      build.addProcessor(
        `${options.name}-left`,
        `join(table-table, ${kind}, left)`,
        [this.table.node],
        tableTableJoinProcessor(kind, joiner, 'left', other.getter),
        stores,
      ),
      build.addProcessor(
        `${options.name}-right`,
        `join(table-table, ${kind}, right)`,
        [other.node],
        tableTableJoinProcessor(kind, joiner, 'right', this.table.getter),
        stores,
      ),
    ];
    build.addProcessor(
      options.name,
      'merge',
      sides,
      flatMapProcessor((r) => [r]),
    );
    return new KTable<K, VR>({
      build,
      node: options.name,
      serdes: { key: this.table.serdes.key, value: options.valueSerde ?? null },
      getter: joinedGetter(kind, joiner, this.table.getter, other.getter),
      stores,
    });
  }
}
