// Goal: issue 15's defects 1 and 2 stay gone on a real node. A batch whose CRC is valid but whose
// records are malformed is refused at produce (CORRUPT_MESSAGE) and earlier records stay
// readable; a poison batch written straight into a segment (an old log) leaves the records
// before it readable and is reported with its offset and the next readable one, to JSON fetch
// and to the client Consumer alike; a compression bomb of every codec is refused at produce
// without the node's peak RSS growing anywhere near the expanded size.
// Method: one `rill broker` child; the segment is edited while it is stopped; the broker's
// peak RSS is read from /proc/<pid>/status (VmHWM) before and after the bombs.
import { readdir, readFile, appendFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { compressFrameSync, compressSync as lz4BlockCompress } from 'lz4-napi';
import { crc32c } from '@node-rs/crc32';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RillClient } from '../../../src/api/client/index.ts';
import { ClientError } from '../../../src/api/client/client-error.ts';
import {
  ATTRIBUTES_AT,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_AT,
  CRC_AT,
  LOG_OVERHEAD_BYTES,
} from '../../../src/log/record-batch.ts';
import { compressionCodecIds, encodeBatch, type Compression } from '../../../src/log/index.ts';
import { BrokerProcess } from '../../support/api/broker-process.ts';
import { H2c, type H2cResponse } from '../../support/api/h2c.ts';

const batchType = 'application/vnd.rill.batch';
/** The exact batch of defect 1: valid CRC, a 14-byte varint for its record's length. */
const defectOneHex =
  '000000000000000000000045ffffffff02f3fc81a10000000000000000018bcfe568000000018bcfe568' +
  '00ffffffffffffffffffffffffffff00000001ffffffffffffffffffffffffffffffffffffffff';
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

/** A one-record batch whose records section is replaced by `section` under `codec`. */
async function withSection(codec: Compression, section: Buffer): Promise<Buffer> {
  const plain = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    compression: 'none',
    records: [{ key: null, value: Buffer.from('x'), headers: [], timestampMs: 1_000 }],
  });
  const batch = Buffer.concat([plain.subarray(0, BATCH_HEADER_BYTES), section]);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_AT);
  batch.writeInt16BE(compressionCodecIds[codec], ATTRIBUTES_AT);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_AT)), CRC_AT);
  return batch;
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
    const poison = Buffer.from(defectOneHex, 'hex');
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

  test('a record count that lies, a negative length, offset deltas out of order', async () => {
    await createTopic('lies');
    const good = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      compression: 'none',
      records: ['a', 'b'].map((v) => ({
        key: null,
        value: Buffer.from(v),
        headers: [],
        timestampMs: 5,
      })),
    });
    const recrc = (b: Buffer) => {
      b.writeUInt32BE(crc32c(b.subarray(ATTRIBUTES_AT)), CRC_AT);
      return b;
    };
    const countLies = Buffer.from(good);
    countLies.writeInt32BE(3, 57); // recordCount 3 for 2 records
    countLies.writeInt32BE(2, 23); // lastOffsetDelta 2 to match
    const secondDelta = Buffer.from(good);
    // Record 2's offset delta (after length, attributes, timestamp delta) 1 → 0.
    const second = BATCH_HEADER_BYTES + 1 + good[BATCH_HEADER_BYTES]! / 2;
    expect(secondDelta[second + 3]).toBe(2); // zig-zag 1
    secondDelta[second + 3] = 0;
    const negativeKey = Buffer.from(good);
    negativeKey[BATCH_HEADER_BYTES + 4] = 3; // key length -2
    const cases: [Buffer, string][] = [
      [recrc(countLies), 'CORRUPT_MESSAGE'],
      [recrc(secondDelta), 'INVALID_RECORD'],
      [recrc(negativeKey), 'CORRUPT_MESSAGE'],
    ];
    for (const [body, code] of cases) {
      const answer = await produceBinary('lies', body);
      expect({ status: answer.status, code: answer.json().error?.code }).toEqual({
        status: 400,
        code,
      });
    }
    expect((await produceBinary('lies', good)).status).toBe(200);
  });
});

