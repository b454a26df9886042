// A two-input application for the kill -9 test of the replay order (merge-crash.test.ts), run
// as a child process: views and clicks merged, then per key the concatenation of every record's
// value (order-dependent, so a replay in another order than the first run's shows). Args:
// BOOTSTRAP APP_ID VIEWS CLICKS OUTPUT COMMIT_INTERVAL_MS. SIGINT commits and exits 0.
import { RillClient } from '../../../src/api/client/index.ts';
import { StreamsBuilder, StreamsRuntime, serdes, stringSerde } from '../../../src/streams/index.ts';

async function main(): Promise<void> {
  const [bootstrap, appId, views, clicks, output, commitMs] = process.argv.slice(2);
  const text = serdes(stringSerde, stringSerde);
  const builder = new StreamsBuilder({ applicationId: appId as string });
  builder
    .stream(views as string, text)
    .merge(builder.stream(clicks as string, text))
    .groupByKey()
    .reduce((a, b) => `${a}${b}`, { name: 'merged' })
    .toStream()
    .to(output as string, text);
  const client = new RillClient({ bootstrapUrls: [bootstrap as string] });
  const runtime = await StreamsRuntime.start(builder.build(), client, {
    instanceId: 'only',
    commitIntervalMs: Number(commitMs),
    metricsIntervalMs: 200,
    log: (line) => console.log(line),
  });
  let stopping = false;
  process.once('SIGINT', () => {
    stopping = true;
  });
  await runtime.run(() => stopping);
  await runtime.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
