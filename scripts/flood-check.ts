// `npx tsx scripts/flood-check.ts [--resets N] [--flood-ms T] [--parked K] [--connections C]
// [--url URL --pid PID]`: issue 15's HTTP/2 flood defects against a real broker (a fresh one
// unless --url). (1) Rapid reset: N × (HEADERS for a JSON fetch of 1 MiB + RST_STREAM CANCEL) on
// one connection, while /healthz is probed on a second one; prints the probe latencies, the
// broker's peak RSS and whether the flooding connection was closed. (2) A sustained flood: rapid
// resets for T ms, reconnecting whenever the node closes the connection, while /healthz is
// probed and acks=all produces are sent on two other connections; prints both latencies beside
// their baselines, failed produces, and (for a fresh node) whether the controller fenced it.
// (3) Cancelled long polls: K fetches parked at the HW over C connections, reset, then the
// waiting-fetch count and a fresh long poll. The clients live in test/support/api/h2-flood.ts.
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
  produceWhile,
  rapidReset,
  resetFlood,
  timedGet,
} from '../test/support/api/h2-flood.ts';
import { pollUntil } from '../test/support/poll.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      resets: { type: 'string', default: '3000' },
      'flood-ms': { type: 'string', default: '5000' },
      parked: { type: 'string', default: '10000' },
      connections: { type: 'string', default: '40' },
      url: { type: 'string' },
      pid: { type: 'string' },
    },
  });
  const { spawnBroker } = await import('./spawn-broker.ts');
  // Info level: the controller logs each fence it proposes, the node each change of its status.
  const brokerArgs = ['--log-level', 'info'];
  const broker = values.url === undefined ? await spawnBroker({ brokerArgs }) : null;
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
    await sustainedFlood(url, probe, fetchPath, Number(values['flood-ms']));
    if (broker !== null) {
      // The node is its own controller: had the flood starved its heartbeats past the session
      // timeout, it would have proposed a fence of itself and heard it was fenced.
      const lines = broker.output().split('\n');
      const fences = lines.filter((l) => l.includes('"type":"fence-node"')).length;
      const fenced = lines.filter((l) => l.includes('"fenced":true')).length;
      const registered = lines.filter((l) => l.includes('"msg":"registered"')).length;
      console.log(
        `controller session: fence proposals ${fences}, heartbeats answered fenced ${fenced}, ` +
          `registrations ${registered} (1 = only the start)`,
      );
    }
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

/**
 * Rapid resets for `floodMs` over as many connections as the node closes, while /healthz (on
 * `probe`) and one-record acks=all produces (on a session of their own) measure the node.
 */
async function sustainedFlood(
  url: string,
  probe: ClientHttp2Session,
  fetchPath: string,
  floodMs: number,
): Promise<void> {
  const producer = await openSession(url);
  const producePath = '/v1/topics/flood-produce/partitions/0/records?acks=all';
  const produceMs = [];
  for (let i = 0; i < 5; i += 1) {
    const started = performance.now();
    await post(producer, producePath, { records: [{ value: `before-${i}` }] });
    produceMs.push(performance.now() - started);
  }
  const healthzMs = [];
  for (let i = 0; i < 5; i += 1) healthzMs.push((await timedGet(probe, '/healthz')).ms);
  const cpuBefore = await metricValue(probe, 'rill_process_cpu_seconds_total');
  const flood = resetFlood(url, fetchPath, floodMs);
  const [probes, produces, outcome] = await Promise.all([
    probeWhile(probe, '/healthz', 100, flood),
    produceWhile(producer, producePath, 100, flood),
    flood,
  ]);
  const cpuSeconds = (await metricValue(probe, 'rill_process_cpu_seconds_total')) - cpuBefore;
  const failed = produces.filter((p) => p.status !== 200);
  const ms = produces.map((p) => p.ms);
  const fixed = (n: number): string => n.toFixed(1);
  console.log(
    `sustained flood: ${outcome.resets} resets over ${outcome.connections} connections ` +
      `(${outcome.closedByServer} closed by the node) in ${floodMs} ms; node CPU ` +
      `${cpuSeconds.toFixed(2)} s (${((cpuSeconds / outcome.resets) * 1e6).toFixed(0)} µs a ` +
      `reset); load ${loadavg()[0]}`,
  );
  console.log(
    `  healthz: before median ${fixed(median(healthzMs))} ms; during n=${probes.length} ` +
      `median ${fixed(median(probes))} ms max ${fixed(Math.max(...probes))} ms`,
  );
  console.log(
    `  produce acks=all: before median ${fixed(median(produceMs))} ms; during n=${ms.length} ` +
      `median ${fixed(median(ms))} ms max ${fixed(Math.max(...ms))} ms; failed ${failed.length}` +
      (failed.length > 0 ? ` (first: ${failed[0]?.status} ${failed[0]?.body.slice(0, 120)})` : ''),
  );
  producer.close();
}

/** A topic `flood` with 2 partitions; partition 0 holds about 4 MiB of 1 KiB records. */
async function seedTopic(session: ClientHttp2Session): Promise<void> {
  await post(session, '/v1/topics', { name: 'flood', partitions: 2, replicationFactor: 1 });
  const produceTopic = { name: 'flood-produce', partitions: 1, replicationFactor: 1 };
  await post(session, '/v1/topics', produceTopic);
  const value = 'x'.repeat(1024);
  for (let i = 0; i < 4; i += 1) {
    const records = Array.from({ length: 1024 }, () => ({ value }));
    await post(session, '/v1/topics/flood/partitions/0/records', { records });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
