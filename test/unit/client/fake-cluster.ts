// A Transport twin for client unit tests: an in-memory cluster of brokers that answer the
// metadata, producer-id and binary produce routes of API.md, idempotent batches checked by the
// broker's own producer-state table (per partition, so it survives leader moves here). Tests
// script leader moves and failures, and read back what each broker appended.
import { ProducerStateTable } from '../../../src/broker/producer-state.ts';
import { producerIdentityOf } from '../../../src/broker/producer-state-replica.ts';
import { decodeBatches, encodeBatch } from '../../../src/log/index.ts';
import { ClientError } from '../../../src/api/client/client-error.ts';
import type {
  Transport,
  TransportRequest,
  TransportResponse,
} from '../../../src/api/client/transport.ts';

export interface ProduceCall {
  readonly url: string;
  readonly topic: string;
  readonly partition: number;
  readonly values: string[];
  readonly atMs: number;
}

/** `written`: the batch is appended (or deduplicated) first, then the error answered (a lost ack). */
/** 'ok': answered normally (a placeholder in a scripted sequence). */
type Failure = { status: number; code: string; written?: boolean } | 'hang' | 'ok';

export class FakeCluster implements Transport {
  leaders = new Map<number, number>(); // partition → leader broker id
  readonly logs = new Map<number, string[]>(); // partition → values appended
  readonly calls: ProduceCall[] = [];
  /** Failures to answer, in order, to the next produce requests. */
  readonly failures: Failure[] = [];
  /** Failures to answer, in order, to the next fetch requests. */
  readonly fetchFailures: Failure[] = [];
  readonly fetches: { url: string; partition: number; offset: number }[] = [];
  metadataRequests = 0;
  /** POST /v1/producers answered so far (the ids handed out are 0, 1, 2 …). */
  producerInits = 0;
  /** Failures to answer, in order, to the next POST /v1/producers. */
  readonly initFailures: { status: number; code: string }[] = [];
  /** Produces answered as a retry of a stored batch (duplicate: true). */
  duplicates = 0;
  readonly #producerStates = new Map<number, ProducerStateTable>();
  /** Broker ids whose connections are refused (a killed process). */
  readonly down = new Set<number>();
  #hung: (() => void)[] = [];

  readonly topic: string;
  readonly nowMs: () => number;

  constructor(topic: string, partitionCount: number, nowMs: () => number) {
    this.topic = topic;
    this.nowMs = nowMs;
    for (let p = 0; p < partitionCount; p += 1) this.leaders.set(p, 1);
  }

  static url(id: number): string {
    return `http://broker-${id}:9091`;
  }

  /** Answers every hung request (as a success). */
  releaseHung(): void {
    const hung = this.#hung;
    this.#hung = [];
    for (const release of hung) release();
  }

  async request(url: string, request: TransportRequest): Promise<TransportResponse> {
    for (const id of this.down) {
      if (url === FakeCluster.url(id)) {
        throw new ClientError('CLIENT_CONNECTION', `${url}: connection refused`);
      }
    }
    if (request.path === '/v1/producers' && request.method === 'POST') {
      const failure = this.initFailures.shift();
      if (failure !== undefined) {
        return json(failure.status, { error: { code: failure.code, message: 'scripted' } });
      }
      this.producerInits += 1;
      return json(200, { producerId: this.producerInits - 1, producerEpoch: 0 });
    }
    if (request.path === '/v1/cluster') {
      const brokers = [1, 2, 3].map((id) => ({ id, url: FakeCluster.url(id), status: 'alive' }));
      return json(200, { clusterId: 'fake', controllerId: 1, brokers });
    }
    if (request.path.split('?')[0] === `/v1/topics/${this.topic}`) {
      this.metadataRequests += 1;
      const partitions = [...this.leaders].map(([partition, leader]) => ({
        partition,
        leader,
        leaderEpoch: leader,
        replicas: [1, 2, 3],
        isr: [1, 2, 3],
      }));
      return json(200, { name: this.topic, configs: {}, partitions });
    }
    const match = /^\/v1\/topics\/([^/]+)\/partitions\/(\d+)\/records/.exec(request.path);
    if (match !== null && request.method === 'POST') {
      return this.#produce(url, request, Number(match[2]));
    }
    if (match !== null && request.method === 'GET') {
      return this.#fetch(url, request.path, Number(match[2]));
    }
    const offsets = /^\/v1\/topics\/[^/]+\/partitions\/(\d+)\/offsets/.exec(request.path);
    if (offsets !== null) {
      const log = this.logs.get(Number(offsets[1])) ?? [];
      return json(200, { logStartOffset: 0, highWatermark: log.length });
    }
    return json(404, { error: { code: 'UNKNOWN_TOPIC_OR_PARTITION', message: request.path } });
  }

