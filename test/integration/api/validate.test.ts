// Goal: issue 15's defects 1 and 2 stay gone on a real node. A batch whose CRC is valid but whose
// records are malformed is refused at produce (CORRUPT_MESSAGE) and earlier records stay
// readable; a poison batch and a bomb written straight into a segment (an old log) leave the
// records before them readable and are each reported with its offset and the next readable one,
// to JSON fetch and to the client Consumer alike, within a memory bound; nine compression bombs
// are refused at produce without the node's peak RSS growing anywhere near the expanded size.
// Method: one `rill broker` child; the segment is edited while it is stopped; the broker's
// peak RSS is read from /proc/<pid>/status (VmHWM) before and after the bombs.
import { readdir, readFile, appendFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RillClient } from '../../../src/api/client/index.ts';
import { ClientError } from '../../../src/api/client/client-error.ts';
import { BrokerProcess } from '../../support/api/broker-process.ts';
import { H2c, type H2cResponse } from '../../support/api/h2c.ts';
import {
  compressionBombs,
  defectOneBatchHex,
  poisonBatches,
} from '../../support/log/hostile-batches.ts';

const batchType = 'application/vnd.rill.batch';
const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

let broker: BrokerProcess;
let http: H2c;

beforeAll(async () => {
  broker = await BrokerProcess.start();
  http = new H2c(broker.url);
});

afterAll(async () => {
  await broker?.stop();
  await http?.close();
  await broker?.removeData();
});

const recordsPath = (topic: string) => `/v1/topics/${topic}/partitions/0/records`;

async function createTopic(name: string, configs: Record<string, string> = {}): Promise<void> {
  const created = await http.post('/v1/topics', {
    name,
    partitions: 1,
    replicationFactor: 1,
    configs,
  });
  expect(created.status).toBe(201);
}

function produceBinary(topic: string, body: Buffer): Promise<H2cResponse> {
  return http.request({
    method: 'POST',
    path: recordsPath(topic),
    headers: { 'content-type': batchType },
    body,
  });
}

async function produceJson(topic: string, value: string): Promise<number> {
  const produced = await http.post(recordsPath(topic), { records: [{ value }] });
  expect(produced.status).toBe(200);
  return produced.json().baseOffset as number;
}

async function fetchJson(topic: string, offset: number): Promise<H2cResponse> {
  return http.get(`${recordsPath(topic)}?offset=${offset}`);
}

function peakRssBytes(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((status) => {
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    if (match === null) throw new Error('no VmHWM in /proc status');
    return Number(match[1]) * 1024;
  });
}

describe('defect 1: a batch with a valid CRC but malformed records', () => {
  test('is refused at produce with CORRUPT_MESSAGE; good-0 stays readable', async () => {
    await createTopic('t');
    expect(await produceJson('t', 'good-0')).toBe(0);
    const poison = Buffer.from(defectOneBatchHex, 'hex');
    const refused = await produceBinary('t', poison);
    expect(refused.status).toBe(400);
    expect(refused.json().error).toMatchObject({ code: 'CORRUPT_MESSAGE' });
    expect(await produceJson('t', 'good-1')).toBe(1);
    const fetched = await fetchJson('t', 0);
    expect(fetched.status).toBe(200);
    expect(fetched.json().records.map((r: { value: string }) => r.value)).toEqual([
      'good-0',
      'good-1',
    ]);
  });

  test('every poison batch: a 10-byte varint, a count that lies, a negative length, …', async () => {
    await createTopic('lies');
    for (const { name, batch, code } of await poisonBatches()) {
      const answer = await produceBinary('lies', batch);
      expect({ name, status: answer.status, code: answer.json().error?.code }).toEqual({
        name,
        status: 400,
        code,
      });
    }
    expect(await produceJson('lies', 'good')).toBe(0);
  });
});

