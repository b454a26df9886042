// Client-side benchmarks shared by `rill bench` and `npm run bench`: produce throughput (as fast
// as the producer takes records), acknowledgement latency at a fixed rate, and catch-up consume
// throughput. Payloads are fixed random bytes; figures are payload MiB/s and records/s.
import { randomBytes } from 'node:crypto';
import type { ProducerConfig, RillClient } from '../api/client/index.ts';
import { SendWindow } from './send-window.ts';

export interface ThroughputResult {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly mibPerSecond: number;
  /** CPU time of this (client) process over the run, as a percentage of one core. */
  readonly clientCpuPercent: number;
}

export interface LatencyResult {
  readonly ratePerSecond: number;
  readonly records: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export type Progress = (line: string) => void;

/** What both producer benchmarks send: fixed `recordBytes` values to `topic`. */
export interface ProduceRunOptions {
  readonly topic: string;
  readonly recordBytes: number;
  readonly producer: Partial<ProducerConfig>;
  readonly progress?: Progress;
}

/** `cpu` is process.cpuUsage() at the start: the client's own share of a core is reported. */
function throughput(
  records: number,
  bytes: number,
  seconds: number,
  cpu: NodeJS.CpuUsage,
): ThroughputResult {
  const used = process.cpuUsage(cpu);
  return {
    records,
    bytes,
    seconds: round(seconds, 3),
    recordsPerSecond: Math.round(records / seconds),
    mibPerSecond: round(bytes / 1024 / 1024 / seconds, 1),
    clientCpuPercent: Math.round((used.user + used.system) / 1e4 / seconds),
  };
}

function mibPerSecond(bytes: number, elapsedMs: number): number {
  return bytes / 1024 / 1024 / (elapsedMs / 1000);
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Passes `line()` to `progress` at most once a second of the run begun at `startMs`. */
function everySecond(
  progress: Progress | undefined,
  startMs: number,
): (nowMs: number, line: () => string) => void {
  let reportAtMs = startMs + 1_000;
  return (nowMs, line) => {
    if (progress === undefined || nowMs < reportAtMs) return;
    reportAtMs += 1_000;
    progress(line());
  };
}

/** Sends `records` records of `recordBytes` as fast as buffer.memory lets them in. */
export async function benchProduce(
  client: RillClient,
  options: ProduceRunOptions & { readonly records: number },
): Promise<ThroughputResult> {
  const producer = client.producer(options.producer);
  const value = randomBytes(options.recordBytes);
  const bufferBytes = options.producer.bufferMemoryBytes ?? 32 * 1024 * 1024;
  const window = new SendWindow(Math.max(1, Math.floor(bufferBytes / (options.recordBytes + 40))));
  const message = { topic: options.topic, value };
  const cpu = process.cpuUsage();
  const startMs = performance.now();
  const report = everySecond(options.progress, startMs);
  for (let i = 0; i < options.records; i += 1) {
    if (window.isFull) await window.whenNotFull();
    window.send(producer, message);
    if ((i & 1023) !== 0) continue;
    const nowMs = performance.now();
    report(nowMs, () => {
      const mib = mibPerSecond(window.acknowledged * options.recordBytes, nowMs - startMs);
      return `produce: ${window.acknowledged} acknowledged, ${round(mib, 1)} MiB/s`;
    });
  }
  await producer.close();
  if (window.firstError !== null) throw window.firstError;
  const seconds = (performance.now() - startMs) / 1000;
  const bytes = window.acknowledged * options.recordBytes;
  return throughput(window.acknowledged, bytes, seconds, cpu);
}

/** Sends at a fixed rate and measures send() → acknowledgement for every record. */
export async function benchLatency(
  client: RillClient,
  options: ProduceRunOptions & { readonly ratePerSecond: number; readonly seconds: number },
): Promise<LatencyResult> {
  const producer = client.producer(options.producer);
  const value = randomBytes(options.recordBytes);
  const total = Math.round(options.ratePerSecond * options.seconds);
  const latencies = new Float64Array(total);
  const acks: Promise<void>[] = [];
  const startMs = performance.now();
  const tickMs = 1;
  let sent = 0;
  while (sent < total) {
    // Catch up to where the schedule says we should be, then sleep a tick.
    const due = Math.min(
      total,
      Math.floor(((performance.now() - startMs) / 1000) * options.ratePerSecond) + 1,
    );
    for (; sent < due; sent += 1) {
      const index = sent;
      const sentAtMs = performance.now();
      acks.push(
        producer.send({ topic: options.topic, value }).then(() => {
          latencies[index] = performance.now() - sentAtMs;
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, tickMs));
  }
  await Promise.all(acks);
  await producer.close();
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const at = (q: number): number =>
    round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0, 2);
  options.progress?.(`latency: ${total} records at ${options.ratePerSecond}/s`);
  return {
    ratePerSecond: options.ratePerSecond,
    records: total,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    p999Ms: at(0.999),
    maxMs: round(sorted.at(-1) ?? 0, 2),
  };
}

/** Reads every partition of `topic` from the beginning until `records` records arrived. */
export async function benchConsume(
  client: RillClient,
  options: { topic: string; records: number; fetchBytesMax?: number; progress?: Progress },
): Promise<ThroughputResult> {
  const metadata = await client.metadata.topic(options.topic, true);
  const consumer = client.consumer({
    fetchBytesMax: options.fetchBytesMax ?? 8 * 1024 * 1024,
    autoOffsetReset: 'earliest',
  });
  consumer.assign(
    metadata.partitions.map((p) => ({ topic: options.topic, partition: p.partition })),
  );
  const cpu = process.cpuUsage();
  const startMs = performance.now();
  const report = everySecond(options.progress, startMs);
  let records = 0;
  let bytes = 0;
  let idleSinceMs = startMs;
  while (records < options.records) {
    const batch = await consumer.poll({ maxWaitMs: 1_000 });
    const nowMs = performance.now();
    if (batch.length === 0 && nowMs - idleSinceMs > 10_000) break; // The topic holds fewer.
    if (batch.length > 0) idleSinceMs = nowMs;
    records += batch.length;
    for (const record of batch) bytes += record.value?.length ?? 0;
    report(
      nowMs,
      () => `consume: ${records} records, ${round(mibPerSecond(bytes, nowMs - startMs), 1)} MiB/s`,
    );
  }
  consumer.close();
  return throughput(records, bytes, (performance.now() - startMs) / 1000, cpu);
}
