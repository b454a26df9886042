// Goal: examples/page-view-region.ts counts page views per region in 5-minute windows that
// advance every minute: views re-keyed by user, left-joined to the user → region table (a user
// without a region counts as `unknown`), and a region change applies to later views only.
// Method: the topology on the test driver with 3-partition inputs; the last count per window.
import { expect, test } from 'vitest';
import {
  TopologyTestDriver,
  jsonSerde,
  numberSerde,
  serdes,
  stringSerde,
} from '../../../src/streams/index.ts';
import { pageViewRegionTopology, type PageView } from '../../../examples/page-view-region.ts';

test('page views per region in hopping 5-minute windows', () => {
  const topology = pageViewRegionTopology('pvr', 'views', 'users', 'out');
  const driver = new TopologyTestDriver(topology, { defaultPartitions: 3 });
  const users = serdes(stringSerde, stringSerde);
  const views = serdes(stringSerde, jsonSerde<PageView>());
  const minute = 60_000;
  driver.pipe('users', users, 'ann', 'eu', { timestampMs: 0 });
  driver.pipe('users', users, 'bob', 'us', { timestampMs: 0 });
  driver.pipe('views', views, 'p1', { user: 'ann', page: 'p1' }, { timestampMs: 30_000 });
  driver.pipe('views', views, 'p2', { user: 'bob', page: 'p2' }, { timestampMs: 90_000 });
  driver.pipe('views', views, 'p3', { user: 'cat', page: 'p3' }, { timestampMs: 100_000 });
  driver.pipe('users', users, 'bob', 'eu', { timestampMs: 110_000 });
  driver.pipe('views', views, 'p4', { user: 'bob', page: 'p4' }, { timestampMs: 6 * minute });
  const last = new Map<string, number>();
  for (const r of driver.readOutput('out', serdes(stringSerde, numberSerde))) {
    last.set(r.key as string, r.value as number);
  }
  const at = (m: number): string => new Date(m * minute).toISOString();
  // Windows start at 0 or later: ann@0:30 (eu) is in [0, 5); bob@1:30 (us) and cat@1:40 (no
  // region) in [0, 5) and [1, 6).
  expect(last.get(`eu@${at(0)}`)).toBe(1);
  expect(last.get(`us@${at(1)}`)).toBe(1);
  expect(last.get(`unknown@${at(1)}`)).toBe(1);
  // bob moved to eu before his view at 6:00: windows starting 2..6 count it under eu.
  expect(last.get(`eu@${at(2)}`)).toBe(1);
  expect(last.get(`eu@${at(6)}`)).toBe(1);
  expect(last.get(`us@${at(2)}`)).toBeUndefined();
  expect([...last.keys()].filter((k) => k.startsWith('eu@')).length).toBe(6);
  expect(last.get(`unknown@${at(0)}`)).toBe(1);
});
