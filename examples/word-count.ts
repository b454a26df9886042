// Word count on Rill Streams (issue 11): counts the words of every input record's value (UTF-8;
// a word is a maximal run of Unicode letters and digits, lower-cased) and writes each count
// change to the output topic, key = the word, value = the count as a decimal string. Creates
// its internal topics and the output topic if missing; SIGINT/SIGTERM flush and exit 0.
//   npx tsx examples/word-count.ts --bootstrap URL --input TOPIC --output TOPIC \
//     [--application-id ID] [--instance-id NAME] [--state-dir DIR]
// --instance-id: a stable name for this instance; a restart with it takes its tasks back at once.
// --state-dir: keep the counts in level there; a restart restores from it (docs/streams.md).
import { parseArgs } from 'node:util';
import { RillClient } from '../src/api/client/index.ts';
import {
  StreamsBuilder,
  StreamsRuntime,
  numberSerde,
  serdes,
  stringSerde,
  type BuilderConfig,
  type Topology,
} from '../src/streams/index.ts';

/** The words of a line: maximal runs of letters and digits, lower-cased. */
export function wordsOf(line: string): string[] {
  return line.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** `options`: the builder's other settings (cache sizes, error policy), for tests and tuning. */
export function wordCountTopology(
  applicationId: string,
  input: string,
  output: string,
  options: Omit<BuilderConfig, 'applicationId'> = {},
): Topology {
  const builder = new StreamsBuilder({ ...options, applicationId });
  builder
    .stream(input, serdes(stringSerde, stringSerde))
    .flatMapValues(wordsOf, { valueSerde: stringSerde })
    .groupBy((_key, word) => word, { keySerde: stringSerde })
    .count({ name: 'word-counts' })
    .toStream()
    .to(output, serdes(stringSerde, numberSerde));
  return builder.build();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bootstrap: { type: 'string' },
      input: { type: 'string' },
      output: { type: 'string' },
      'application-id': { type: 'string', default: 'word-count' },
      'instance-id': { type: 'string' },
      'state-dir': { type: 'string' },
    },
  });
  if (values.bootstrap === undefined || values.input === undefined || values.output === undefined) {
    console.error(
      'usage: word-count --bootstrap URL --input TOPIC --output TOPIC [--application-id ID] ' +
        '[--instance-id NAME] [--state-dir DIR]',
    );
    process.exit(2);
  }
  const topology = wordCountTopology(values['application-id'], values.input, values.output);
  const client = new RillClient({ bootstrapUrls: [values.bootstrap] });
  const runtime = await StreamsRuntime.start(topology, client, {
    log: (line) => console.log(line),
    ...(values['instance-id'] === undefined ? {} : { instanceId: values['instance-id'] }),
    ...(values['state-dir'] === undefined ? {} : { stateDir: values['state-dir'] }),
    metricsIntervalMs: 1000,
  });
  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  console.log(topology.describe());
  console.log(`word-count: counting ${values.input} into ${values.output}; Ctrl-C to stop`);
  await runtime.run(() => stopping);
  await runtime.close();
  console.log('word-count: flushed and stopped');
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
