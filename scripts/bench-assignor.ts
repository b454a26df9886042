// Times the server-side assignors on a large group: 100 members over 100 topics × 100
// partitions, with one subscription for all and with mixed ones; `uniform` from scratch, a
// sticky `uniform` pass after one member joins, and `range`. Three interleaved rounds, min /
// median / max per case, and the load average (the machine is shared). Run:
// npx tsx scripts/bench-assignor.ts
import { loadavg } from 'node:os';
import { assign, type AssignorMember } from '../src/broker/group/index.ts';

const topics = 100;
const partitionsPerTopic = 100;
const memberCount = 100;
const rounds = 3;

const counts = new Map<string, number>();
for (let t = 0; t < topics; t += 1) counts.set(`t${t}`, partitionsPerTopic);
const partitionCount = (topic: string): number | null => counts.get(topic) ?? null;
const id = (i: number): string => `m${String(i).padStart(3, '0')}`;

function members(n: number, mixed: boolean, previous?: Map<string, Set<string>>): AssignorMember[] {
  const names = [...counts.keys()];
  return Array.from({ length: n }, (_, i) => ({
    memberId: id(i),
    topics: new Set(names.filter((_, t) => !mixed || (t + i) % 3 !== 0)),
    previous: previous?.get(id(i)) ?? new Set<string>(),
  }));
}

function timed(run: () => unknown): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

const samples = new Map<string, number[]>();
const add = (name: string, ms: number): void => {
  samples.set(name, [...(samples.get(name) ?? []), ms]);
};
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
for (let round = 0; round < rounds; round += 1) {
  for (const mixed of [false, true]) {
    const kind = mixed ? 'mixed' : 'same';
    let first = new Map<string, Set<string>>();
    add(
      `uniform fresh (${kind})`,
      timed(() => (first = assign('uniform', members(memberCount, mixed), partitionCount))),
    );
    add(
      `uniform +1 member, sticky (${kind})`,
      timed(() => assign('uniform', members(memberCount + 1, mixed, first), partitionCount)),
    );
    add(
      `range (${kind})`,
      timed(() => assign('range', members(memberCount, mixed), partitionCount)),
    );
  }
}
console.log(`${memberCount} members, ${topics * partitionsPerTopic} partitions, ${rounds} rounds:`);
for (const [name, list] of samples) {
  const sorted = [...list].sort((a, b) => a - b);
  const [min, median, max] = [sorted[0], sorted[Math.floor(sorted.length / 2)], sorted.at(-1)];
  console.log(
    `  ${name}: min ${min?.toFixed(1)} ms, median ${median?.toFixed(1)} ms, ` +
      `max ${max?.toFixed(1)} ms`,
  );
}
console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
