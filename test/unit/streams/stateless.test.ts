// Goal: each stateless operator and grouped aggregation does what its definition says, on the
// real engine over multi-partition topics. Method: build a topology, pipe records through
// TopologyTestDriver, compare the output topics and stores with the expected values.
import { expect, test } from 'vitest';
import {
  StreamsBuilder,
  StreamsError,
  TopologyTestDriver,
  numberSerde,
  serdes,
  stringSerde,
  jsonSerde,
} from '../../../src/streams/index.ts';

const text = serdes(stringSerde, stringSerde);
const counts = serdes(stringSerde, numberSerde);

function latest<V>(records: readonly { key: string | null; value: V | null }[]): Map<string, V> {
  const map = new Map<string, V>();
  for (const r of records) if (r.key !== null && r.value !== null) map.set(r.key, r.value);
  return map;
}

function wordCount(partitions: number): TopologyTestDriver {
  const builder = new StreamsBuilder({ applicationId: 'wc' });
  builder
    .stream('lines', text)
    .flatMapValues((line) =>
      line
        .toLowerCase()
        .split(/[^\p{L}\p{N}_]+/u)
        .filter(Boolean),
    )
    .groupBy((_key, word) => word, { keySerde: stringSerde, valueSerde: stringSerde })
    .count({ name: 'word-counts' })
    .toStream()
    .to('counts', serdes(stringSerde, numberSerde));
  return new TopologyTestDriver(builder.build(), {
    partitions: { lines: partitions, counts: partitions },
  });
}

test("word count over 3 partitions gives Kafka's canonical counts, Cyrillic included", () => {
  const driver = wordCount(3);
  const lines = ['all streams lead to kafka', 'hello kafka streams', 'join kafka summit'];
  lines.forEach((line, i) => driver.pipe('lines', text, `k${i}`, line, { timestampMs: i }));
  driver.pipe('lines', text, 'ru', 'Привет мир, привет', { timestampMs: 4 });
  const result = latest(driver.readOutput('counts', counts));
  expect(result.get('kafka')).toBe(3);
  expect(result.get('streams')).toBe(2);
  expect(result.get('привет')).toBe(2);
  expect(result.get('мир')).toBe(1);
  for (const word of ['all', 'lead', 'to', 'hello', 'join', 'summit']) {
    expect(result.get(word)).toBe(1);
  }
  // The repartition topic spread words over its 3 partitions, so 3 tasks counted.
  const counting = Object.entries(driver.metrics()).filter(([, m]) => m.processed > 0);
  expect(counting.length).toBeGreaterThan(3);
  expect(driver.partitionCount('wc-word-counts-repartition')).toBe(3);
  expect(driver.describe()).toContain('wc-word-counts-repartition');
  expect(driver.describe()).toContain('word-counts (changelog: wc-word-counts-changelog)');
});

test('every count change is in the changelog, the last one per key per commit', () => {
  const driver = wordCount(1);
  driver.pipe('lines', text, 'a', 'x x x', { timestampMs: 1 });
  const changes = driver.changelog('word-counts');
  expect(changes).toHaveLength(1);
  expect(new TextDecoder().decode(changes[0]?.value ?? new Uint8Array())).toBe('3');
});

