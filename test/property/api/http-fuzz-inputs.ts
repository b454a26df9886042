// fast-check generators of hostile HTTP/2 requests for the API fuzz suite: near-valid and
// mutated JSON produce bodies, RecordBatch v2 bodies built with the log's own encoder and then
// damaged (CRC recomputed or not), compression bombs, odd headers, paths, query strings and
// methods, and frame-level abuse (a reset mid-body, odd SETTINGS, bursts of reset long polls).
import { crc32c } from '@node-rs/crc32';
import fc from 'fast-check';
import { compress, encodeBatch, type Compression, type LogRecord } from '../../../src/log/index.ts';
import { clientRoutes, streamRoutes } from '../../../src/api/server/route-inputs.ts';

export type FuzzClass = 'json' | 'batch' | 'bomb' | 'headers' | 'paths' | 'methods' | 'h2';
export const fuzzClasses: readonly FuzzClass[] = [
  'json',
  'batch',
  'bomb',
  'headers',
  'paths',
  'methods',
  'h2',
];

export type FrameAbuse =
  | { readonly kind: 'none' }
  | { readonly kind: 'reset-mid-body'; readonly fraction: number }
  | { readonly kind: 'odd-settings'; readonly settings: Record<string, number | boolean> }
  | { readonly kind: 'reset-burst'; readonly streams: number };

export interface FuzzRequest {
  readonly cls: FuzzClass;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | null;
  readonly abuse: FrameAbuse;
  /** The request breaks HTTP/2 framing (a lying content-length): a stream reset is fine. */
  readonly mayReset: boolean;
}

/** Topic names: the anchored topic, a scratch one, and names that must be refused. */
export const anchorTopic = 'fz';
export const scratchTopic = 'fz-other';
const hostileTopics = [
  'nope',
  '.',
  '..',
  'a'.repeat(250),
  '%FF',
  '%C0%AE',
  '%2e%2e',
  'fz%00',
  'fz%2Fx',
  '%',
  '%zz',
  '%E2%82',
  'fz%20',
  '__proto__',
  'constructor',
];

const topicArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant(anchorTopic) },
  { weight: 3, arbitrary: fc.constant(scratchTopic) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 9 }).map((n) => `fzt-${n}`) },
  { weight: 2, arbitrary: fc.constantFrom(...hostileTopics) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }).map(encodeURIComponent) },
);

const partitionArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('0', '1') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('2', '-1', '2147483648', 'one', '%FF', '0x1', '1e3', '00', ''),
  },
  { weight: 1, arbitrary: fc.integer().map(String) },
);

const queryNames = ['offset', 'maxBytes', 'maxWaitMs', 'encoding', 'acks', 'timeoutMs'];
const queryNameArb = fc.constantFrom(
  ...queryNames,
  'before',
  'timestamp',
  'bogus',
  '',
  '__proto__',
  'offset[]',
  '%FF',
);
const queryValueArb = fc.oneof(
  fc.constantFrom('0', '1', '-1', '-2', 'all', 'utf8', 'base64', 'bogus', '', '%FF', '1e400'),
  fc.constantFrom('9007199254740993', '0x10', '%201', '1.5', '%00'),
  fc.integer({ min: -5, max: 100 }).map(String),
);
/** maxWaitMs is kept short: a long poll at the high watermark would hold the run. */
const hostileQueryArb = fc
  .array(fc.tuple(queryNameArb, queryValueArb), { maxLength: 4 })
  .map((pairs) =>
    pairs
      .map(([name, value]) => {
        const safe = name === 'maxWaitMs' || name === 'timeoutMs' ? shortWait(value) : value;
        return `${name}=${safe}`;
      })
      .join('&'),
  );

/** Mostly none or one a produce or fetch takes, so that requests also get past the query. */
const queryArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant('') },
  { weight: 2, arbitrary: fc.constantFrom('acks=1', 'acks=0', 'offset=0', 'encoding=base64') },
  { weight: 3, arbitrary: hostileQueryArb },
);

function shortWait(value: string): string {
  const n = Number(value);
  return Number.isFinite(n) && n > 200 ? '200' : value;
}

/** Routes that change or delete a topic never touch the anchored one. */
function isDestructive(method: string, pattern: string): boolean {
  if (method === 'PUT' || pattern.endsWith('/reassignment')) return true;
  return method === 'DELETE';
}

