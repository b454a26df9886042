// A raw HTTP/2 client on node:http2 for hostile-input tests: any method, path (sent as given,
// bad percent-encodings included), headers and body, on one session. Resolves with the status
// and body, or with `reset` when the server reset the stream or the session went away.
import { connect, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';

export interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: Uint8Array | string;
  /** Give up (and reset the stream) after this long. */
  readonly timeoutMs?: number;
}

export type RawAnswer =
  | { readonly kind: 'response'; readonly status: number; readonly body: Buffer }
  | { readonly kind: 'reset'; readonly reason: string };

export class RawH2 {
  readonly #url: string;
  #session: ClientHttp2Session | null = null;

  constructor(url: string) {
    this.#url = url;
  }

  /** The open session, reconnecting when the last one closed. */
  session(): ClientHttp2Session {
    if (this.#session === null || this.#session.closed || this.#session.destroyed) {
      const session = connect(this.#url);
      session.on('error', () => {}); // Reported per stream below; a new session follows.
      this.#session = session;
    }
    return this.#session;
  }

  request(request: RawRequest): Promise<RawAnswer> {
    const body = request.body === undefined || request.body.length === 0 ? null : request.body;
    // Node ends GET/HEAD/DELETE/OPTIONS streams at once unless told a body follows.
    const stream = this.session().request(
      { ':method': request.method, ':path': request.path, ...request.headers },
      { endStream: body === null },
    );
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let status = 0;
      let failure = '';
      const timer = setTimeout(() => {
        failure = 'client timeout';
        stream.close();
      }, request.timeoutMs ?? 10_000);
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      // 'close' always follows; a write refused because the server already answered is fine.
      stream.on('error', (error) => (failure = error.message));
      stream.on('close', () => {
        clearTimeout(timer);
        if (status !== 0 && failure !== 'client timeout') {
          resolve({ kind: 'response', status, body: Buffer.concat(chunks) });
        } else resolve({ kind: 'reset', reason: `${failure} (rst ${stream.rstCode})` });
      });
      if (body !== null) stream.end(body);
    });
  }

  close(): void {
    this.#session?.close();
    this.#session = null;
  }
}