describe('defects 1-2: a poison batch and a bomb already in the log (written before validation)', () => {
  // A restart: generous on a loaded machine.
  test(
    'earlier records stay readable; each batch is reported with the next offset',
    { timeout: 150_000 },
    async () => {
      await createTopic('old');
      await produceJson('old', 'good-0');
      await broker.stop();
      const dir = join(broker.dataDir, (await findDir(broker.dataDir, 'old-0')) ?? '');
      const segment = (await readdir(dir)).find((name) => name.endsWith('.log'));
      expect(segment).toBeDefined();
      const poison = Buffer.from(defectOneBatchHex, 'hex');
      // An lz4 bomb of 1 GiB (4 MB on disk), past max.message.bytes too: an old log may hold one.
      const bomb = (await compressionBombs(GiB)).find((b) => b.name === 'lz4')!.batch;
      // Base offsets 1 and 2, epoch 0: as the leader would have stamped them.
      poison.writeBigInt64BE(1n, 0);
      poison.writeInt32BE(0, 12);
      bomb.writeBigInt64BE(2n, 0);
      bomb.writeInt32BE(0, 12);
      const before = (await stat(join(dir, segment!))).size;
      await appendFile(join(dir, segment!), Buffer.concat([poison, bomb]));
      const size = (await stat(join(dir, segment!))).size;
      expect(size).toBe(before + poison.length + bomb.length);
      broker = await BrokerProcess.start({ dataDir: broker.dataDir, readyTimeoutMs: 90_000 });
      await http.close();
      http = new H2c(broker.url);
      expect(await produceJson('old', 'good-3')).toBe(3);

      const first = await fetchJson('old', 0);
      expect(first.status).toBe(200);
      expect(first.json()).toMatchObject({
        records: [{ offset: 0, value: 'good-0' }],
        nextOffset: 1,
      });
      const atPoison = await fetchJson('old', 1);
      expect(atPoison.status).toBe(400);
      expect(atPoison.json().error).toMatchObject({
        code: 'CORRUPT_MESSAGE',
        offset: 1,
        nextOffset: 2,
      });
      // Four JSON fetches of the bomb at once: each stops at the bound, the node stays small.
      const rssBefore = await peakRssBytes(broker.pid);
      const atBomb = await Promise.all([1, 2, 3, 4].map(() => fetchJson('old', 2)));
      const rssGrowth = (await peakRssBytes(broker.pid)) - rssBefore;
      console.log(`stored bomb: 4 fetches grew peak RSS ${(rssGrowth / MiB).toFixed(1)} MiB`);
      for (const answer of atBomb) {
        expect(answer.status).toBe(400);
        expect(answer.json().error).toMatchObject({
          code: 'CORRUPT_MESSAGE',
          offset: 2,
          nextOffset: 3,
        });
      }
      expect(rssGrowth).toBeLessThan(512 * MiB);
      const after = await fetchJson('old', 3);
      expect(after.json()).toMatchObject({ records: [{ offset: 3, value: 'good-3' }] });

      // The client Consumer: good-0, then a typed error naming the offsets per bad batch, then
      // good-3 after seeking past each.
      const client = new RillClient({ bootstrapUrls: [broker.url] });
      try {
        const consumer = client.consumer({ autoOffsetReset: 'earliest' });
        const tp = { topic: 'old', partition: 0 };
        consumer.assign([tp]);
        const got = await consumer.poll({ maxWaitMs: 5_000 });
        expect(got.map((r) => r.offset)).toEqual([0]);
        for (const offset of [1, 2]) {
          const error = await consumer.poll({ maxWaitMs: 5_000 }).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(ClientError);
          expect(error).toMatchObject({
            code: 'CORRUPT_MESSAGE',
            details: { offset, nextOffset: offset + 1 },
          });
          consumer.seek(tp, (error as ClientError).details['nextOffset'] as number);
        }
        const rest = await consumer.poll({ maxWaitMs: 5_000 });
        expect(rest.map((r) => Buffer.from(r.value!).toString())).toEqual(['good-3']);
        consumer.close();
      } finally {
        await client.close();
      }
    },
  );
});

async function findDir(root: string, name: string): Promise<string | null> {
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isDirectory() && entry.name === name) {
      return join(entry.parentPath, entry.name).slice(root.length + 1);
    }
  }
  return null;
}

// ---- defect 2: compression bombs ---------------------------------------------------------

describe('defect 2: compression bombs are refused at produce, within a memory bound', () => {
  test('nine bombs of 1 GiB: gzip, zstd ×3, snappy raw and xerial, lz4 ×3', async () => {
    // max.message.bytes raised, as any client may: the absolute bound must still hold.
    await createTopic('bombs', { 'max.message.bytes': String(16 * MiB) });
    await produceJson('bombs', 'before');
    const bombs = await compressionBombs(GiB);
    expect(bombs).toHaveLength(9);
    const rssBefore = await peakRssBytes(broker.pid);
    for (const { name, batch } of bombs) {
      const answer = await produceBinary('bombs', batch);
      expect({ name, status: answer.status, code: answer.json().error?.code }).toEqual({
        name,
        status: 400,
        code: 'CORRUPT_MESSAGE',
      });
      expect(answer.json().error.message).toMatch(/expand|decompress/);
    }
    const rssGrowth = (await peakRssBytes(broker.pid)) - rssBefore;
    console.log(`bombs: peak RSS grew ${(rssGrowth / MiB).toFixed(1)} MiB for 9 bombs of 1 GiB`);
    expect(rssGrowth).toBeLessThan(256 * MiB);
    const fetched = await fetchJson('bombs', 0);
    expect(fetched.json().records.map((r: { value: string }) => r.value)).toEqual(['before']);
    expect((await http.get('/healthz')).status).toBe(200);
  });
});

describe('JSON produce on a compressed topic stays within the decompression bound', () => {
  test('compressible records are split into batches the broker accepts', async () => {
    await createTopic('squeezed', { 'compression.type': 'gzip' });
    const big = 'a'.repeat(600 * 1024);
    const produced = await http.post(recordsPath('squeezed'), {
      records: [{ value: big }, { value: big }, { value: big }],
    });
    expect(produced.status).toBe(200);
    expect(produced.json()).toMatchObject({ baseOffset: 0, lastOffset: 2 });
    const fetched = await fetchJson('squeezed', 0);
    expect(fetched.json().records.map((r: { value: string }) => r.value.length)).toEqual([
      big.length,
      big.length,
      big.length,
    ]);
    // One record that alone expands past the bound (1 MiB here) is too large, not corrupt.
    const tooBig = await http.post(recordsPath('squeezed'), {
      records: [{ value: 'a'.repeat(2 * MiB) }],
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.json().error.code).toBe('MESSAGE_TOO_LARGE');
  });
});
