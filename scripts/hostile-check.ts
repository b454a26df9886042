// `npx tsx scripts/hostile-check.ts [--url URL --pid PID]`: issue 15's defects 1, 2 and 5 by
// hand against a real broker (a fresh one unless --url), printing one line per check with what
// the node answered. (1) Six poison batches over HTTP and over the Kafka port, then the good
// records before them read back by JSON and Kafka fetch. (2) Nine 1 GiB compression bombs over
// both, with the node's peak RSS. (5) The error contract: a bad percent-encoding, unsupported
// content types, a batch on PUT …/configs, acks=bogus on both produce routes, an unknown query
// parameter and method. scripts/flood-check.ts covers defects 3 and 4.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { encodeBatch } from '../src/log/index.ts';
import { peakRssMiB } from '../test/support/api/h2-flood.ts';
import { H2c, type H2cResponse } from '../test/support/api/h2c.ts';
import { fetchV11, KafkaWireClient, produceV8 } from '../test/support/api/kafka-wire.ts';
import {
  compressionBombs,
  poisonBatches,
  type HostileBatch,
} from '../test/support/log/hostile-batches.ts';

const batchType = 'application/vnd.rill.batch';
const kafkaCodeNames: Readonly<Record<number, string>> = {
  0: 'NONE',
  [-1]: 'UNKNOWN_SERVER_ERROR',
  2: 'CORRUPT_MESSAGE',
  10: 'MESSAGE_TOO_LARGE',
  87: 'INVALID_RECORD',
};
let failures = 0;

function report(what: string, got: string, ok: boolean): void {
  if (!ok) failures += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${got}`);
}

function shown(answer: H2cResponse): string {
  return `${answer.status} ${answer.body.toString('utf8').slice(0, 160)}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: 'string' }, pid: { type: 'string' } } });
  const { spawnBroker } = await import('./spawn-broker.ts');
  const broker = values.url === undefined ? await spawnBroker() : null;
  const url = values.url ?? (broker?.url as string);
  const pid = broker?.child.pid ?? Number(values.pid);
  console.log(`load average ${loadavg().map((l) => l.toFixed(2))}; node ${url}`);
  const http = new H2c(url);
  const kafka = await KafkaWireClient.connect(Number(new URL(url).port));
  try {
    const topic = `hostile-${Date.now()}`;
    const created = await http.post('/v1/topics', {
      name: topic,
      partitions: 1,
      replicationFactor: 1,
      configs: { 'max.message.bytes': String(16 * 1024 * 1024) },
    });
    if (created.status !== 201) throw new Error(`create ${topic}: ${shown(created)}`);
    await refuseAll(http, kafka, topic, pid);
    await errorContract(http, topic);
  } finally {
    kafka.close();
    await http.close();
    await broker?.stop();
  }
  console.log(`${failures} failed; load average ${loadavg().map((l) => l.toFixed(2))}`);
  process.exitCode = failures === 0 ? 0 : 1;
}

