// Sends log file slices as an HTTP/2 response body without decoding them: one contiguous range
// goes out with respondWithFD (the kernel copies file → socket); ranges in several segment
// files are read and written in sequence with backpressure. The log's read lease is released
// when the stream closes, whatever the outcome. Also reads slices into memory for JSON fetch.
import { read } from 'node:fs';
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { FileSlice } from '../../log/index.ts';

/** Chunk size when streaming ranges that respondWithFD cannot send in one go. */
const streamChunkBytes = 256 * 1024;

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

/** The slices' bytes in one buffer (JSON fetch decodes them). */
export async function readSlices(slices: readonly FileSlice[]): Promise<Buffer> {
  const total = slices.reduce((sum, slice) => sum + slice.length, 0);
  const bytes = Buffer.allocUnsafe(total);
  let at = 0;
  for (const slice of slices) {
    await readFully(slice.fd, bytes.subarray(at, at + slice.length), slice.position);
    at += slice.length;
  }
  return bytes;
}

/**
 * Responds on `stream` with the slices as the body. `release` runs exactly once, when the
 * stream closes (or at once if it already has).
 */
export function sendSlices(
  stream: ServerHttp2Stream,
  headers: OutgoingHttpHeaders,
  slices: readonly FileSlice[],
  release: () => void,
): void {
  let released = false;
  const releaseOnce = (): void => {
    if (released) return;
    released = true;
    release();
  };
  if (stream.destroyed || stream.closed) return releaseOnce();
  stream.once('close', releaseOnce);
  const ranges = contiguousRanges(slices);
  const length = ranges.reduce((sum, range) => sum + range.length, 0);
  const allHeaders = { ...headers, ':status': 200, 'content-length': length };
  try {
    const only = ranges.length === 1 ? ranges[0] : undefined;
    if (only !== undefined) {
      stream.respondWithFD(only.fd, allHeaders, { offset: only.position, length: only.length });
      return;
    }
    stream.respond(allHeaders);
  } catch (error) {
    // The stream closed between the check and the response (client went away).
    stream.destroy(error instanceof Error ? error : undefined);
    return releaseOnce();
  }
  writeRanges(stream, ranges).then(
    () => stream.end(),
    (error: unknown) => stream.destroy(error instanceof Error ? error : undefined),
  );
}

async function writeRanges(stream: ServerHttp2Stream, ranges: readonly FileSlice[]) {
  for (const range of ranges) {
    for (let done = 0; done < range.length;) {
      if (stream.destroyed) return;
      const size = Math.min(streamChunkBytes, range.length - done);
      const chunk = Buffer.allocUnsafe(size);
      await readFully(range.fd, chunk, range.position + done);
      done += size;
      if (!stream.write(chunk)) {
        await new Promise<void>((resolve) => {
          const resume = (): void => {
            stream.off('drain', resume);
            stream.off('close', resume);
            resolve();
          };
          stream.on('drain', resume);
          stream.on('close', resume);
        });
      }
    }
  }
}
