// Page views per region (issue 11): page views (value JSON `{"user":…,"page":…}`) re-keyed by
// user, left-joined to the user → region table (key user, value region; a user without one
// counts under `unknown`), then counted per region in 5-minute windows advancing every minute
// (grace 1 minute, every change emitted). Output: key `<region>@<window start ISO>`, value the
// count as a decimal string. SIGINT/SIGTERM commit and exit 0.
//   npx tsx examples/page-view-region.ts --bootstrap URL --views TOPIC --users TOPIC \
//     --output TOPIC [--application-id ID] [--instance-id NAME]
import { parseArgs } from 'node:util';
import { RillClient } from '../src/api/client/index.ts';
import {
  StreamsBuilder,
  StreamsRuntime,
  TimeWindows,
  jsonSerde,
  numberSerde,
  serdes,
  stringSerde,
  type Topology,
} from '../src/streams/index.ts';

export interface PageView {
  readonly user: string;
  readonly page: string;
}

export function pageViewRegionTopology(
  applicationId: string,
  views: string,
  users: string,
  output: string,
): Topology {
  const builder = new StreamsBuilder({ applicationId });
  const regions = builder.table(users, serdes(stringSerde, stringSerde), { name: 'user-regions' });
  builder
    .stream(views, serdes(stringSerde, jsonSerde<PageView>()))
    .selectKey((_key, view) => view.user, { keySerde: stringSerde })
    .leftJoin(regions, (view, region) => ({ ...view, region: region ?? 'unknown' }), {
      name: 'view-region',
      valueSerde: jsonSerde<PageView & { region: string }>(),
    })
    .groupBy((_user, view) => view.region, { keySerde: stringSerde })
    .windowedBy(TimeWindows.hopping(5 * 60_000, 60_000, { graceMs: 60_000, emit: 'update' }))
    .count({ name: 'region-counts' })
    .toStream()
    .map(
      (windowed, count) =>
        [`${windowed.key}@${new Date(windowed.window.startMs).toISOString()}`, count] as const,
      { serdes: serdes(stringSerde, numberSerde) },
    )
    .to(output);
  return builder.build();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bootstrap: { type: 'string' },
      views: { type: 'string' },
      users: { type: 'string' },
      output: { type: 'string' },
      'application-id': { type: 'string', default: 'page-view-region' },
      'instance-id': { type: 'string' },
    },
  });
  const { bootstrap, views, users, output } = values;
  if (bootstrap === undefined || views === undefined || users === undefined || !output) {
    console.error(
      'usage: page-view-region --bootstrap URL --views TOPIC --users TOPIC --output TOPIC ' +
        '[--application-id ID] [--instance-id NAME]',
    );
    process.exit(2);
  }
  const topology = pageViewRegionTopology(values['application-id'], views, users, output);
  const client = new RillClient({ bootstrapUrls: [bootstrap] });
  const runtime = await StreamsRuntime.start(topology, client, {
    log: (line) => console.log(line),
    metricsIntervalMs: 10_000,
    ...(values['instance-id'] === undefined ? {} : { instanceId: values['instance-id'] }),
  });
  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  console.log(topology.describe());
  console.log(`page-view-region: counting ${views} by region into ${output}; Ctrl-C to stop`);
  await runtime.run(() => stopping);
  await runtime.close();
  console.log('page-view-region: committed and stopped');
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
