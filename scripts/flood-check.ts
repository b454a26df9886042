// `npx tsx scripts/flood-check.ts [--resets N] [--parked K] [--connections C]`: issue 15's
// HTTP/2 flood defects against a real broker. (1) Rapid reset: N × (HEADERS for a JSON fetch
// of 1 MiB + RST_STREAM CANCEL) on one connection, while /healthz is probed on a second one;
// prints the probe latencies, the broker's peak RSS and whether the flooding connection was
// closed. (2) Cancelled long polls: K fetches parked at the HW over C connections, reset, then
// the waiting-fetch count and a fresh long poll. The clients live in
// test/support/api/h2-flood.ts.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { ClientHttp2Session } from 'node:http2';
import {
  median,
  metricValue,
  openSession,
  parkLongPolls,
  peakRssMiB,
  post,
  probeWhile,
  rapidReset,
  timedGet,
} from '../test/support/api/h2-flood.ts';
import { pollUntil } from '../test/support/poll.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      resets: { type: 'string', default: '3000' },
      parked: { type: 'string', default: '10000' },
      connections: { type: 'string', default: '40' },
      url: { type: 'string' },
      pid: { type: 'string' },
    },
  });
  const { spawnBroker } = await import('./spawn-broker.ts');
  const broker = values.url === undefined ? await spawnBroker() : null;
  const url = values.url ?? (broker?.url as string);
  const pid = broker?.child.pid ?? Number(values.pid);
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  try {
    const probe = await openSession(url);
    await seedTopic(probe);
    const baseline = [];
    for (let i = 0; i < 5; i += 1) baseline.push((await timedGet(probe, '/healthz')).ms);
    console.log(`healthz before: median ${median(baseline).toFixed(1)} ms`);
    const fetchPath = '/v1/topics/flood/partitions/0/records?offset=0&maxBytes=1048576';
    const started = performance.now();
    let floodMs = 0;
    const flood = rapidReset(url, fetchPath, { count: Number(values.resets) });
    // Probe every 100 ms until the node has worked off what the flood left (or 30 s).
    const settled = flood.then(async (outcome) => {
      floodMs = performance.now() - started;
      const settle = performance.now() + 30_000;
      while (performance.now() < settle && (await timedGet(probe, '/healthz')).ms > 50) {
        /* probing */
      }
      return outcome;
    });
    const probes = await probeWhile(probe, '/healthz', 100, settled);
    const outcome = await settled;
    console.log(
      `rapid reset: opened ${outcome.opened}, closed by server ${outcome.closedByServer} ` +
        `(goaway ${outcome.goawayCode}), flood ${floodMs.toFixed(0)} ms; healthz during: ` +
        `n=${probes.length} median ${median(probes).toFixed(1)} ms max ` +
        `${Math.max(...probes).toFixed(1)} ms; peak RSS ${peakRssMiB(pid).toFixed(0)} MiB`,
    );
    const longPoll = '/v1/topics/flood/partitions/1/records?offset=0&maxWaitMs=120000';
    const parked = Number(values.parked);
    const polls = await parkLongPolls(url, longPoll, parked, Number(values.connections));
    await pollUntil('parked long polls', 60_000, async () => {
      return (await metricValue(probe, 'rill_waiting_fetches')) >= parked ? true : undefined;
    });
    await polls.reset();
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // What is left stays left.
    const afterReset = await metricValue(probe, 'rill_waiting_fetches');
    const fresh = await timedGet(probe, longPoll.replace('120000', '200'));
    console.log(
      `cancelled long polls: waiting fetches after reset ${afterReset}; a new long poll ` +
        `answers ${fresh.status} ${fresh.body.slice(0, 120)}`,
    );
    console.log(`peak RSS ${peakRssMiB(pid).toFixed(0)} MiB`);
    probe.close();
  } finally {
    await broker?.stop();
    console.log(
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  }
}

/** A topic `flood` with 2 partitions; partition 0 holds about 4 MiB of 1 KiB records. */
async function seedTopic(session: ClientHttp2Session): Promise<void> {
  await post(session, '/v1/topics', { name: 'flood', partitions: 2, replicationFactor: 1 });
  const value = 'x'.repeat(1024);
  for (let i = 0; i < 4; i += 1) {
    const records = Array.from({ length: 1024 }, () => ({ value }));
    await post(session, '/v1/topics/flood/partitions/0/records', { records });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
