// The few public HTTP routes the bench reads or writes directly, over the client library's
// H2Transport: GET /v1/raft, GET /v1/cluster, GET /v1/topics/{t}, POST /v1/topics and a one-
// record JSON acks=all write. Only public routes: the bench must keep working as the broker's
// internals change.
import type { H2Transport } from '../../src/api/client/index.ts';

const responseBytesMax = 4 * 1024 * 1024;

export interface PartitionView {
  readonly partition: number;
  readonly leader: number | null;
  readonly isr: readonly number[];
}

export async function getJson<T>(http: H2Transport, url: string, path: string): Promise<T> {
  const response = await http.request(url, {
    method: 'GET',
    path,
    responseBytesMax,
    timeoutMs: 2_000,
  });
  if (response.status !== 200) throw new Error(`GET ${path} on ${url}: ${response.status}`);
  return JSON.parse(response.body.toString()) as T;
}

export async function raftCommitIndex(http: H2Transport, url: string): Promise<number> {
  return (await getJson<{ commitIndex: number }>(http, url, '/v1/raft')).commitIndex;
}

export async function controllerId(http: H2Transport, url: string): Promise<number | null> {
  return (await getJson<{ controllerId: number | null }>(http, url, '/v1/cluster')).controllerId;
}

export async function partitionsOf(
  http: H2Transport,
  url: string,
  topic: string,
): Promise<readonly PartitionView[]> {
  const body = await getJson<{ partitions: PartitionView[] }>(http, url, `/v1/topics/${topic}`);
  return body.partitions;
}

export async function createTopic(
  http: H2Transport,
  url: string,
  topic: { name: string; partitions: number; replicationFactor: number; configs: object },
): Promise<void> {
  const response = await http.request(url, {
    method: 'POST',
    path: '/v1/topics',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(topic),
    responseBytesMax,
    timeoutMs: 10_000,
  });
  if (response.status !== 201) {
    throw new Error(`create ${topic.name}: ${response.status} ${response.body.toString()}`);
  }
}

/** One JSON record with acks=all to `partition` on `url`; true when acknowledged. */
export async function writeOne(
  http: H2Transport,
  url: string,
  topic: string,
  partition: number,
): Promise<boolean> {
  const response = await http.request(url, {
    method: 'POST',
    path: `/v1/topics/${topic}/partitions/${partition}/records?acks=all&timeoutMs=1000`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ records: [{ value: 'failover' }] }),
    responseBytesMax,
    timeoutMs: 2_000,
  });
  return response.status === 200;
}