  async close(): Promise<void> {}

  /** Answers with the whole log as one batch from offset 0, whatever offset was asked. */
  async #fetch(url: string, path: string, partition: number): Promise<TransportResponse> {
    const offset = Number(new URL(path, 'http://x').searchParams.get('offset'));
    this.fetches.push({ url, partition, offset });
    const failure = this.fetchFailures.shift();
    if (failure !== undefined && typeof failure !== 'string') {
      return json(failure.status, { error: { code: failure.code, message: 'scripted' } });
    }
    if (url !== FakeCluster.url(this.leaders.get(partition) ?? -1)) {
      return json(421, { error: { code: 'NOT_LEADER_OR_FOLLOWER', message: 'moved' } });
    }
    const log = this.logs.get(partition) ?? [];
    if (offset > log.length) {
      return json(416, { error: { code: 'OFFSET_OUT_OF_RANGE', message: 'out of range' } });
    }
    const headers = { 'rill-high-watermark': String(log.length) };
    if (offset === log.length) return { status: 200, headers, body: Buffer.alloc(0) };
    const records = log.map((value) => ({
      key: null,
      value: Buffer.from(value),
      headers: [],
      timestampMs: 0,
    }));
    const body = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: 1,
      records,
      compression: 'none',
    });
    return { status: 200, headers, body };
  }

  async #produce(
    url: string,
    request: TransportRequest,
    partition: number,
  ): Promise<TransportResponse> {
    const batches = await decodeBatches(request.body as Uint8Array);
    const values = batches.flatMap((b) =>
      b.records.map((r) => Buffer.from(r.value ?? []).toString()),
    );
    this.calls.push({ url, topic: this.topic, partition, values, atMs: this.nowMs() });
    const failure = this.failures.shift();
    if (failure === 'hang') await new Promise<void>((resolve) => this.#hung.push(resolve));
    else if (failure !== undefined && failure !== 'ok' && failure.written !== true) {
      return json(failure.status, { error: { code: failure.code, message: 'scripted' } });
    }
    if (url !== FakeCluster.url(this.leaders.get(partition) ?? -1)) {
      return json(421, { error: { code: 'NOT_LEADER_OR_FOLLOWER', message: 'moved' } });
    }
    const answer = this.#append(partition, batches, values);
    if (failure === undefined || typeof failure === 'string' || answer.status !== 200) {
      return answer;
    }
    return json(failure.status, { error: { code: failure.code, message: 'scripted, written' } });
  }

  /** The broker forgets every producer (expired state, or a leader without it). */
  forgetProducers(): void {
    this.#producerStates.clear();
  }

  #append(
    partition: number,
    batches: Awaited<ReturnType<typeof decodeBatches>>,
    values: string[],
  ): TransportResponse {
    const log = this.logs.get(partition) ?? [];
    this.logs.set(partition, log);
    const baseOffset = log.length;
    // The broker's own reading of a produce's identity (all its batches as one unit).
    const producer = producerIdentityOf(batches.map((batch) => batch.header));
    if (producer !== null) {
      const table = this.#producerStates.get(partition) ?? new ProducerStateTable();
      this.#producerStates.set(partition, table);
      const decided = table.check(producer, 0);
      if (decided.kind === 'refused') {
        return json(409, { error: { code: decided.code, message: decided.message } });
      }
      if (decided.kind === 'duplicate') {
        this.duplicates += 1;
        const { baseOffset: base, lastOffset } = decided;
        return json(200, {
          topic: this.topic,
          partition,
          baseOffset: base,
          lastOffset,
          duplicate: true,
        });
      }
      table.record(producer, baseOffset, baseOffset + values.length - 1, 0);
    }
    log.push(...values);
    return json(200, { topic: this.topic, partition, baseOffset, lastOffset: log.length - 1 });
  }
}

function json(status: number, body: unknown): TransportResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
  };
}