const bogusPaths = [
  '/',
  '/v1',
  '/v2/x',
  '/v1/topics/fz/partitions/0/records/extra',
  '//v1/topics',
  '/v1/topics/fz/../fz-other',
  '/v1/topics?',
  '/internal/v1/raft/messages',
  '/internal/v1/replica/session-fetch',
  '/internal/v1/metadata/propose',
  '/healthz/',
  '/v1/topics/%',
];

const pathArb: fc.Arbitrary<{ method: string; path: string }> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      // A stream route answers at once but never ends its body: a client waiting for the end
      // would time out by design (its bound and refusals are tested in test/unit/api/console).
      .tuple(
        fc.constantFrom(...clientRoutes.filter((route) => !streamRoutes.includes(route))),
        topicArb,
        partitionArb,
        queryArb,
      )
      .map(([route, topic, partition, query]) => {
        const [method = 'GET', pattern = '/'] = route.split(' ');
        const safeTopic =
          topic === anchorTopic && isDestructive(method, pattern) ? scratchTopic : topic;
        const path = pattern
          .replace(':topic', safeTopic)
          .replace(':partition', partition)
          .replace(':group', safeTopic === scratchTopic ? 'fz-group' : topic);
        return { method, path: query === '' ? path : `${path}?${query}` };
      }),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('GET', 'POST'), fc.constantFrom(...bogusPaths))
      .map(([method, path]) => ({ method, path })),
  },
);

const methodArb = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS');
const oddMethodArb = fc.constantFrom('FOO', 'TRACE', 'PROPFIND', 'get', 'M-SEARCH', 'QUERY');

const contentTypeArb = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/vnd.rill.batch',
  'application/vnd.rill.batch; x=1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
  'application/json, text/plain',
  'application/jsonx',
  'x'.repeat(300),
);
const acceptArb = fc.constantFrom(
  'application/vnd.rill.batch',
  '*/*',
  'application/json',
  'text/html',
  'application/vnd.rill.batch;q=0',
  '',
);

export const jsonValueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constantFrom('aGVsbG8=', '!!!', '\u0000', '\ud800', '__proto__'),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
);

/** Mostly a valid record, each field sometimes of the wrong type or range. */
const jsonRecordArb = fc.record(
  {
    key: fc.oneof({ weight: 15, arbitrary: fc.option(fc.string({ maxLength: 12 })) }, jsonValueArb),
    value: fc.oneof({ weight: 15, arbitrary: fc.string({ maxLength: 40 }) }, jsonValueArb),
    headers: fc.oneof(
      {
        weight: 30,
        arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.option(fc.string()), {
          maxKeys: 3,
        }),
      },
      fc.dictionary(fc.string({ maxLength: 8 }), jsonValueArb, { maxKeys: 3 }),
      jsonValueArb,
    ),
    timestamp: fc.oneof(
      { weight: 30, arbitrary: fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }) },
      fc.integer({ min: -10, max: 2 ** 53 }),
      jsonValueArb,
    ),
    partition: fc.oneof({ weight: 15, arbitrary: fc.integer({ min: 0, max: 1 }) }, jsonValueArb),
  },
  { requiredKeys: ['value'] },
);

const adminBodyArb = fc.oneof(
  fc.record(
    {
      name: fc.oneof(
        fc.integer({ min: 0, max: 9 }).map((n) => `fzt-${n}`),
        jsonValueArb,
      ),
      partitions: fc.oneof(fc.integer({ min: -1, max: 3 }), jsonValueArb),
      replicationFactor: fc.oneof(fc.integer({ min: 0, max: 2 }), jsonValueArb),
      configs: fc.oneof(configsArb(), jsonValueArb),
    },
    { requiredKeys: [] },
  ),
  fc.record({ configs: fc.oneof(configsArb(), jsonValueArb) }, { requiredKeys: [] }),
  fc.record({ replicas: fc.oneof(fc.array(fc.integer({ min: -1, max: 3 })), jsonValueArb) }),
);

