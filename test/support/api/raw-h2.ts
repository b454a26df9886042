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
    const stream = this.session().request({
      ':method': request.method,
      ':path': request.path,
      ...request.headers,
    });
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let status = 0;
      const timer = setTimeout(() => {
        stream.close();
        resolve({ kind: 'reset', reason: 'client timeout' });
      }, request.timeoutMs ?? 10_000);
      const finish = (answer: RawAnswer): void => {
        clearTimeout(timer);
        resolve(answer);
      };
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (status === 0) finish({ kind: 'reset', reason: 'no response headers' });
        else finish({ kind: 'response', status, body: Buffer.concat(chunks) });
      });
      stream.on('error', (error) => finish({ kind: 'reset', reason: error.message }));
      stream.on('close', () => {
        if (status === 0) finish({ kind: 'reset', reason: `closed ${stream.rstCode}` });
      });
      stream.end(request.body);
    });
  }

  close(): void {
    this.#session?.close();
    this.#session = null;
  }
}
