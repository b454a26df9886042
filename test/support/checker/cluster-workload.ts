// Clients against a real cluster (RillCluster) that record a History for the checker (issue 10):
// producers either send one-record acks=all JSON produces straight to each partition's leader
// (`raw`: no retry, an answer that never came is an `unknown` outcome, never a resend, so a
// duplicate can only come from the broker) or use the real client library (`idempotent`, its
// default, or `at-least-once`: idempotent off), which retries until acknowledged — a send() is
// one operation, ok with the offset it resolves with (a retry the leader answers `duplicate:
// true` resolves with the original offsets), unknown when it rejects (an earlier attempt may
// have been written). Client producers send bursts of 1-8 concurrent sends, so batches of
// several records and several requests per partition are in flight. Consumers long-poll every
// partition from its leader, and a final reader reads each partition from its start to the HW
// once the faults are healed. Leaders are learned from describe and from 421 answers. Every
// request has a timeout; nothing here sleeps for correctness — the loops pace themselves with
// short waits only between attempts.
import { H2CClient } from 'undici';
import { RillClient, type Producer } from '../../../src/api/client/index.ts';
import type { SeededRandom } from '../../../src/common/index.ts';
import type { RillCluster } from '../cluster/rill-cluster.ts';
import { History, type FetchOutcome, type ProduceOutcome } from './history.ts';

export interface WorkloadOptions {
  readonly topic: string;
  readonly partitions: number;
  readonly producers: number;
  readonly consumers: number;
  readonly random: SeededRandom;
  readonly requestTimeoutMs: number;
  /** How producers write (see the header); `raw` when absent. */
  readonly producerMode?: ProducerMode;
}

export type ProducerMode = 'raw' | 'idempotent' | 'at-least-once';
export const producerModes: readonly ProducerMode[] = ['raw', 'idempotent', 'at-least-once'];

/** Concurrent sends of one client producer's burst, at most. */
const burstMax = 8;

interface Answer {
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
}

/**
 * Codes that a leader answers before appending anything: the write did not happen. Not
 * NOT_LEADER_OR_FOLLOWER: an acks=all produce appended by a leader that loses its leadership
 * while waiting for replication gets it too, and the record may survive (the 30-minute chaos run
 * saw one at offset 5600), so it is an unknown outcome, as in Kafka.
 */
const refusedCodes = new Set(['NOT_ENOUGH_REPLICAS', 'UNKNOWN_TOPIC_OR_PARTITION']);

export class ClusterWorkload {
  readonly history = new History();
  readonly #cluster: RillCluster;
  readonly #options: WorkloadOptions;
  readonly #clients = new Map<number, H2CClient>();
  readonly #leaders = new Map<number, number>();
  readonly #startMs = performance.now();
  #running = false;
  #loops: Promise<void>[] = [];
  #sent = 0;
  /** The library clients of `idempotent` / `at-least-once` producers, closed by close(). */
  readonly #libraryClients: RillClient[] = [];

  constructor(cluster: RillCluster, options: WorkloadOptions) {
    this.#cluster = cluster;
    this.#options = options;
  }

