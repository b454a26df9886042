// A small HTTP/2 (h2c) test client on undici's H2CClient, returning status, headers and the
// body as bytes (with a json() view), so tests assert on exactly what the server sent.
import { H2CClient } from 'undici';

export interface H2cResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  json<T = any>(): T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface H2cRequest {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Uint8Array;
  /** A JSON body (sets content-type). */
  readonly json?: unknown;
}

export class H2c {
  readonly client: H2CClient;

  constructor(url: string) {
    this.client = new H2CClient(url, { pipelining: 100 });
  }

  async request(request: H2cRequest): Promise<H2cResponse> {
    const headers: Record<string, string> = { ...request.headers };
    let body = request.body;
    if (request.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = JSON.stringify(request.json);
    }
    const response = await this.client.request({
      method: request.method ?? 'GET',
      path: request.path,
      headers,
      body: body ?? null,
      // undici's H2CClient holds a non-idempotent request (POST) until every request in
      // flight on the connection has finished: a long-polling fetch would delay a produce.
      // These tests never rely on undici retrying, so every request is marked idempotent.
      idempotent: true,
    });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    return {
      status: response.statusCode,
      headers: response.headers,
      body: bytes,
      json: () => JSON.parse(bytes.toString('utf8')),
    };
  }

  get(path: string, headers?: Record<string, string>): Promise<H2cResponse> {
    return this.request(headers === undefined ? { path } : { path, headers });
  }

  post(path: string, json: unknown): Promise<H2cResponse> {
    return this.request({ method: 'POST', path, json });
  }

  async close(): Promise<void> {
    if (!this.client.closed) await this.client.close();
  }
}