/** Defects 1 and 2: each hostile batch over HTTP and Kafka; good records around them. */
async function refuseAll(http: H2c, kafka: KafkaWireClient, topic: string, pid: number) {
  const path = `/v1/topics/${topic}/partitions/0/records`;
  const good = await http.post(path, { records: [{ value: 'good-0' }] });
  report('defect 1: produce good-0 (JSON)', shown(good), good.status === 200);
  const rssBefore = Number.isFinite(pid) ? peakRssMiB(pid) : NaN;
  const hostile: [string, HostileBatch][] = [
    ...(await poisonBatches()).map((b): [string, HostileBatch] => ['defect 1', b]),
    ...(await compressionBombs(1024 ** 3)).map((b): [string, HostileBatch] => ['defect 2', b]),
  ];
  for (const [defect, { name, batch, code }] of hostile) {
    const answer = await http.request({
      method: 'POST',
      path,
      headers: { 'content-type': batchType },
      body: batch,
    });
    const ok = answer.status === 400 && answer.json().error?.code === code;
    report(`${defect} HTTP ${name} (${batch.length} B)`, shown(answer), ok);
    const viaKafka = await produceV8(kafka, topic, 0, batch);
    const name2 = kafkaCodeNames[viaKafka.errorCode] ?? String(viaKafka.errorCode);
    report(`${defect} Kafka ${name}`, `${name2} ${viaKafka.errorMessage}`, name2 === code);
  }
  const rssAfter = Number.isFinite(pid) ? peakRssMiB(pid) : NaN;
  console.log(`peak RSS ${rssBefore.toFixed(0)} MiB before, ${rssAfter.toFixed(0)} MiB after`);
  const goodBatch = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    records: [{ key: null, value: Buffer.from('good-1'), headers: [], timestampMs: 1 }],
  });
  const viaKafka = await produceV8(kafka, topic, 0, goodBatch);
  report('produce good-1 (Kafka)', `${viaKafka.errorCode} base ${viaKafka.baseOffset}`, true);
  const fetched = await http.get(`${path}?offset=0`);
  const records: { value: string }[] = fetched.status === 200 ? fetched.json().records : [];
  const values = records.map((r) => r.value);
  const expected = JSON.stringify(['good-0', 'good-1']);
  report('JSON fetch offset=0', shown(fetched), JSON.stringify(values) === expected);
  const kafkaFetch = await fetchV11(kafka, topic, 0, 0);
  report(
    'Kafka fetch offset=0',
    `error ${kafkaFetch.errorCode} HW ${kafkaFetch.highWatermark} ${kafkaFetch.records.length} B`,
    kafkaFetch.errorCode === 0 && kafkaFetch.highWatermark === 2n,
  );
}

/** Defect 5: fastify's own errors and content types in the API's shape and statuses. */
async function errorContract(http: H2c, topic: string): Promise<void> {
  const checks: [string, Parameters<H2c['request']>[0], number][] = [
    ['GET /v1/topics/%C0%AE', { path: '/v1/topics/%C0%AE' }, 400],
    ['GET /v1/topics/%FF', { path: '/v1/topics/%FF' }, 400],
    [
      'POST /v1/topics text/plain',
      { method: 'POST', path: '/v1/topics', headers: { 'content-type': 'text/plain' }, body: '{}' },
      415,
    ],
    [
      'POST records text/plain',
      {
        method: 'POST',
        path: `/v1/topics/${topic}/partitions/0/records`,
        headers: { 'content-type': 'text/plain' },
        body: '{"records":[{"value":"x"}]}',
      },
      415,
    ],
    [
      'PUT configs with a batch body',
      {
        method: 'PUT',
        path: `/v1/topics/${topic}/configs`,
        headers: { 'content-type': batchType },
        body: Buffer.alloc(70),
      },
      415,
    ],
    [
      'POST topic-level records?acks=bogus',
      { method: 'POST', path: `/v1/topics/${topic}/records?acks=bogus`, json: { records: [] } },
      400,
    ],
    [
      'POST partition records?acks=bogus',
      {
        method: 'POST',
        path: `/v1/topics/${topic}/partitions/0/records?acks=bogus`,
        json: { records: [{ value: 'x' }] },
      },
      400,
    ],
    ['GET /v1/topics?bogus=1', { path: '/v1/topics?bogus=1' }, 400],
    ['DELETE /v1/cluster', { method: 'DELETE', path: '/v1/cluster' }, 404],
  ];
  for (const [what, request, status] of checks) {
    const answer = await http.request(request);
    const shaped = isErrorShape(answer);
    report(`defect 5: ${what}`, shown(answer), answer.status === status && shaped);
  }
}

function isErrorShape(answer: H2cResponse): boolean {
  try {
    const { error } = answer.json() as { error?: { code?: unknown; message?: unknown } };
    return typeof error?.code === 'string' && typeof error.message === 'string';
  } catch {
    return false; // Not JSON: not the API's shape.
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
