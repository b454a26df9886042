// Partition counts at start-up, before any record is read: every external input topic must
// exist; a repartition topic gets the largest count of the inputs of the subtopology writing
// it, or, when a join reads it, the count of the join's other side; then every join's inputs
// must have one count (co-partitioned), else STREAMS_NOT_COPARTITIONED names both topics.
import { StreamsError } from './errors.ts';
import type { Topology } from './topology.ts';

/** Partition count per topic, for every topic the topology reads. */
export function resolvePartitionCounts(
  topology: Topology,
  known: (topic: string) => number | undefined,
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const topic of topology.externalSourceTopics()) {
    const count = known(topic);
    if (count === undefined) {
      throw new StreamsError('STREAMS_UNKNOWN_TOPIC', `input topic ${topic} does not exist`, {
        details: { topic },
      });
    }
    counts.set(topic, count);
  }
  // A fixed point: each round resolves at least one more repartition topic or stops.
  for (let round = 0; round <= topology.repartitionTopics.size * 2 + 1; round += 1) {
    if (!resolveRound(topology, counts)) break;
  }
  for (const topic of topology.repartitionTopics) {
    if (!counts.has(topic)) counts.set(topic, 1);
  }
  checkCopartitioning(topology, counts);
  return counts;
}

function resolveRound(topology: Topology, counts: Map<string, number>): boolean {
  let changed = false;
  const set = (topic: string, count: number): void => {
    if (counts.get(topic) === count) return;
    counts.set(topic, count);
    changed = true;
  };
  for (const sub of topology.subtopologies) {
    const inputs = sub.sourceTopics.map((topic) => counts.get(topic));
    if (inputs.some((count) => count === undefined)) continue;
    const count = Math.max(...(inputs as number[]));
    for (const topic of sub.sinkTopics) {
      if (topology.repartitionTopics.has(topic) && !counts.has(topic)) set(topic, count);
    }
  }
  for (const group of topology.copartitionGroups) {
    const topics = group.sides.flatMap((side) => topology.sourceTopicsOf(side));
    const external = topics.filter((t) => !topology.repartitionTopics.has(t));
    const basis = (external.length > 0 ? external : topics).map((t) => counts.get(t));
    if (basis.some((count) => count === undefined)) continue;
    const target = Math.max(...(basis as number[]));
    for (const topic of topics) if (topology.repartitionTopics.has(topic)) set(topic, target);
  }
  return changed;
}

function checkCopartitioning(topology: Topology, counts: Map<string, number>): void {
  for (const group of topology.copartitionGroups) {
    const [left, right] = group.sides.map((side) => topology.sourceTopicsOf(side)) as [
      string[],
      string[],
    ];
    const all = [...left, ...right];
    const first = all[0];
    if (first === undefined) continue;
    for (const topic of all) {
      const [a, b] = [counts.get(first), counts.get(topic)];
      if (a === b) continue;
      throw new StreamsError(
        'STREAMS_NOT_COPARTITIONED',
        `${group.operator} joins topics that are not co-partitioned: ` +
          `${first} has ${a} partitions, ${topic} has ${b}; give them one partition count ` +
          'and key, or re-key one side (selectKey) so it is repartitioned',
        { details: { operator: group.operator, topics: { [first]: a, [topic]: b } } },
      );
    }
  }
}
