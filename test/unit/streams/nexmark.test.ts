// Goal: Nexmark Q0-Q8 written with the DSL (scripts/nexmark-queries.ts) give exactly what the
// in-memory model of each query's definition gives (scripts/nexmark-model.ts), as issue 11's
// CI check on a small event count. Method: the deterministic generator's events piped in
// event-time order through each query on the test driver; final results compared as multisets.
// Replay with NEXMARK_SEED=<seed printed below>.
import { expect, test } from 'vitest';
import { TopologyTestDriver, jsonSerde, serdes, stringSerde } from '../../../src/streams/index.ts';
import { canonicalRows, generateEvents, models, type Row } from '../../../scripts/nexmark-model.ts';
import {
  eventRecord,
  eventTimeOf,
  finalRows,
  nexmarkQuery,
  queryNames,
} from '../../../scripts/nexmark-queries.ts';

const seed = Number(process.env.NEXMARK_SEED ?? Date.now() % 100_000);
const events = generateEvents(2_500, seed);
const raw = serdes(stringSerde, jsonSerde<unknown>());

test.each(queryNames)('nexmark %s matches its model', (name) => {
  console.log(`nexmark seed: ${seed} (NEXMARK_SEED=${seed} to replay)`);
  const query = nexmarkQuery(name);
  const driver = new TopologyTestDriver(query.topology, { defaultPartitions: 1 });
  for (const event of events) {
    const { topic, key, value } = eventRecord(event);
    driver.pipe(topic, raw, key, value, { timestampMs: eventTimeOf(event) });
  }
  const out = driver.readOutput(query.output, serdes(stringSerde, jsonSerde<Row | null>()));
  const actual = canonicalRows(finalRows(query.kind, out));
  const expected = canonicalRows(models[name]?.(events) ?? []);
  expect(expected.length).toBeGreaterThan(0);
  expect(actual).toEqual(expected);
});
