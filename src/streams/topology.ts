// A topology: the graph of sources, processors and sinks a StreamsBuilder built, with its
// stores and internal topics. Immutable once built. It splits into subtopologies (connected by
// edges or by a shared store; a repartition topic cuts the graph), and each subtopology runs as
// one task per partition. Node and store names are unique; stores and internal topics take
// their names from the operator name the user gave, never from a position in the graph.
import { assert } from '../common/index.ts';
import { StreamsError } from './errors.ts';
import type { ProcessorFactory } from './processor.ts';
import type { Serdes } from './serdes.ts';
import type { StoreConfig } from './state-store.ts';

export type NodeKind = 'source' | 'processor' | 'sink';

/** What a record that does not decode or whose handler throws does (BuilderConfig.onError). */
export type ErrorPolicy = 'fail' | { readonly deadLetterTopic: string };

export interface NodeDef {
  readonly name: string;
  readonly kind: NodeKind;
  /** What the node does, for describe(): `filter`, `count`, `join(inner)`, … */
  readonly label: string;
  readonly parents: readonly string[];
  readonly stores: readonly string[];
  /** Sources: the topics read; sinks: the one topic written; processors: none. */
  readonly topics: readonly string[];
  /** Sources: how to decode input; sinks: how to encode output. */
  readonly serdes: Serdes<unknown, unknown> | null;
  readonly create: ProcessorFactory;
}

export interface StoreDef extends StoreConfig {
  readonly changelogTopic: string;
}

/** Two upstream nodes whose input topics a join needs co-partitioned. */
export interface CopartitionGroup {
  readonly operator: string;
  readonly sides: readonly [string, string];
}

export interface Subtopology {
  readonly id: number;
  /** In insertion order, which is a topological order (parents are added first). */
  readonly nodes: readonly string[];
  readonly sourceTopics: readonly string[];
  readonly sinkTopics: readonly string[];
  readonly stores: readonly string[];
}

export class Topology {
  readonly applicationId: string;
  readonly nodes: ReadonlyMap<string, NodeDef>;
  readonly stores: ReadonlyMap<string, StoreDef>;
  readonly repartitionTopics: ReadonlySet<string>;
  readonly copartitionGroups: readonly CopartitionGroup[];
  readonly subtopologies: readonly Subtopology[];
  readonly onError: ErrorPolicy;
  readonly #children = new Map<string, string[]>();

  constructor(parts: {
    applicationId: string;
    nodes: readonly NodeDef[];
    stores: readonly StoreDef[];
    repartitionTopics: readonly string[];
    copartitionGroups: readonly CopartitionGroup[];
    onError?: ErrorPolicy;
  }) {
    this.applicationId = parts.applicationId;
    this.nodes = uniqueByName(parts.nodes, 'node');
    this.stores = uniqueByName(parts.stores, 'store');
    this.repartitionTopics = new Set(parts.repartitionTopics);
    this.copartitionGroups = parts.copartitionGroups;
    for (const node of parts.nodes) {
      this.#children.set(node.name, []);
      for (const parent of node.parents) {
        const siblings = this.#children.get(parent);
        assert(siblings !== undefined, `node ${node.name} names parent ${parent} added after it`);
        siblings.push(node.name);
      }
    }
    this.onError = parts.onError ?? 'fail';
    const deadLetter = this.onError === 'fail' ? [] : [this.onError.deadLetterTopic];
    this.subtopologies = splitSubtopologies(parts.nodes).map((sub) => ({
      ...sub,
      sinkTopics: [...sub.sinkTopics, ...deadLetter],
    }));
  }

  children(name: string): readonly string[] {
    return this.#children.get(name) ?? [];
  }

  node(name: string): NodeDef {
    const node = this.nodes.get(name);
    assert(node !== undefined, `no node ${name}`);
    return node;
  }

  /** The topics read by sources upstream of `name` (within its subtopology). */
  sourceTopicsOf(name: string): string[] {
    const topics = new Set<string>();
    const stack = [name];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const node = this.node(stack.pop() as string);
      if (seen.has(node.name)) continue;
      seen.add(node.name);
      if (node.kind === 'source') for (const topic of node.topics) topics.add(topic);
      stack.push(...node.parents);
    }
    return [...topics];
  }

  /** Every topic the topology reads and is not its own repartition topic. */
  externalSourceTopics(): string[] {
    const topics = new Set<string>();
    for (const node of this.nodes.values()) {
      if (node.kind !== 'source') continue;
      for (const topic of node.topics) if (!this.repartitionTopics.has(topic)) topics.add(topic);
    }
    return [...topics];
  }

  /** A readable outline: subtopologies, their sources, processors, stores and sinks. */
  describe(): string {
    const lines = [`Topology of ${this.applicationId}:`];
    for (const sub of this.subtopologies) {
      lines.push(`  Sub-topology ${sub.id}`);
      for (const name of sub.nodes) lines.push(`    ${this.#describeNode(this.node(name))}`);
    }
    lines.push('  Stores:');
    for (const store of this.stores.values()) {
      lines.push(`    ${store.name} (changelog: ${store.changelogTopic})`);
    }
    lines.push(`  Repartition topics: ${[...this.repartitionTopics].join(', ') || '(none)'}`);
    return lines.join('\n');
  }

  #describeNode(node: NodeDef): string {
    const children = this.children(node.name);
    const parts = [`${node.kind} ${node.name}: ${node.label}`];
    if (node.topics.length > 0) parts.push(`topics [${node.topics.join(', ')}]`);
    if (node.stores.length > 0) parts.push(`stores [${node.stores.join(', ')}]`);
    if (children.length > 0) parts.push(`--> ${children.join(', ')}`);
    return parts.join(' ');
  }
}

function uniqueByName<T extends { readonly name: string }>(
  items: readonly T[],
  what: string,
): ReadonlyMap<string, T> {
  const byName = new Map<string, T>();
  for (const item of items) {
    if (byName.has(item.name)) {
      throw new StreamsError('STREAMS_DUPLICATE_NAME', `two ${what}s are named ${item.name}`, {
        details: { name: item.name },
      });
    }
    byName.set(item.name, item);
  }
  return byName;
}

/** Connected components over parent edges and shared stores, numbered by first node. */
function splitSubtopologies(nodes: readonly NodeDef[]): Subtopology[] {
  const root = new Map<string, string>();
  const find = (name: string): string => {
    let at = name;
    while (root.get(at) !== at) at = root.get(at) as string;
    root.set(name, at);
    return at;
  };
  const union = (a: string, b: string): void => {
    root.set(find(a), find(b));
  };
  const storeOwner = new Map<string, string>();
  for (const node of nodes) {
    root.set(node.name, node.name);
    for (const parent of node.parents) union(node.name, parent);
    for (const store of node.stores) {
      const owner = storeOwner.get(store);
      if (owner === undefined) storeOwner.set(store, node.name);
      else union(node.name, owner);
    }
  }
  const groups = new Map<string, NodeDef[]>();
  for (const node of nodes) {
    const key = find(node.name);
    const group = groups.get(key) ?? [];
    group.push(node);
    groups.set(key, group);
  }
  return [...groups.values()].map((group, id) => ({
    id,
    nodes: group.map((node) => node.name),
    sourceTopics: group.filter((n) => n.kind === 'source').flatMap((n) => n.topics),
    sinkTopics: group.filter((n) => n.kind === 'sink').flatMap((n) => n.topics),
    stores: [...new Set(group.flatMap((n) => n.stores))],
  }));
}