function configsArb(): fc.Arbitrary<Record<string, unknown>> {
  const name = fc.constantFrom(
    'retention.ms',
    'max.message.bytes',
    'compression.type',
    'segment.bytes',
    'cleanup.policy',
    'bogus.config',
    'min.insync.replicas',
  );
  const value = fc.oneof(
    fc.constantFrom('1', '-1', '2147483647', 'gzip', 'producer', 'zstd', 'delete', null, ''),
    jsonValueArb,
  );
  return fc.dictionary(name, value, { maxKeys: 3 });
}

/** Text mutations of a JSON body: cut it, insert or replace one character. */
const textMutationArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant((text: string) => text) },
  fc
    .double({ min: 0, max: 1, noNaN: true })
    .map((at) => (text: string) => text.slice(0, Math.floor(at * text.length))),
  fc
    .tuple(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.constantFrom('{', '"', ',', ']', '\\', 'x'),
    )
    .map(([at, char]) => (text: string) => {
      const i = Math.floor(at * text.length);
      return text.slice(0, i) + char + text.slice(i + 1);
    }),
);

const jsonBodyArb: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({ records: fc.array(jsonRecordArb, { minLength: 1, maxLength: 4 }) }),
      },
      { weight: 1, arbitrary: fc.record({ records: jsonValueArb }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: adminBodyArb },
      { weight: 1, arbitrary: jsonValueArb },
    ),
    textMutationArb,
  )
  .map(([body, mutate]) => Buffer.from(mutate(JSON.stringify(body) ?? 'null')));

const logRecordArb: fc.Arbitrary<LogRecord> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b))),
  value: fc.option(fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b))),
  headers: fc.array(
    fc.record({
      key: fc.string({ maxLength: 6 }),
      value: fc.option(fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b))),
    }),
    { maxLength: 2 },
  ),
  timestampMs: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_100_000 }),
});

const codecArb = fc.constantFrom<Compression>('none', 'none', 'gzip', 'snappy', 'lz4', 'zstd');

/** Byte-level damage to an encoded batch; `fixCrc` recomputes the CRC afterwards. */
export type BatchDamage =
  | { readonly kind: 'none' }
  | { readonly kind: 'flip'; readonly at: readonly number[]; readonly fixCrc: boolean }
  | { readonly kind: 'cut'; readonly at: number }
  | {
      readonly kind: 'field';
      readonly field: number;
      readonly value: number;
      readonly fixCrc: boolean;
    }
  | { readonly kind: 'append'; readonly bytes: Uint8Array }
  | { readonly kind: 'twice' };

const fraction = fc.double({ min: 0, max: 1, noNaN: true });
const damageArb: fc.Arbitrary<BatchDamage> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<BatchDamage>({ kind: 'none' }) },
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.array(fraction, { minLength: 1, maxLength: 4 }),
    fixCrc: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fraction }),
  fc.record({
    kind: fc.constant('field' as const),
    // batchLength, magic, attributes, lastOffsetDelta, recordCount
    field: fc.constantFrom(8, 16, 21, 23, 57),
    value: fc.oneof(fc.integer({ min: -2, max: 40 }), fc.integer()),
    fixCrc: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 80 }) }),
  fc.constant<BatchDamage>({ kind: 'twice' }),
);

/** CRC-32C of attributes..end, as docs/format.md defines it. */
export function fixBatchCrc(bytes: Buffer): void {
  if (bytes.length < 61) return;
  const end = Math.min(bytes.length, 12 + bytes.readInt32BE(8));
  if (end <= 21) return;
  bytes.writeUInt32BE(crc32c(bytes.subarray(21, end)), 17);
}

export function damageBatch(batch: Buffer, damage: BatchDamage): Buffer {
  const bytes = Buffer.from(batch);
  switch (damage.kind) {
    case 'none':
      return bytes;
    case 'flip':
      for (const at of damage.at) {
        const i = Math.min(bytes.length - 1, Math.floor(at * bytes.length));
        bytes[i] = (bytes[i] ?? 0) ^ 0xff;
      }
      if (damage.fixCrc) fixBatchCrc(bytes);
      return bytes;
    case 'cut':
      return bytes.subarray(0, Math.floor(damage.at * bytes.length));
    case 'field':
      writeField(bytes, damage.field, damage.value);
      if (damage.fixCrc) fixBatchCrc(bytes);
      return bytes;
    case 'append':
      return Buffer.concat([bytes, damage.bytes]);
    case 'twice':
      return Buffer.concat([bytes, bytes]);
  }
}

