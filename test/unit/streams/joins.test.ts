// Goal: stream–table, table–table and windowed stream–stream joins emit what their
// definitions say, and inputs that are not co-partitioned are refused at start naming both
// topics. Method: pipe records through TopologyTestDriver and read the joined output.
import { expect, test } from 'vitest';
import {
  StreamsBuilder,
  StreamsError,
  TopologyTestDriver,
  joinWindows,
  serdes,
  stringSerde,
} from '../../../src/streams/index.ts';

const text = serdes(stringSerde, stringSerde);

function values(driver: TopologyTestDriver, topic: string): string[] {
  return driver.readOutput(topic, text).map((r) => `${r.key}:${r.value}`);
}

test('stream–table inner and left joins use the table as it is when the record arrives', () => {
  const builder = new StreamsBuilder({ applicationId: 'st' });
  const users = builder.table('users', text, { name: 'users' });
  const clicks = builder.stream('clicks', text);
  clicks.join(users, (c, u) => `${c}/${u}`, { name: 'inner' }).to('inner', text);
  clicks.leftJoin(users, (c, u) => `${c}/${u ?? '-'}`, { name: 'left' }).to('left', text);
  const driver = new TopologyTestDriver(builder.build(), { defaultPartitions: 2 });
  driver.pipe('clicks', text, 'u1', 'c1');
  driver.pipe('users', text, 'u1', 'eu');
  driver.pipe('clicks', text, 'u1', 'c2');
  driver.pipe('users', text, 'u1', null);
  driver.pipe('clicks', text, 'u1', 'c3');
  expect(values(driver, 'inner')).toEqual(['u1:c2/eu']);
  expect(values(driver, 'left')).toEqual(['u1:c1/-', 'u1:c2/eu', 'u1:c3/-']);
});

test('a re-keyed stream is repartitioned before it joins a table', () => {
  const builder = new StreamsBuilder({ applicationId: 'rk' });
  const regions = builder.table('regions', text, { name: 'regions' });
  builder
    .stream('views', text)
    .selectKey((_k, user) => user, { keySerde: stringSerde })
    .join(regions, (page, region) => `${page}@${region}`, { name: 'by-user' })
    .to('out', text);
  const driver = new TopologyTestDriver(builder.build(), { defaultPartitions: 4 });
  for (let i = 0; i < 8; i += 1) driver.pipe('regions', text, `user${i}`, `r${i % 3}`);
  for (let i = 0; i < 8; i += 1) driver.pipe('views', text, `page${i}`, `user${i}`);
  expect(values(driver, 'out').sort()).toEqual(
    Array.from({ length: 8 }, (_, i) => `user${i}:user${i}@r${i % 3}`).sort(),
  );
  expect(driver.describe()).toContain('rk-by-user-repartition');
});

test('table–table inner, left and outer joins follow both sides', () => {
  const builder = new StreamsBuilder({ applicationId: 'tt' });
  const left = builder.table('l', text, { name: 'l' });
  const right = builder.table('r', text, { name: 'r' });
  const pair = (a: string | null, b: string | null) => `${a ?? '-'}+${b ?? '-'}`;
  left.join(right, pair, { name: 'inner' }).toStream().to('inner', text);
  left.leftJoin(right, pair, { name: 'left' }).toStream().to('left', text);
  left.outerJoin(right, pair, { name: 'outer' }).toStream().to('outer', text);
  const driver = new TopologyTestDriver(builder.build());
  driver.pipe('l', text, 'k', 'a');
  driver.pipe('r', text, 'k', 'x');
  driver.pipe('l', text, 'k', null);
  driver.pipe('r', text, 'k', null);
  expect(values(driver, 'inner')).toEqual(['k:a+x', 'k:null']);
  expect(values(driver, 'left')).toEqual(['k:a+-', 'k:a+x', 'k:null']);
  expect(values(driver, 'outer')).toEqual(['k:a+-', 'k:a+x', 'k:-+x', 'k:null']);
});

test('stream–stream joins pair records within the window; left/outer emit the unmatched', () => {
  const builder = new StreamsBuilder({ applicationId: 'ss' });
  const a = builder.stream('a', text);
  const b = builder.stream('b', text);
  const windows = joinWindows(10, { graceMs: 0 });
  const pair = (x: string | null, y: string | null) => `${x ?? '-'}+${y ?? '-'}`;
  a.joinWindowed(b, pair, windows, { name: 'inner' }).to('inner', text);
  a.leftJoinWindowed(b, pair, windows, { name: 'left' }).to('left', text);
  a.outerJoinWindowed(b, pair, windows, { name: 'outer' }).to('outer', text);
  const driver = new TopologyTestDriver(builder.build());
  driver.pipe('a', text, 'k', 'a0', { timestampMs: 0 });
  driver.pipe('b', text, 'k', 'b5', { timestampMs: 5 });
  driver.pipe('b', text, 'k', 'b30', { timestampMs: 30 });
  driver.pipe('a', text, 'k', 'a31', { timestampMs: 31 });
  driver.pipe('a', text, 'k', 'a45', { timestampMs: 45 });
  driver.pipe('a', text, 'k', 'a100', { timestampMs: 100 }); // Closes every earlier record.
  expect(values(driver, 'inner')).toEqual(['k:a0+b5', 'k:a31+b30']);
  expect(values(driver, 'left')).toEqual(['k:a0+b5', 'k:a31+b30', 'k:a45+-']);
  expect(values(driver, 'outer')).toEqual(['k:a0+b5', 'k:a31+b30', 'k:a45+-']);
  driver.pipe('b', text, 'k', 'b200', { timestampMs: 200 });
  driver.pipe('b', text, 'k', 'b500', { timestampMs: 500 });
  expect(values(driver, 'outer')).toEqual(['k:a100+-', 'k:-+b200']);
  driver.pipe('a', text, 'k', 'late', { timestampMs: 1 });
  expect(driver.lateDropped()).toBe(3); // Once per join.
});

test('joining topics of different partition counts fails at start naming both', () => {
  const builder = new StreamsBuilder({ applicationId: 'cp' });
  const users = builder.table('users', text, { name: 'users' });
  builder
    .stream('clicks', text)
    .join(users, (c, u) => c + u, { name: 'j' })
    .to('out', text);
  const topology = builder.build();
  let error: unknown = null;
  try {
    new TopologyTestDriver(topology, { partitions: { users: 2, clicks: 3 } });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(StreamsError);
  expect((error as StreamsError).code).toBe('STREAMS_NOT_COPARTITIONED');
  expect((error as Error).message).toMatch(/clicks has 3 partitions, users has 2/);
});