  nowMs(): number {
    return Math.round(performance.now() - this.#startMs);
  }

  start(): void {
    this.#running = true;
    const mode = this.#options.producerMode ?? 'raw';
    for (let i = 0; i < this.#options.producers; i += 1) {
      const name = `producer-${i}`;
      this.#loops.push(mode === 'raw' ? this.#produceLoop(name) : this.#clientLoop(name, mode));
    }
    for (let i = 0; i < this.#options.consumers; i += 1)
      this.#loops.push(this.#consumeLoop(`consumer-${i}`));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  /** Reads every partition from offset 0 to its HW as process `final`; false on deadline. */
  async finalRead(deadlineMs: number): Promise<boolean> {
    const until = performance.now() + deadlineMs;
    for (let p = 0; p < this.#options.partitions; p += 1) {
      let position = 0;
      for (;;) {
        if (performance.now() > until) return false;
        const read = await this.#fetch('final', p, position, 0);
        if (read === null) {
          await pause(100);
          continue;
        }
        position = read.nextOffset;
        if (read.records === 0 && position >= read.highWatermark) break;
      }
    }
    return true;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#clients.values()].map((client) => client.destroy()));
    this.#clients.clear();
    await Promise.all(this.#libraryClients.splice(0).map((client) => client.close()));
  }

  /** Forgets a node's connection (after kill or restart, so the next request reconnects). */
  async forget(id: number): Promise<void> {
    const client = this.#clients.get(id);
    this.#clients.delete(id);
    await client?.destroy();
  }

  async #produceLoop(name: string): Promise<void> {
    while (this.#running) {
      const partition = this.#options.random.int(this.#options.partitions);
      this.#sent += 1;
      const value = `${name}-${this.#sent}`;
      const op = this.history.produce(name, `p${partition}`, value, 'all', this.nowMs());
      const outcome = await this.#produce(partition, value);
      this.history.complete(op, outcome, this.nowMs());
      if (outcome.kind !== 'ok') await pause(50);
    }
  }

  /** A library producer: bursts of concurrent sends, each one operation of the history. */
  async #clientLoop(name: string, mode: Exclude<ProducerMode, 'raw'>): Promise<void> {
    const client = new RillClient({
      bootstrapUrls: this.#cluster.ids.map((id) => this.#cluster.url(id)),
    });
    this.#libraryClients.push(client);
    const producer = client.producer({
      idempotent: mode === 'idempotent',
      acks: 'all',
      lingerMs: 1,
      requestTimeoutMs: this.#options.requestTimeoutMs,
      retriesMax: 1_000,
      retryBackoff: { backoffMs: 50, backoffMaxMs: 500, jitter: 0.2 },
      deliveryTimeoutMs: 60_000,
    });
    while (this.#running) {
      const burst = 1 + this.#options.random.int(burstMax);
      const sends: Promise<void>[] = [];
      for (let i = 0; i < burst; i += 1) sends.push(this.#clientSend(producer, name));
      await Promise.all(sends);
    }
    await producer.close();
  }

  /** One send(): ok at the offset it resolves with, unknown if it rejects. */
  async #clientSend(producer: Producer, name: string): Promise<void> {
    const partition = this.#options.random.int(this.#options.partitions);
    this.#sent += 1;
    const value = `${name}-${this.#sent}`;
    const op = this.history.produce(name, `p${partition}`, value, 'all', this.nowMs());
    try {
      const sent = await producer.send({ topic: this.#options.topic, partition, value });
      this.history.complete(op, { kind: 'ok', offset: sent.offset }, this.nowMs());
    } catch (error) {
      // Retries may have written it before the last failure: never `refused`.
      const code = (error as { code?: string }).code ?? (error as Error).name;
      this.history.complete(op, { kind: 'unknown', code }, this.nowMs());
      await pause(50);
    }
  }

  async #produce(partition: number, value: string): Promise<ProduceOutcome> {
    const { topic, requestTimeoutMs } = this.#options;
    const path = `/v1/topics/${topic}/partitions/${partition}/records?acks=all&timeoutMs=${requestTimeoutMs}`;
    const leader = await this.#leaderOf(partition);
    if (leader === null) return { kind: 'refused', code: 'NO_LEADER_KNOWN' };
    let answer: Answer;
    try {
      answer = await this.#call(leader, 'POST', path, { records: [{ value }] });
    } catch (error) {
      this.#leaders.delete(partition);
      return { kind: 'unknown', code: (error as Error).name };
    }
    // A 200 marked `duplicate: true` (a retried idempotent batch) carries the original offsets.
    if (answer.status === 200) return { kind: 'ok', offset: Number(answer.body.baseOffset) };
    const code = String(answer.body?.error?.code ?? answer.status);
    this.#noteLeader(partition, answer);
    return refusedCodes.has(code) ? { kind: 'refused', code } : { kind: 'unknown', code };
  }

  async #consumeLoop(name: string): Promise<void> {
    const positions = new Map<number, number>();
    while (this.#running) {
      for (let p = 0; p < this.#options.partitions && this.#running; p += 1) {
        const read = await this.#fetch(name, p, positions.get(p) ?? 0, 200);
        if (read === null) await pause(50);
        else positions.set(p, read.nextOffset);
      }
    }
  }

  /** One recorded fetch; null when it failed (the failure is recorded too). */
  async #fetch(process: string, partition: number, offset: number, maxWaitMs: number) {
    const op = this.history.fetch(process, `p${partition}`, offset, this.nowMs());
    const leader = await this.#leaderOf(partition);
    if (leader === null) {
      this.history.complete(op, { kind: 'fail', code: 'NO_LEADER_KNOWN' }, this.nowMs());
      return null;
    }
    const path = `/v1/topics/${this.#options.topic}/partitions/${partition}/records?offset=${offset}&maxWaitMs=${maxWaitMs}&maxBytes=65536`;
    let answer: Answer;
    try {
      answer = await this.#call(leader, 'GET', path, undefined);
    } catch (error) {
      this.#leaders.delete(partition);
      this.history.complete(op, { kind: 'fail', code: (error as Error).name }, this.nowMs());
      return null;
    }
    if (answer.status !== 200) {
      this.#noteLeader(partition, answer);
      const code = String(answer.body?.error?.code ?? answer.status);
      this.history.complete(op, { kind: 'fail', code }, this.nowMs());
      return null;
    }
    const body = answer.body;
    const records = (body.records as { offset: number; value: string }[]).filter(
      (r) => r.offset >= offset,
    );
    const outcome: FetchOutcome = {
      kind: 'ok',
      records: records.map((r) => ({ offset: r.offset, value: r.value })),
      highWatermark: Number(body.highWatermark),
      logStartOffset: Number(body.logStartOffset),
      leaderEpoch: Number(body.leaderEpoch),
    };
    this.history.complete(op, outcome, this.nowMs());
    return {
      nextOffset: Number(body.nextOffset),
      highWatermark: outcome.highWatermark,
      records: records.length,
    };
  }

  #noteLeader(partition: number, answer: Answer): void {
    const id = answer.body?.error?.leader?.id;
    if (typeof id === 'number') this.#leaders.set(partition, id);
    else this.#leaders.delete(partition);
  }

