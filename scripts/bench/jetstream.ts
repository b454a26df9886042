// The JetStream peer: a three-node nats-server cluster (JetStream on, file storage, temporary
// directories, loopback ports) with one R3 stream, and the same loads Rill gets — produce
// throughput with many asynchronous publishes in flight, and publish → ack latency at a fixed
// rate. Needs the `nats-server` binary (Debian package nats-server) and the `nats` npm package.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, StorageType, type JetStreamClient, type NatsConnection } from 'nats';
import { freePorts } from '../../test/support/child-process.ts';
import { round } from './stats.ts';

export interface JetStreamCluster {
  readonly pids: readonly number[];
  readonly urls: readonly string[];
  /** Creates (or recreates, empty) the R3 file-storage stream `name` on subject `name`. */
  resetStream(name: string): Promise<void>;
  throughput(options: { stream: string; records: number; recordBytes: number }): Promise<{
    records: number;
    seconds: number;
    recordsPerSecond: number;
    mibPerSecond: number;
  }>;
  latency(options: {
    stream: string;
    ratePerSecond: number;
    seconds: number;
    recordBytes: number;
  }): Promise<{ records: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number }>;
  stop(): Promise<void>;
}

/** Publishes in flight at once in the throughput run (JetStream's own bench uses a window). */
const publishesInFlightMax = 1_024;
const readyTimeoutMs = 30_000;

export async function startJetStream(): Promise<JetStreamCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'rill-bench-jetstream-'));
  const ports = await freePorts(6);
  const clientPorts = ports.slice(0, 3);
  const routePorts = ports.slice(3);
  const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const children: ChildProcess[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(children.map((child) => stopChild(child)));
    await rm(dir, { recursive: true, force: true });
  };
  let nc: NatsConnection | null = null;
  try {
    await Promise.all(
      clientPorts.map((port, i) => {
        const args = ['-a', '127.0.0.1', '-p', String(port), '-n', `js${i + 1}`, '-js'];
        args.push('-sd', join(dir, `js${i + 1}`), '--cluster_name', 'rill-bench');
        args.push('--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes);
        const child = spawn('nats-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        return awaitOutput(child, /Server is ready/);
      }),
    );
    const urls = clientPorts.map((p) => `nats://127.0.0.1:${p}`);
    nc = await connect({ servers: urls });
    const connection = nc;
    return {
      pids: children.map((child) => child.pid ?? -1),
      urls,
      resetStream: (name) => resetStream(connection, name),
      throughput: (options) => throughput(connection.jetstream(), options),
      latency: (options) => latency(connection.jetstream(), options),
      async stop() {
        await connection.close();
        await stopAll();
      },
    };
  } catch (error) {
    await nc?.close();
    await stopAll();
    throw error;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  child.kill('SIGTERM');
  const forced = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(forced);
}

function awaitOutput(child: ChildProcess, pattern: RegExp): Promise<void> {
  let output = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`nats-server not ready:\n${output}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (pattern.test(output)) {
        clearTimeout(timer);
        ok();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`nats-server exited with ${code}:\n${output}`));
    });
  });
}

/** The meta leader is elected some time after the servers are up: retry until it answers. */
async function resetStream(nc: NatsConnection, name: string): Promise<void> {
  const deadline = performance.now() + readyTimeoutMs;
  for (;;) {
    try {
      const jsm = await nc.jetstreamManager({ timeout: 5_000 });
      await jsm.streams.delete(name).catch(() => false); // Absent the first time: nothing to do.
      await jsm.streams.add({
        name,
        subjects: [name],
        storage: StorageType.File,
        num_replicas: 3,
      });
      // The first publish proves the stream's own Raft group has a leader.
      await nc.jetstream().publish(name, new Uint8Array(1), { timeout: 5_000 });
      return;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((done) => setTimeout(done, 250));
    }
  }
}

async function throughput(
  js: JetStreamClient,
  options: { stream: string; records: number; recordBytes: number },
) {
  const value = randomBytes(options.recordBytes);
  let inFlight = 0;
  let acknowledged = 0;
  let firstError: unknown = null;
  let wake: (() => void) | null = null;
  const startMs = performance.now();
  for (let i = 0; i < options.records && firstError === null; i += 1) {
    while (inFlight >= publishesInFlightMax) await new Promise<void>((ok) => (wake = ok));
    inFlight += 1;
    js.publish(options.stream, value, { timeout: 30_000 })
      .then(
        () => {
          acknowledged += 1;
        },
        (error: unknown) => {
          firstError ??= error;
        },
      )
      .finally(() => {
        inFlight -= 1;
        const waiting = wake;
        wake = null;
        waiting?.();
      });
  }
  while (inFlight > 0) await new Promise<void>((ok) => (wake = ok));
  if (firstError !== null) throw firstError;
  const seconds = (performance.now() - startMs) / 1000;
  return {
    records: acknowledged,
    seconds: round(seconds, 3),
    recordsPerSecond: Math.round(acknowledged / seconds),
    mibPerSecond: round((acknowledged * options.recordBytes) / 1024 / 1024 / seconds, 1),
  };
}

/** Publishes on a fixed schedule (as Rill's benchLatency) and times each publish → ack. */
async function latency(
  js: JetStreamClient,
  options: { stream: string; ratePerSecond: number; seconds: number; recordBytes: number },
) {
  const value = randomBytes(options.recordBytes);
  const total = Math.round(options.ratePerSecond * options.seconds);
  const latencies = new Float64Array(total);
  const acks: Promise<void>[] = [];
  const startMs = performance.now();
  let sent = 0;
  while (sent < total) {
    const elapsedS = (performance.now() - startMs) / 1000;
    const due = Math.min(total, Math.floor(elapsedS * options.ratePerSecond) + 1);
    for (; sent < due; sent += 1) {
      const index = sent;
      const sentAtMs = performance.now();
      acks.push(
        js.publish(options.stream, value, { timeout: 30_000 }).then(() => {
          latencies[index] = performance.now() - sentAtMs;
        }),
      );
    }
    await new Promise((done) => setTimeout(done, 1));
  }
  await Promise.all(acks);
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const at = (q: number): number =>
    round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0, 2);
  return { records: total, p50Ms: at(0.5), p99Ms: at(0.99), p999Ms: at(0.999), maxMs: at(1) };
}
