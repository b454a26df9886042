// `npm run chaos -- --duration SECONDS --seed S`: a nemesis against a real three-node cluster
// (issue 10 item 4). Producers (the client library, idempotent by default, retrying; or raw
// acks=all JSON produces without retries with --producer raw), consumers and a final reader
// record every operation; faults drawn from the seed (kill -9 of any node, of the controller's node, of a
// partition leader, SIGSTOP) run back to back with a quiet second between them, each healed
// before the next. The last line is the checker's verdict:
// `acked=… lost=0 duplicates=… hw_regressions=0 … unavailable_ms=… faults=… producer=…`; the exit code is
// non-zero when any anomaly was found, with the offending operations printed above it.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { formatAnomalies } from '../test/support/checker/checker.ts';
import { runChaos } from '../test/support/checker/chaos-run.ts';
import { producerModes, type ProducerMode } from '../test/support/checker/cluster-workload.ts';
import { RillCluster } from '../test/support/cluster/rill-cluster.ts';

const usage = `usage: npm run chaos -- [--duration SECONDS] [--seed S] [--partitions N] [--session-timeout-ms MS] [--producer MODE]

Runs a three-node Rill cluster from this checkout with producers, consumers and a nemesis
(kill -9, SIGSTOP), then checks what the clients saw. Defaults: 60 s, a random seed, 3
partitions, the broker's default session timeout, --producer idempotent (the client library
as shipped; at-least-once: the library with idempotent: false; raw: JSON produces, no retry).`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '60' },
      seed: { type: 'string' },
      partitions: { type: 'string', default: '3' },
      'session-timeout-ms': { type: 'string' },
      producer: { type: 'string', default: 'idempotent' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const durationMs = Number(values.duration) * 1000;
  const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
  const partitions = Number(values.partitions);
  const producerMode = values.producer as ProducerMode;
  const badMode = !producerModes.includes(producerMode);
  if (!(durationMs > 0) || !Number.isInteger(seed) || !(partitions >= 1) || badMode) {
    console.error(usage);
    return 2;
  }
  const sessionTimeoutMs = Number(values['session-timeout-ms'] ?? 3_000);
  console.log(
    `chaos seed=${seed} duration=${durationMs / 1000}s partitions=${partitions} load=${loadavg()[0]?.toFixed(2)}`,
  );
  const cluster = await RillCluster.start(3, sessionTimeoutMs);
  console.log(
    `cluster up: ${cluster.ids.map((id) => cluster.url(id)).join(' ')} (data ${cluster.dataDir})`,
  );
  let stopping = false;
  process.once('SIGINT', () => {
    stopping = true;
    console.log('interrupted: stopping the cluster');
    void cluster.stopAll().then(() => process.exit(130));
  });
  try {
    const result = await runChaos(cluster, {
      seed,
      durationMs,
      topic: 'chaos',
      partitions,
      producerMode,
      log: (line) => console.log(line),
    });
    if (result.check.anomalies.length > 0) console.log(formatAnomalies(result.check.anomalies));
    if (!result.finalReadComplete) console.log('final read did not finish within 30 s');
    console.log(
      `ops=${result.history.ops.length} reads=${result.check.stats.fetches} ` +
        `records_read=${result.check.stats.recordsRead} load=${loadavg()[0]?.toFixed(2)}`,
    );
    console.log(result.summary);
    return result.check.anomalies.length === 0 && result.finalReadComplete ? 0 : 1;
  } finally {
    if (!stopping) await cluster.stopAll();
  }
}

process.exitCode = await main();
