// Goal: joins equal a nested-loop model. Stream–stream (inner, left, outer): every pair of
// non-late records of one key within withinMs, plus — for left/outer — each non-late record
// with no partner, once stream time has passed t + 2·within + grace (no partner can come).
// Lateness follows the definition: late when t + within + grace < stream time of its
// partition. Table–table (inner, left, outer): the final joined table is the join of both
// sides' last values per key. Method: fast-check, 2 partitions. Replay with
// STREAMS_JOIN_SEED=<seed printed below>.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { partitionForKey } from '../../../src/api/client/index.ts';
import {
  StreamsBuilder,
  TopologyTestDriver,
  joinWindows,
  serdes,
  stringSerde,
} from '../../../src/streams/index.ts';

const partitions = 2;
const text = serdes(stringSerde, stringSerde);
type Kind = 'inner' | 'left' | 'outer';

interface Event {
  readonly side: 'a' | 'b';
  readonly key: string;
  readonly t: number;
  readonly id: string;
}

const partitionOf = (key: string) => partitionForKey(stringSerde.serialize(key), partitions);

function streamJoinModel(events: readonly Event[], kind: Kind, within: number, grace: number) {
  const streamTime = new Map<number, number>();
  const kept: Event[] = [];
  for (const e of events) {
    const p = partitionOf(e.key);
    const st = Math.max(streamTime.get(p) ?? -1, e.t);
    streamTime.set(p, st);
    if (e.t + within + grace >= st) kept.push(e);
  }
  const out: string[] = [];
  const matched = new Set<string>();
  for (const a of kept.filter((e) => e.side === 'a')) {
    for (const b of kept.filter((e) => e.side === 'b')) {
      if (a.key !== b.key || Math.abs(a.t - b.t) > within) continue;
      out.push(`${a.key}:${a.id}+${b.id}`);
      matched.add(a.id).add(b.id);
    }
  }
  for (const e of kept) {
    const closed = e.t + 2 * within + grace < (streamTime.get(partitionOf(e.key)) ?? -1);
    if (!closed || matched.has(e.id)) continue;
    if (e.side === 'a' && kind !== 'inner') out.push(`${e.key}:${e.id}+-`);
    if (e.side === 'b' && kind === 'outer') out.push(`${e.key}:-+${e.id}`);
  }
  return out.sort();
}

const eventsArb = fc
  .array(
    fc.record({
      side: fc.constantFrom<'a' | 'b'>('a', 'b'),
      key: fc.constantFrom('k1', 'k2', 'k3'),
      jitter: fc.integer({ min: -30, max: 10 }),
    }),
    { maxLength: 50 },
  )
  .map((raw) =>
    raw.map((r, i) => ({
      side: r.side,
      key: r.key,
      t: Math.max(0, i * 4 + r.jitter),
      id: `${r.side}${i}`,
    })),
  );

function seedOf(): number {
  const seed = Number(process.env.STREAMS_JOIN_SEED ?? Date.now() % 2 ** 31);
  console.log(`joins seed: ${seed} (STREAMS_JOIN_SEED=${seed} to replay)`);
  return seed;
}

test('windowed stream–stream joins equal the nested-loop model', () => {
  const shape = fc.record({
    kind: fc.constantFrom<Kind>('inner', 'left', 'outer'),
    within: fc.integer({ min: 0, max: 15 }),
    grace: fc.integer({ min: 0, max: 15 }),
  });
  fc.assert(
    fc.property(eventsArb, shape, (events, { kind, within, grace }) => {
      const builder = new StreamsBuilder({ applicationId: 'ssj' });
      const [a, b] = [builder.stream('a', text), builder.stream('b', text)];
      const joiner = (x: string | null, y: string | null) => `${x ?? '-'}+${y ?? '-'}`;
      const windows = joinWindows(within, { graceMs: grace });
      const joined =
        kind === 'inner'
          ? a.joinWindowed(b, joiner, windows, { name: 'j' })
          : kind === 'left'
            ? a.leftJoinWindowed(b, joiner, windows, { name: 'j' })
            : a.outerJoinWindowed(b, joiner, windows, { name: 'j' });
      joined.to('out', text);
      const driver = new TopologyTestDriver(builder.build(), { defaultPartitions: partitions });
      for (const e of events) driver.pipe(e.side, text, e.key, e.id, { timestampMs: e.t });
      const got = driver.readOutput('out', text).map((r) => `${r.key}:${r.value}`);
      expect(got.sort()).toEqual(streamJoinModel(events, kind, within, grace));
    }),
    { seed: seedOf(), numRuns: 150 },
  );
});

test('table–table joins end with the join of both sides’ last values', () => {
  const update = fc.record({
    side: fc.constantFrom<'a' | 'b'>('a', 'b'),
    key: fc.constantFrom('k1', 'k2', 'k3', 'k4'),
    value: fc.option(fc.constantFrom('x', 'y', 'z'), { nil: null }),
  });
  const kindArb = fc.constantFrom<Kind>('inner', 'left', 'outer');
  fc.assert(
    fc.property(fc.array(update, { maxLength: 40 }), kindArb, (updates, kind) => {
      const builder = new StreamsBuilder({ applicationId: 'ttj' });
      const [a, b] = [
        builder.table('a', text, { name: 'a' }),
        builder.table('b', text, { name: 'b' }),
      ];
      const joiner = (x: string | null, y: string | null) => `${x ?? '-'}+${y ?? '-'}`;
      const options = { name: 'j', valueSerde: stringSerde };
      const joined =
        kind === 'inner'
          ? a.join(b, joiner, options)
          : kind === 'left'
            ? a.leftJoin(b, joiner, options)
            : a.outerJoin(b, joiner, options);
      joined.toStream().to('out', text);
      const driver = new TopologyTestDriver(builder.build(), { defaultPartitions: partitions });
      const last = { a: new Map<string, string>(), b: new Map<string, string>() };
      for (const u of updates) {
        driver.pipe(u.side, text, u.key, u.value);
        if (u.value === null) last[u.side].delete(u.key);
        else last[u.side].set(u.key, u.value);
      }
      const got = new Map<string, string>();
      for (const r of driver.readOutput('out', text)) {
        if (r.value === null) got.delete(r.key ?? '');
        else got.set(r.key ?? '', r.value);
      }
      const expected = new Map<string, string>();
      for (const key of ['k1', 'k2', 'k3', 'k4']) {
        const [x, y] = [last.a.get(key) ?? null, last.b.get(key) ?? null];
        const present =
          kind === 'inner'
            ? x !== null && y !== null
            : kind === 'left'
              ? x !== null
              : x !== null || y !== null;
        if (present) expected.set(key, joiner(x, y));
      }
      expect(got).toEqual(expected);
    }),
    { seed: seedOf(), numRuns: 150 },
  );
});