  async #leaderOf(partition: number): Promise<number | null> {
    const known = this.#leaders.get(partition);
    if (known !== undefined) return known;
    const ids = this.#cluster.ids.filter((id) => this.#cluster.isRunning(id));
    const asked = ids[this.#options.random.int(Math.max(1, ids.length))];
    if (asked === undefined) return null;
    try {
      const answer = await this.#call(
        asked,
        'GET',
        `/v1/topics/${this.#options.topic}?local=true`,
        undefined,
      );
      if (answer.status !== 200) return null;
      for (const p of answer.body.partitions as { partition: number; leader: number | null }[]) {
        if (p.leader !== null) this.#leaders.set(p.partition, p.leader);
      }
    } catch {
      return null;
    }
    return this.#leaders.get(partition) ?? null;
  }

  async #call(id: number, method: 'GET' | 'POST', path: string, json: unknown): Promise<Answer> {
    let client = this.#clients.get(id);
    if (client === undefined) {
      client = new H2CClient(this.#cluster.url(id));
      this.#clients.set(id, client);
    }
    const timeoutMs = this.#options.requestTimeoutMs + 1_000;
    const response = await client.request({
      method,
      path,
      headers: json === undefined ? {} : { 'content-type': 'application/json' },
      body: json === undefined ? null : JSON.stringify(json),
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: text === '' ? null : JSON.parse(text) };
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
