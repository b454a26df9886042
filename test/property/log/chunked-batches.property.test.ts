// Goal: decodeBatchChunks over any split of a body into chunks gives exactly what decodeBatches
// gives over the whole body — the same batches and records, or a failure with the same code —
// for valid bodies (plain and compressed, with headers and nulls), bodies cut short (with and
// without allowPartialTail) and bodies with one flipped byte. Replay a failure with
// CHUNKED_PROPERTY_SEED=<seed printed below>.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { decodeBatchChunks } from '../../../src/log/chunked-batches.ts';
import {
  decodeBatches,
  encodeBatch,
  isLogError,
  type Compression,
  type LogRecord,
} from '../../../src/log/index.ts';

const recordArb: fc.Arbitrary<LogRecord> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b))),
  value: fc.option(fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b))),
  headers: fc.array(
    fc.record({
      key: fc.string({ maxLength: 8 }),
      value: fc.option(fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b))),
    }),
    { maxLength: 2 },
  ),
  timestampMs: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_100_000 }),
});

const batchArb = fc.record({
  records: fc.array(recordArb, { minLength: 1, maxLength: 30 }),
  compression: fc.constantFrom<Compression>('none', 'none', 'none', 'gzip'),
});

type Damage =
  | { kind: 'none' }
  | { kind: 'cut'; at: number; partialTail: boolean }
  | { kind: 'flip'; at: number };

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.constant<Damage>({ kind: 'none' }),
  fc.record({
    kind: fc.constant('cut' as const),
    at: fc.double({ min: 0, max: 1, noNaN: true }),
    partialTail: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
);

async function encodeBody(batches: { records: LogRecord[]; compression: Compression }[]) {
  const parts: Buffer[] = [];
  let baseOffset = 0;
  for (const batch of batches) {
    parts.push(await encodeBatch({ baseOffset, partitionLeaderEpoch: 3, ...batch }));
    baseOffset += batch.records.length;
  }
  return Buffer.concat(parts);
}

/** Splits `body` at cuts (mod its length) into copies, as a socket delivers separate buffers. */
function split(body: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((n) => n % Math.max(1, body.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, body.length]) {
    if (point > from) chunks.push(Buffer.from(body.subarray(from, point)));
    from = Math.max(from, point);
  }
  return chunks;
}

async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await run() };
  } catch (error) {
    if (!isLogError(error)) throw error;
    return { code: error.code };
  }
}

test('decodeBatchChunks equals decodeBatches over every split, valid or damaged', async () => {
  const seed = Number(process.env.CHUNKED_PROPERTY_SEED ?? Date.now() % 2 ** 31);
  console.log(`chunked-batches property seed: ${seed} (CHUNKED_PROPERTY_SEED=${seed} to replay)`);
  let spanning = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(batchArb, { minLength: 1, maxLength: 4 }),
      fc.array(fc.nat({ max: 1_000_000 }), { minLength: 1, maxLength: 12 }),
      damageArb,
      async (batches, cuts, damage) => {
        let body = await encodeBody(batches);
        let partialTail = false;
        if (damage.kind === 'cut') {
          body = body.subarray(0, Math.floor(damage.at * body.length));
          partialTail = damage.partialTail;
        } else if (damage.kind === 'flip') {
          body = Buffer.from(body);
          const at = Math.min(body.length - 1, Math.floor(damage.at * body.length));
          body[at] = (body[at] ?? 0) ^ 0x5a;
        }
        const chunks = split(body, cuts);
        if (chunks.length > 1) spanning += 1;
        const options = { allowPartialTail: partialTail };
        const expected = await outcome(() => decodeBatches(body, options));
        const actual = await outcome(() => decodeBatchChunks(chunks, options));
        expect(actual).toEqual(expected);
      },
    ),
    { seed, numRuns: 300 },
  );
  expect(spanning).toBeGreaterThan(150);
});

test('a record inside one chunk is a view of it, not a copy', async () => {
  const value = Buffer.alloc(1000, 7);
  const records = Array.from({ length: 64 }, () => ({
    key: null,
    value,
    headers: [],
    timestampMs: 1_700_000_000_000,
  }));
  const body = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: 0,
    records,
    compression: 'none',
  });
  const quarter = Math.floor(body.length / 4);
  const chunks = split(body, [quarter, 2 * quarter, 3 * quarter]);
  const [batch] = await decodeBatchChunks(chunks);
  const views = batch?.records.filter((r) => chunks.some((c) => r.value?.buffer === c.buffer));
  expect(batch?.records).toHaveLength(64);
  // Only records that straddle one of the three boundaries are copied.
  expect(views?.length).toBeGreaterThanOrEqual(61);
});