function writeField(bytes: Buffer, field: number, value: number): void {
  if (field === 16) bytes.writeUInt8(value & 0xff, field);
  else if (field === 21) bytes.writeUInt16BE(value & 0xffff, field);
  else bytes.writeInt32BE(value | 0, field);
}

const batchBodyArb: fc.Arbitrary<Promise<Buffer>> = fc
  .tuple(fc.array(logRecordArb, { minLength: 1, maxLength: 8 }), codecArb, damageArb)
  .map(async ([records, compression, damage]) => {
    const batch = await encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      records,
      compression,
    });
    return damageBatch(batch, damage);
  });

/** A well-formed batch: the headers class varies headers, not bytes. */
const validBatchBodyArb: fc.Arbitrary<Promise<Buffer>> = fc
  .tuple(fc.array(logRecordArb, { minLength: 1, maxLength: 8 }), codecArb)
  .map(([records, compression]) =>
    encodeBatch({ baseOffset: 0, partitionLeaderEpoch: -1, records, compression }),
  );

/** A batch whose records section is `mib` MiB of zeros compressed with `codec`. */
export async function bombBatch(codec: Compression, mib: number): Promise<Buffer> {
  const record: LogRecord = { key: null, value: Buffer.from('x'), headers: [], timestampMs: 1 };
  const template = await encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    records: [record],
    compression: codec,
  });
  const section = await compress(codec, Buffer.alloc(mib * 1024 * 1024));
  const batch = Buffer.concat([template.subarray(0, 61), section]);
  batch.writeInt32BE(batch.length - 12, 8);
  fixBatchCrc(batch);
  return batch;
}

const frameAbuseArb: fc.Arbitrary<FrameAbuse> = fc.oneof(
  fc.record({ kind: fc.constant('reset-mid-body' as const), fraction }),
  fc.record({
    kind: fc.constant('odd-settings' as const),
    settings: fc.record(
      {
        initialWindowSize: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        maxFrameSize: fc.integer({ min: 16_384, max: 2 ** 24 - 1 }),
        headerTableSize: fc.integer({ min: 0, max: 65_536 }),
        maxConcurrentStreams: fc.integer({ min: 0, max: 1000 }),
        maxHeaderListSize: fc.integer({ min: 1, max: 65_536 }),
        enablePush: fc.boolean(),
      },
      { requiredKeys: [] },
    ),
  }),
  fc.record({
    kind: fc.constant('reset-burst' as const),
    streams: fc.integer({ min: 1, max: 40 }),
  }),
);

export interface FuzzOptions {
  readonly classes: readonly FuzzClass[];
  /** Bombs prepared once (they take a while to compress). */
  readonly bombs: readonly Buffer[];
}

