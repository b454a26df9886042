// Sends log file slices as an HTTP/2 response body without decoding them: the ranges are read
// in 1 MiB pieces, one ahead of the socket, and written with backpressure. The log's read lease
// is released once the last read has finished, whatever the outcome (a reset stream included).
// Also reads slices into memory for JSON fetch.
import { read } from 'node:fs';
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { FileSlice } from '../../log/index.ts';

/**
 * Bytes per file read when streaming ranges: the next read runs while the socket takes the
 * current chunk, and an 8 MiB fetch costs 8 thread-pool reads instead of 32.
 */
const streamChunkBytes = 1024 * 1024;

/** Merges adjacent slices of the same file. */
export function contiguousRanges(slices: readonly FileSlice[]): FileSlice[] {
  const ranges: FileSlice[] = [];
  for (const slice of slices) {
    const last = ranges.at(-1);
    if (
      last !== undefined &&
      last.fd === slice.fd &&
      last.position + last.length === slice.position
    ) {
      ranges[ranges.length - 1] = { ...last, length: last.length + slice.length };
    } else {
      ranges.push(slice);
    }
  }
  return ranges;
}

function readAt(fd: number, buffer: Buffer, offset: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buffer, offset, buffer.length - offset, position, (error, bytesRead) => {
      if (error === null) resolve(bytesRead);
      else reject(error);
    });
  });
}

/** Fills `buffer` from `fd` at `position`; a file shorter than the slice is an I/O error. */
async function readFully(fd: number, buffer: Buffer, position: number): Promise<void> {
  for (let filled = 0; filled < buffer.length;) {
    const n = await readAt(fd, buffer, filled, position + filled);
    if (n === 0) throw new Error(`file ended ${buffer.length - filled} bytes short of a slice`);
    filled += n;
  }
}

/**
 * The slices' bytes in one buffer (JSON fetch decodes them). Stops with the signal's reason
 * between reads of at most streamChunkBytes once `signal` aborts (the client went away).
 */
export async function readSlices(
  slices: readonly FileSlice[],
  signal?: AbortSignal,
): Promise<Buffer> {
  signal?.throwIfAborted();
  const total = slices.reduce((sum, slice) => sum + slice.length, 0);
  const bytes = Buffer.allocUnsafe(total);
  let at = 0;
  for (const piece of pieces(slices)) {
    await readFully(piece.fd, bytes.subarray(at, at + piece.length), piece.position);
    at += piece.length;
    signal?.throwIfAborted();
  }
  return bytes;
}

/**
 * Responds on `stream` with the slices as the body. `release` runs exactly once, after the
 * last read of the slices has finished — never while a read is still in flight.
 *
 * Why not respondWithFD (or respondWithFile): Node 20.20.2 dies with SIGSEGV when clients reset
 * streams it is piping a file into — even from one descriptor that is never closed, so no lease
 * can make it safe (scripts/respond-with-fd-repro.ts reproduces it within a dozen resets; rerun
 * it on a newer Node). Reading 1 MiB pieces, one ahead of the socket, never decodes a batch, and
 * we own every read, so the lease ends exactly when our last read does.
 */
export function sendSlices(
  stream: ServerHttp2Stream,
  headers: OutgoingHttpHeaders,
  slices: readonly FileSlice[],
  release: () => void,
): void {
  if (stream.destroyed || stream.closed) return release();
  const ranges = contiguousRanges(slices);
  const length = ranges.reduce((sum, range) => sum + range.length, 0);
  try {
    stream.respond({ ...headers, ':status': 200, 'content-length': length });
  } catch (error) {
    // The stream closed between the check and the response (client went away).
    stream.destroy(error instanceof Error ? error : undefined);
    return release();
  }
  writeRanges(stream, ranges)
    .then(
      () => stream.end(),
      (error: unknown) => stream.destroy(error instanceof Error ? error : undefined),
    )
    .finally(release);
}

/** The ranges cut into reads of at most streamChunkBytes. */
function* pieces(ranges: readonly FileSlice[]): Generator<FileSlice> {
  for (const range of ranges) {
    for (let done = 0; done < range.length; done += streamChunkBytes) {
      const length = Math.min(streamChunkBytes, range.length - done);
      yield { fd: range.fd, position: range.position + done, length };
    }
  }
}

function readPiece(piece: FileSlice): Promise<Buffer> {
  const chunk = Buffer.allocUnsafe(piece.length);
  return readFully(piece.fd, chunk, piece.position).then(() => chunk);
}

/** Writes the ranges, one read ahead; resolves only once no read of ours is in flight. */
async function writeRanges(stream: ServerHttp2Stream, ranges: readonly FileSlice[]) {
  const queue = pieces(ranges);
  const first = queue.next();
  let reading: Promise<Buffer> | null = first.done === true ? null : readPiece(first.value);
  while (reading !== null) {
    const chunk = await reading;
    const next = queue.next();
    reading = next.done === true || isGone(stream) ? null : readPiece(next.value);
    if (isGone(stream)) break;
    if (!stream.write(chunk)) await drainedOrClosed(stream);
  }
  // A read started before the stream went away still holds the descriptor: await it.
  await reading?.catch(() => undefined);
}

/** A reset stream is `closed` (its 'close' may be past) before it is `destroyed`. */
function isGone(stream: ServerHttp2Stream): boolean {
  return stream.destroyed || stream.closed;
}

function drainedOrClosed(stream: ServerHttp2Stream): Promise<void> {
  return new Promise<void>((resolve) => {
    const resume = (): void => {
      stream.off('drain', resume);
      stream.off('close', resume);
      resolve();
    };
    // 'close' may already have been emitted: waiting for it then would keep the lease forever.
    if (isGone(stream)) return resolve();
    stream.on('drain', resume);
    stream.on('close', resume);
  });
}
