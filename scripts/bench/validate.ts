// Produce-validation micro-benchmark: the CPU a produce spends checking a body before it is
// appended, on the same buffers, without validation (scanBatches: framing + CRC, the produce
// path before issue 15) beside with it (scanBatches + the record walk of Partition's
// validateBatches, and bounded decompression for compressed batches), in MiB/s of records
// counted uncompressed. Rounds interleave the two, min/median/max per figure, with the load
// average. Run alone:
// `npx tsx scripts/bench/validate.ts`; the main bench imports `benchValidate`.
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import {
  BATCH_HEADER_BYTES,
  batchSize,
  checkRecords,
  encodeBatches,
  scanBatches,
  validateBatchRecords,
  type Compression,
} from '../../src/log/index.ts';

interface Shape {
  readonly name: string;
  readonly recordBytes: number;
  readonly recordsPerBatch: number;
  readonly compression: Compression;
}

/** The bench's produce batching (256 KiB of 1 KiB records), small records, and lz4. */
const shapes: readonly Shape[] = [
  { name: 'plain1KiB', recordBytes: 1024, recordsPerBatch: 256, compression: 'none' },
  { name: 'plain100B', recordBytes: 100, recordsPerBatch: 2_500, compression: 'none' },
  { name: 'lz4x1KiB', recordBytes: 1024, recordsPerBatch: 256, compression: 'lz4' },
];

export interface ValidateFigure {
  readonly shape: string;
  readonly withoutMiBps: { min: number; median: number; max: number };
  readonly withMiBps: { min: number; median: number; max: number };
  /** Median of with / without per round: 1.0 means validation costs nothing. */
  readonly ratioMedian: number;
}

/** Four batches of `shape`, and the bytes the same records take uncompressed. */
async function body(shape: Shape): Promise<{ bytes: Buffer; plainBytes: number }> {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  let seed = 12345;
  const nextLetter = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return letters[(seed >>> 16) % 13] as string; // 13 letters: compresses about 2:1.
  };
  const records = Array.from({ length: shape.recordsPerBatch }, (_, i) => ({
    key: Buffer.from(`key-${i}`),
    value: Buffer.from(Array.from({ length: shape.recordBytes }, nextLetter).join('')),
    headers: [],
    timestampMs: 1_700_000_000_000 + i,
  }));
  const batch = {
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    records,
    compression: shape.compression,
  };
  const bytes = await encodeBatches([batch, batch, batch, batch]);
  const plain = await encodeBatches(Array(4).fill({ ...batch, compression: 'none' }));
  return { bytes, plainBytes: plain.length };
}

/** What produce did before: framing and CRC only. */
function withoutValidation(bytes: Buffer): void {
  const scan = scanBatches(bytes);
  if (!scan.ok) throw scan.error;
}

/** What produce does now: the same, then every record walked (decompressed first if need be). */
async function withValidation(bytes: Buffer): Promise<void> {
  const scan = scanBatches(bytes);
  if (!scan.ok) throw scan.error;
  let position = 0;
  for (const header of scan.batches) {
    const end = position + batchSize(header);
    if ((header.attributes & 0x07) === 0) {
      const refused = checkRecords(header, bytes, position + BATCH_HEADER_BYTES, end, true);
      if (refused !== null) throw refused;
    } else {
      await validateBatchRecords(bytes, position, header, { producer: true });
    }
    position = end;
  }
}

/** MiB/s of records (counted uncompressed) through `run`, repeated for about `runMs`. */
async function rate(
  body: { bytes: Buffer; plainBytes: number },
  runMs: number,
  run: (b: Buffer) => unknown,
): Promise<number> {
  let done = 0;
  const started = performance.now();
  while (performance.now() - started < runMs) {
    await run(body.bytes);
    done += body.plainBytes;
  }
  return done / 1024 / 1024 / ((performance.now() - started) / 1000);
}

function spread(values: number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 10) / 10;
  return {
    min: round(sorted[0] ?? 0),
    median: round(sorted[Math.floor(sorted.length / 2)] ?? 0),
    max: round(sorted.at(-1) ?? 0),
  };
}

export async function benchValidate(
  options: { runMs?: number; rounds?: number } = {},
): Promise<{ loadAverage: number[]; figures: ValidateFigure[] }> {
  const runMs = options.runMs ?? 400;
  const rounds = options.rounds ?? 3;
  const loadAverage = loadavg().map((n) => Math.round(n * 100) / 100);
  const figures: ValidateFigure[] = [];
  for (const shape of shapes) {
    const bytes = await body(shape);
    const without: number[] = [];
    const withIt: number[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < rounds; r += 1) {
      // Alternate which goes first, so a busy machine weighs on both alike.
      const a = r % 2 === 0 ? await rate(bytes, runMs, withoutValidation) : -1;
      const b = await rate(bytes, runMs, withValidation);
      const c = a === -1 ? await rate(bytes, runMs, withoutValidation) : a;
      without.push(c);
      withIt.push(b);
      ratios.push(b / c);
    }
    figures.push({
      shape: shape.name,
      withoutMiBps: spread(without),
      withMiBps: spread(withIt),
      ratioMedian:
        spread(ratios).median === 0 ? 0 : Math.round(spread(ratios).median * 1000) / 1000,
    });
  }
  return { loadAverage, figures };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await benchValidate();
  console.log(`load average: ${JSON.stringify(result.loadAverage)}`);
  for (const f of result.figures) {
    console.log(
      `${f.shape}: without validation ${JSON.stringify(f.withoutMiBps)} MiB/s, ` +
        `with ${JSON.stringify(f.withMiBps)} MiB/s, ratio (median) ${f.ratioMedian}`,
    );
  }
}