/** One hostile request of one of the enabled classes. */
export function fuzzRequestArb(options: FuzzOptions): fc.Arbitrary<Promise<FuzzRequest>> {
  const producePath = fc
    .tuple(topicArb, partitionArb, queryArb)
    .map(([t, p, q]) => `/v1/topics/${t}/partitions/${p}/records${q === '' ? '' : `?${q}`}`);
  const anchorProducePath = fc
    .tuple(fc.constantFrom('0', '1'), fc.constantFrom('', '?acks=1', '?acks=0', '?encoding=base64'))
    .map(([p, q]) => `/v1/topics/${anchorTopic}/partitions/${p}/records${q}`);
  const base = { headers: {}, abuse: { kind: 'none' } as FrameAbuse, mayReset: false };
  const byClass: Record<FuzzClass, fc.Arbitrary<Promise<FuzzRequest>>> = {
    json: fc
      .tuple(
        fc.oneof(
          { weight: 3, arbitrary: anchorProducePath },
          producePath,
          pathArb.map((p) => p.path),
        ),
        jsonBodyArb,
        fc.boolean(),
      )
      .map(async ([path, body, topicLevel]) => ({
        ...base,
        cls: 'json' as const,
        method: 'POST',
        path: topicLevel ? path.replace(/\/partitions\/[^/]*\/records/, '/records') : path,
        headers: { 'content-type': 'application/json' },
        body,
      })),
    batch: fc
      .tuple(fc.oneof(anchorProducePath, producePath), batchBodyArb)
      .map(async ([path, body]) => ({
        ...base,
        cls: 'batch' as const,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/vnd.rill.batch' },
        body: await body,
      })),
    bomb: fc
      .tuple(producePath, fc.integer({ min: 0, max: Math.max(0, options.bombs.length - 1) }))
      .map(async ([path, index]) => ({
        ...base,
        cls: 'bomb' as const,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/vnd.rill.batch' },
        body: options.bombs[index] ?? null,
      })),
    headers: headersClassArb(pathArb, base),
    paths: fc.tuple(pathArb, fc.option(jsonBodyArb)).map(async ([{ method, path }, body]) => ({
      ...base,
      cls: 'paths' as const,
      method,
      path,
      headers: body === null ? {} : { 'content-type': 'application/json' },
      body,
    })),
    methods: fc
      .tuple(fc.oneof(methodArb, oddMethodArb), pathArb, fc.option(jsonBodyArb))
      .map(async ([method, { path }, body]) => ({
        ...base,
        cls: 'methods' as const,
        method,
        path,
        headers: body === null ? {} : { 'content-type': 'application/json' },
        body: method === 'HEAD' || method === 'GET' ? null : body,
      })),
    h2: fc.tuple(producePath, jsonBodyArb, frameAbuseArb).map(async ([path, body, abuse]) => ({
      cls: 'h2' as const,
      method: abuse.kind === 'reset-burst' ? 'GET' : 'POST',
      path: abuse.kind === 'reset-burst' ? `/v1/topics/${anchorTopic}/partitions/0/records` : path,
      headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
      body,
      abuse,
      mayReset: true,
    })),
  };
  return fc
    .oneof(...options.classes.map((cls) => byClass[cls]))
    .map(async (pending) => protectAnchor(await pending));
}

/** A method that deletes or reconfigures goes to the scratch topic, never the anchored one. */
function protectAnchor(request: FuzzRequest): FuzzRequest {
  const method = request.method.toUpperCase();
  const destructive = method !== 'GET' && method !== 'POST' && method !== 'HEAD';
  const described = { ...request, [fc.toStringMethod]: () => describeRequest(request) };
  if (!destructive && !request.path.includes('/reassignment')) return described;
  const path = request.path.replace(/^\/v1\/topics\/fz(?=[/?]|$)/, `/v1/topics/${scratchTopic}`);
  return { ...described, path };
}

/** A short form for fast-check's counterexample (bodies can be megabytes). */
export function describeRequest(request: FuzzRequest): string {
  const body = request.body === null ? 'none' : request.body.subarray(0, 96).toString('hex');
  const size = request.body?.length ?? 0;
  return (
    `${request.cls} ${request.method} ${request.path} headers=${JSON.stringify(request.headers)} ` +
    `abuse=${JSON.stringify(request.abuse)} body(${size} B, hex head)=${body}`
  );
}

function headersClassArb(
  paths: fc.Arbitrary<{ method: string; path: string }>,
  base: { headers: object; abuse: FrameAbuse; mayReset: boolean },
): fc.Arbitrary<Promise<FuzzRequest>> {
  return fc
    .tuple(
      paths,
      fc.option(contentTypeArb),
      fc.option(acceptArb),
      fc.constantFrom<'none' | 'true' | 'lie' | 'junk'>(
        'none',
        'none',
        'true',
        'true',
        'lie',
        'junk',
      ),
      fc.oneof(jsonBodyArb, validBatchBodyArb),
    )
    .map(async ([{ method, path }, contentType, accept, length, bodyOrPromise]) => {
      const body = await bodyOrPromise;
      const headers: Record<string, string> = {};
      if (contentType !== null) headers['content-type'] = contentType;
      if (accept !== null) headers['accept'] = accept;
      if (length === 'true') headers['content-length'] = String(body.length);
      if (length === 'lie') headers['content-length'] = String(body.length + 7);
      if (length === 'junk') headers['content-length'] = '-1';
      const hasBody = method !== 'GET' && method !== 'HEAD';
      return {
        ...base,
        cls: 'headers' as const,
        method,
        path,
        headers,
        body: hasBody ? body : null,
        mayReset: length === 'lie' || length === 'junk' || (!hasBody && length !== 'none'),
      };
    });
}