describe('defect 1: a poison batch already in the log (written before validation)', () => {
  // A restart: generous on a loaded machine.
  test(
    'earlier records stay readable; the batch is reported with the next offset',
    { timeout: 150_000 },
    async () => {
      await createTopic('old');
      await produceJson('old', 'good-0');
      await broker.stop();
      const dir = join(broker.dataDir, (await findDir(broker.dataDir, 'old-0')) ?? '');
      const segment = (await readdir(dir)).find((name) => name.endsWith('.log'));
      expect(segment).toBeDefined();
      const poison = Buffer.from(defectOneHex, 'hex');
      poison.writeBigInt64BE(1n, 0); // baseOffset 1, epoch 0: as the leader would have stamped it.
      poison.writeInt32BE(0, 12);
      const before = (await stat(join(dir, segment!))).size;
      await appendFile(join(dir, segment!), poison);
      expect((await stat(join(dir, segment!))).size).toBe(before + poison.length);
      broker = await BrokerProcess.start({ dataDir: broker.dataDir, readyTimeoutMs: 90_000 });
      await http.close();
      http = new H2c(broker.url);
      expect(await produceJson('old', 'good-2')).toBe(2);

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
      const after = await fetchJson('old', 2);
      expect(after.json()).toMatchObject({ records: [{ offset: 2, value: 'good-2' }] });

      // The client Consumer: good-0, then a typed error naming the offsets, then good-2 after seek.
      const client = new RillClient({ bootstrapUrls: [broker.url] });
      try {
        const consumer = client.consumer({ autoOffsetReset: 'earliest' });
        const tp = { topic: 'old', partition: 0 };
        consumer.assign([tp]);
        const got = await consumer.poll({ maxWaitMs: 5_000 });
        expect(got.map((r) => r.offset)).toEqual([0]);
        const error = await consumer.poll({ maxWaitMs: 5_000 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ClientError);
        expect(error).toMatchObject({
          code: 'CORRUPT_MESSAGE',
          details: { offset: 1, nextOffset: 2 },
        });
        consumer.seek(tp, (error as ClientError).details['nextOffset'] as number);
        const rest = await consumer.poll({ maxWaitMs: 5_000 });
        expect(rest.map((r) => Buffer.from(r.value!).toString())).toEqual(['good-2']);
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

/** A zstd frame of RLE blocks (128 KiB of zeros each): `bytes` of output, 4 bytes per block. */
function zstdRleBomb(bytes: number, declareSize: boolean): Buffer {
  const blockBytes = 128 * 1024;
  const header = declareSize
    ? Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x38]), u64le(bytes)])
    : Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38]);
  const blocks: Buffer[] = [header];
  const count = bytes / blockBytes;
  for (let i = 0; i < count; i += 1) {
    const last = i === count - 1 ? 1 : 0;
    const word = last | (1 << 1) | (blockBytes << 3); // RLE block of blockBytes.
    blocks.push(Buffer.from([word & 0xff, (word >> 8) & 0xff, (word >> 16) & 0xff, 0]));
  }
  return Buffer.concat(blocks);
}

function u64le(value: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(BigInt(value));
  return out;
}

/** An LZ4 frame (lz4-napi's header: 4 MiB independent blocks) of `bytes` zeros. */
function lz4Bomb(bytes: number): Buffer {
  const blockBytes = 4 * MiB;
  const block = lz4BlockCompress(Buffer.alloc(blockBytes)).subarray(4); // Drop the size prefix.
  const header = compressFrameSync(Buffer.from('x')).subarray(0, 7);
  const size = Buffer.alloc(4);
  size.writeUInt32LE(block.length);
  const parts: Buffer[] = [header];
  for (let i = 0; i < bytes / blockBytes; i += 1) parts.push(size, block);
  parts.push(Buffer.alloc(4)); // End mark.
  return Buffer.concat(parts);
}