test('filter, map, mapValues, selectKey, peek, merge and split route records', () => {
  const builder = new StreamsBuilder({ applicationId: 'ops' });
  const seen: string[] = [];
  const input = builder.stream('in', text).peek((k) => seen.push(k));
  const { short, long } = input.split({
    short: (_k, v) => v.length <= 3,
    long: () => true,
  });
  short.mapValues((v) => v.toUpperCase(), { valueSerde: stringSerde }).to('short');
  long.filter((_k, v) => !v.startsWith('x')).to('long');
  input
    .map((k, v) => [v, k.length] as const, { serdes: serdes(stringSerde, numberSerde) })
    .merge(
      input
        .selectKey((k) => `${k}!`, { keySerde: stringSerde })
        .mapValues(() => 0, {
          valueSerde: numberSerde,
        }),
    )
    .to('mixed');
  const driver = new TopologyTestDriver(builder.build(), { partitions: { in: 2 } });
  for (const [k, v] of [
    ['a', 'abc'],
    ['bb', 'abcdef'],
    ['c', 'xyzzy'],
  ] as const) {
    driver.pipe('in', text, k, v);
  }
  expect(seen.sort()).toEqual(['a', 'bb', 'c']);
  expect(driver.readOutput('short', text).map((r) => r.value)).toEqual(['ABC']);
  expect(driver.readOutput('long', text).map((r) => r.value)).toEqual(['abcdef']);
  const mixed = driver.readOutput('mixed', counts).map((r) => `${r.key}=${r.value}`);
  expect(mixed.sort()).toEqual(['a!=0', 'abc=1', 'abcdef=2', 'bb!=0', 'c!=0', 'xyzzy=1']);
});

test('reduce and aggregate keep per-key state; a null key is dropped and counted', () => {
  const builder = new StreamsBuilder({ applicationId: 'agg' });
  const grouped = builder.stream('in', counts).groupByKey();
  grouped
    .reduce((a, b) => Math.max(a, b), { name: 'max' })
    .toStream()
    .to('max');
  grouped
    .aggregate(
      () => ({ sum: 0, n: 0 }),
      (_k, v, a) => ({ sum: a.sum + v, n: a.n + 1 }),
      {
        name: 'avg',
        serde: jsonSerde<{ sum: number; n: number }>(),
      },
    )
    .mapValues((a) => a.sum / a.n, { valueSerde: numberSerde })
    .toStream()
    .to('avg');
  const driver = new TopologyTestDriver(builder.build(), { defaultPartitions: 2 });
  for (const [k, v] of [
    ['a', 1],
    ['a', 5],
    ['b', 2],
    ['a', 3],
  ] as const) {
    driver.pipe('in', counts, k, v);
  }
  driver.pipe('in', counts, null, 7);
  expect(latest(driver.readOutput('max', counts))).toEqual(
    new Map([
      ['a', 5],
      ['b', 2],
    ]),
  );
  expect(latest(driver.readOutput('avg', counts))).toEqual(
    new Map([
      ['a', 3],
      ['b', 2],
    ]),
  );
  const dropped = Object.values(driver.metrics()).reduce((s, m) => s + m.nullKeyDropped, 0);
  expect(dropped).toBe(2); // Once per aggregation.
});

test('a stateful operator without a valid name, or with a reused one, fails at build time', () => {
  const builder = new StreamsBuilder({ applicationId: 'names' });
  const grouped = builder.stream('in', text).groupByKey();
  expect(() => grouped.count({ name: '' })).toThrow(StreamsError);
  grouped.count({ name: 'c' });
  const error = (() => {
    try {
      grouped.count({ name: 'c' });
    } catch (e) {
      return e;
    }
    return null;
  })();
  expect(error).toBeInstanceOf(StreamsError);
  expect((error as StreamsError).code).toBe('STREAMS_DUPLICATE_NAME');
});

test('a key change without serdes fails when a stateful operator needs a repartition', () => {
  const builder = new StreamsBuilder({ applicationId: 'serdes' });
  const rekeyed = builder.stream('in', text).map((k, v) => [v, k] as const);
  expect(() => rekeyed.groupByKey().count({ name: 'n' })).toThrow(/needs the key and value serdes/);
});

test('a deserialization error names the topic, partition and offset', () => {
  const builder = new StreamsBuilder({ applicationId: 'bad' });
  builder.stream('in', serdes(stringSerde, jsonSerde<{ a: number }>())).to('out');
  const driver = new TopologyTestDriver(builder.build());
  const raw = serdes(stringSerde, stringSerde);
  expect(() => driver.pipe('in', raw, 'k', '{not json')).toThrow(/cannot decode record in\/0@0/);
});
