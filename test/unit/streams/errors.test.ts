// Goal: a record that does not decode, or whose handler throws, is never swallowed (issue 11
// item 8): by default the task fails with a typed error naming the record; with a dead-letter
// topic the record is skipped there — its bytes, headers naming the error — and counted, and
// processing goes on. Method: the test driver with a JSON source and a throwing mapValues.
import { expect, test } from 'vitest';
import {
  StreamsBuilder,
  StreamsError,
  TopologyTestDriver,
  jsonSerde,
  numberSerde,
  serdes,
  stringSerde,
  type BuilderConfig,
} from '../../../src/streams/index.ts';

const raw = serdes(stringSerde, stringSerde);

function driverFor(config: Partial<BuilderConfig>): TopologyTestDriver {
  const builder = new StreamsBuilder({ applicationId: 'errs', ...config });
  builder
    .stream('in', serdes(stringSerde, jsonSerde<{ n: number }>()))
    .mapValues(
      (v) => {
        if (v.n < 0) throw new Error(`negative ${v.n}`);
        return v.n;
      },
      { valueSerde: numberSerde },
    )
    .groupByKey()
    .count({ name: 'counts' })
    .toStream()
    .to('out', serdes(stringSerde, numberSerde));
  return new TopologyTestDriver(builder.build());
}

test('by default a bad record fails the task with a typed error naming it', () => {
  const driver = driverFor({});
  let caught: unknown;
  try {
    driver.pipe('in', raw, 'k', '{not json');
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(StreamsError);
  expect((caught as StreamsError).code).toBe('STREAMS_DESERIALIZATION');
  expect((caught as StreamsError).details).toMatchObject({ topic: 'in', offset: 0 });
  const second = driverFor({});
  expect(() => second.pipe('in', raw, 'k', '{"n":-1}')).toThrow(
    expect.objectContaining({ code: 'STREAMS_HANDLER' }),
  );
});

test('with a dead-letter topic, bad records go there with their error and the rest goes on', () => {
  const driver = driverFor({ onError: { deadLetterTopic: 'errs-dlq' } });
  driver.pipe('in', raw, 'k', '{"n":1}');
  driver.pipe('in', raw, 'k', '{not json');
  driver.pipe('in', raw, 'k', '{"n":-5}');
  driver.pipe('in', raw, 'k', '{"n":2}');
  const out = driver.readOutput('out', serdes(stringSerde, numberSerde));
  expect(out.map((r) => r.value)).toEqual([1, 2]);
  const dead = driver.readOutput('errs-dlq', raw);
  expect(dead.map((r) => r.value)).toEqual(['{not json', '{"n":-5}']);
  expect(dead[0]?.headers).toMatchObject({
    'rill.error.code': 'STREAMS_DESERIALIZATION',
    'rill.error.topic': 'in',
    'rill.error.offset': '1',
  });
  expect(dead[1]?.headers['rill.error.code']).toBe('STREAMS_HANDLER');
  expect(dead[1]?.headers['rill.error.message']).toContain('negative -5');
  const deadLettered = Object.values(driver.metrics()).reduce((n, m) => n + m.deadLettered, 0);
  expect(deadLettered).toBe(2);
});