/** Raw snappy whose length preamble claims `bytes`; xerial framing of such blocks. */
function snappyBombs(bytes: number): Buffer[] {
  const preamble: number[] = [];
  for (let rest = bytes; ; rest = Math.floor(rest / 128)) {
    if (rest < 128) {
      preamble.push(rest);
      break;
    }
    preamble.push((rest % 128) | 0x80);
  }
  const raw = Buffer.concat([Buffer.from(preamble), Buffer.from([0x00, 0x00])]);
  const magic = Buffer.from([
    0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1,
  ]);
  // Legitimate-looking 32 KiB blocks whose sum passes the bound: 21:1 is snappy's best ratio,
  // so a real block is small; the lie is in the block count times the preamble.
  const block = compressSnappyBlock(32 * 1024);
  const parts: Buffer[] = [magic];
  for (let i = 0; i < 4096; i += 1) parts.push(int32be(block.length), block);
  return [raw, Buffer.concat(parts)];
}

function int32be(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeInt32BE(value);
  return out;
}

/** A raw snappy block of `bytes` zeros: a one-byte literal then 64-byte copies at offset 1. */
function compressSnappyBlock(bytes: number): Buffer {
  const out: number[] = [];
  for (let rest = bytes; ; rest = Math.floor(rest / 128)) {
    if (rest < 128) {
      out.push(rest);
      break;
    }
    out.push((rest % 128) | 0x80);
  }
  out.push(0x00, 0x00); // Literal of length 1: a zero.
  let left = bytes - 1;
  while (left > 0) {
    const n = Math.min(64, left);
    if (n < 4) {
      out.push((n - 1) << 2, 0); // Literal of n zeros.
      for (let i = 1; i < n; i += 1) out.push(0);
    } else {
      out.push(((n - 1) << 2) | 2, 1, 0); // Copy n bytes from offset 1.
    }
    left -= n;
  }
  return Buffer.from(out);
}

async function gzipBomb(bytes: number): Promise<Buffer> {
  // 1 GiB of zeros at level 9 takes seconds; a deflate stream of repeated stored copies of
  // a smaller bomb's members is as effective: gunzip reads concatenated members as one.
  const member = gzipSync(Buffer.alloc(64 * MiB), { level: 9 });
  return Buffer.concat(Array.from({ length: bytes / (64 * MiB) }, () => member));
}

describe('defect 2: compression bombs are refused at produce, within a memory bound', () => {
  test('gzip, zstd (size unknown, declared), lz4 of 1 GiB, snappy raw (claims 1 GiB), xerial (128 MiB)', async () => {
    // max.message.bytes raised, as any client may: the absolute bound must still hold.
    await createTopic('bombs', { 'max.message.bytes': String(16 * MiB) });
    await produceJson('bombs', 'before');
    const sections: [Compression, string, Buffer][] = [
      ['gzip', 'gzip', await gzipBomb(GiB)],
      ['zstd', 'zstd, size unknown', zstdRleBomb(GiB, false)],
      ['zstd', 'zstd, size declared', zstdRleBomb(GiB, true)],
      ['snappy', 'snappy raw', snappyBombs(GiB)[0]!],
      ['snappy', 'snappy xerial', snappyBombs(GiB)[1]!],
      ['lz4', 'lz4', lz4Bomb(GiB)],
    ];
    const rssBefore = await peakRssBytes(broker.pid);
    for (const [codec, name, section] of sections) {
      const answer = await produceBinary('bombs', await withSection(codec, section));
      expect({ name, status: answer.status, code: answer.json().error?.code }).toEqual({
        name,
        status: 400,
        code: 'CORRUPT_MESSAGE',
      });
      expect(answer.json().error.message).toMatch(/expand|decompress/);
    }
    const rssGrowth = (await peakRssBytes(broker.pid)) - rssBefore;
    console.log(`bombs: peak RSS grew ${(rssGrowth / MiB).toFixed(1)} MiB for 6 × 1 GiB`);
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
