// Produce throughput with record validation beside the same produce without it, end to end and
// in the same run (issue 15: "produce MiB/s before and after"). Two fresh single-node brokers:
// one as shipped (every record of every batch walked, compressed batches expanded within the
// bound), one started with the hidden `--produce-validation framing` (framing, CRC and sizes
// only: produce before issue 15). The client's benchProduce (1 KiB records, acks=all, 256 KiB
// batches) runs on each in turn, the order alternating per round, for each shape; printed as
// min/median/max MiB/s per broker and the per-round ratio with/without, with the load average.
// Run alone: `npx tsx scripts/bench/validate-produce.ts [--records N] [--rounds R]`; the main
// bench (`npm run bench`) runs it with the produce figures.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { RillClient } from '../../src/api/client/index.ts';
import type { Compression } from '../../src/log/index.ts';
import { benchProduce } from '../../src/cli/client-bench.ts';
import { spawnBroker, type BrokerProcess } from '../spawn-broker.ts';
import { produceBatching } from './single-node.ts';
import { formatSpread, loadAverage, ratiosOf, spreadOf, type Spread } from './stats.ts';

interface Shape {
  readonly name: string;
  readonly compression: Compression;
  /** The topic's log.flush: 'always' is the default; 'never' leaves the CPU path alone. */
  readonly flush: 'always' | 'never';
}

const shapes: readonly Shape[] = [
  { name: 'plain, log.flush=always (default)', compression: 'none', flush: 'always' },
  { name: 'plain, log.flush=never', compression: 'none', flush: 'never' },
  { name: 'lz4, log.flush=never', compression: 'lz4', flush: 'never' },
];

export interface ValidateProduceFigure {
  readonly shape: string;
  readonly withMiBps: Spread | null;
  readonly withoutMiBps: Spread | null;
  /** Per round: with / without, measured back to back. 1.0: validation costs nothing. */
  readonly ratio: Spread | null;
}

interface Side {
  readonly broker: BrokerProcess;
  readonly client: RillClient;
}

const topicOf = (shape: Shape): string => `validate-${shape.compression}-${shape.flush}`;

async function startSide(validation: 'records' | 'framing'): Promise<Side> {
  const brokerArgs = ['--produce-validation', validation];
  const broker = await spawnBroker({ brokerArgs, readyTimeoutMs: 120_000 });
  const client = new RillClient({ bootstrapUrls: [broker.url] });
  const admin = client.admin();
  for (const shape of shapes) {
    const configs = { 'log.flush': shape.flush };
    await admin.createTopic({ name: topicOf(shape), partitions: 4, replicationFactor: 1, configs });
  }
  return { broker, client };
}

async function produceMiBps(side: Side, shape: Shape, records: number): Promise<number> {
  const producer = { acks: 'all' as const, ...produceBatching, compression: shape.compression };
  const topic = topicOf(shape);
  const result = await benchProduce(side.client, { topic, records, recordBytes: 1024, producer });
  return result.mibPerSecond;
}

export async function benchValidateProduce(
  options: { records?: number; rounds?: number } = {},
): Promise<{ loadAtStart: unknown; loadAtEnd: unknown; figures: ValidateProduceFigure[] }> {
  const records = options.records ?? 50_000;
  const rounds = Math.max(3, options.rounds ?? 3);
  const loadAtStart = loadAverage();
  const sides: Side[] = [];
  try {
    sides.push(await startSide('records'), await startSide('framing'));
    const [withIt, without] = sides as [Side, Side];
    // Warm up both JITs and disks: the first second of a run is not its speed.
    for (const side of sides) await produceMiBps(side, shapes[1]!, 20_000);
    const figures: ValidateProduceFigure[] = [];
    for (const shape of shapes) {
      const on: number[] = [];
      const off: number[] = [];
      for (let r = 0; r < rounds; r += 1) {
        // Alternate which goes first, so a busy machine weighs on both alike.
        if (r % 2 === 0) {
          on.push(await produceMiBps(withIt, shape, records));
          off.push(await produceMiBps(without, shape, records));
        } else {
          off.push(await produceMiBps(without, shape, records));
          on.push(await produceMiBps(withIt, shape, records));
        }
      }
      figures.push({
        shape: shape.name,
        withMiBps: spreadOf(on, 1),
        withoutMiBps: spreadOf(off, 1),
        ratio: spreadOf(ratiosOf(on, off), 3),
      });
    }
    return { loadAtStart, loadAtEnd: loadAverage(), figures };
  } finally {
    for (const side of sides) {
      await side.client.close();
      await side.broker.stop();
    }
  }
}

/** One line per shape, as the main bench and the standalone run print them. */
export function formatValidateProduce(figure: ValidateProduceFigure): string {
  return (
    `produce with validation (${figure.shape}): ${formatSpread(figure.withMiBps, ' MiB/s')} ` +
    `vs without ${formatSpread(figure.withoutMiBps, ' MiB/s')}; ratio ` +
    formatSpread(figure.ratio)
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { records: { type: 'string' }, rounds: { type: 'string' } },
  });
  const result = await benchValidateProduce({
    ...(values.records !== undefined && { records: Number(values.records) }),
    ...(values.rounds !== undefined && { rounds: Number(values.rounds) }),
  });
  console.log(`load average at start: ${JSON.stringify(result.loadAtStart)}`);
  for (const figure of result.figures) console.log(formatValidateProduce(figure));
  console.log(`load average at end: ${JSON.stringify(result.loadAtEnd)}`);
  console.log(JSON.stringify(result));
}
