// Records of one partition: produce (POST, JSON or application/vnd.rill.batch), fetch (GET,
// JSON or — with `accept: application/vnd.rill.batch` — the segment bytes themselves),
// offsets (GET …/offsets[?timestamp=T]) and delete-records (DELETE …/records?before=O).
// Binary fetch metadata travels in the rill-* response headers (docs/api.md). A JSON fetch
// answers the records before an undecodable stored batch; one that starts at it answers
// CORRUPT_MESSAGE with the batch's offset and the next readable one.
import type { Acks, FetchResult } from '../../../broker/index.ts';
import { decodeReadableChunks, type Compression } from '../../../log/index.ts';
import { ApiError } from '../../errors.ts';
import {
  encodeJsonBatches,
  parseJsonProducer,
  parseJsonRecords,
  toJsonRecord,
  type RecordEncoding,
  type ValueFormat,
} from '../json-records.ts';
import {
  enumQuery,
  intQuery,
  invalid,
  objectBody,
  partitionParam,
  topicParam,
  type Query,
  userTopicParam,
} from '../request-checks.ts';
import { batchContentType, fetchHeaders } from '../../wire.ts';
import type { RillApp, RillReply, RillRequest, RouteContext } from '../route-context.ts';
import { readSlices, sendSlices } from '../slice-sender.ts';
import { isHttp2 } from '../stream-guard.ts';

interface PartitionRoute {
  Params: { readonly topic: string; readonly partition: string };
  Querystring: Query;
}

const recordsPath = '/v1/topics/:topic/partitions/:partition/records';
const offsetMax = Number.MAX_SAFE_INTEGER;

export function registerRecordRoutes(app: RillApp, context: RouteContext): void {
  app.post<PartitionRoute>(recordsPath, (request) => produce(context, request));
  app.get<PartitionRoute>(recordsPath, (request, reply) => fetch(context, request, reply));
  app.delete<PartitionRoute>(recordsPath, async (request) => {
    const topic = topicParam(request.params.topic);
    const partition = partitionParam(request.params.partition);
    const before = intQuery(request.query, 'before', { min: -1, max: offsetMax });
    return context.broker.deleteRecords(topic, partition, before);
  });
  app.get<PartitionRoute>('/v1/topics/:topic/partitions/:partition/offsets', async (request) => {
    const topic = topicParam(request.params.topic);
    const partition = partitionParam(request.params.partition);
    const offsets = context.broker.listOffsets(topic, partition);
    if (request.query['timestamp'] === undefined) return offsets;
    const timestamp = intQuery(request.query, 'timestamp', { min: -2, max: offsetMax });
    const offset = await context.broker.offsetForTimestamp(topic, partition, timestamp);
    return { ...offsets, offset };
  });
}

function parseAcks(query: Query): Acks {
  const acks = enumQuery(query, 'acks', ['all', '-1', '1', '0'] as const, 'all');
  return acks === 'all' || acks === '-1' ? 'all' : acks === '1' ? 1 : 0;
}

async function produce(context: RouteContext, request: RillRequest<PartitionRoute>) {
  const { broker, config, metrics } = context;
  const topic = userTopicParam(request.params.topic);
  const partition = partitionParam(request.params.partition);
  const acks = parseAcks(request.query);
  const timeoutMs = intQuery(request.query, 'timeoutMs', {
    min: 0,
    max: config.waitMsMax,
    default: 30_000,
  });
  const encoding = enumQuery(request.query, 'encoding', ['utf8', 'base64'] as const, 'utf8');
  const batches = Buffer.isBuffer(request.body)
    ? request.body
    : await jsonBatches(context, request, topic, encoding);
  const signal = context.signalOf(request);
  const result = await broker.produce({ topic, partition, batches, acks, timeoutMs, signal });
  metrics.countProduced(topic, batches.length);
  metrics.produceRecords.inc(result.recordCount);
  const { baseOffset, lastOffset } = result;
  // A retried idempotent batch: the offsets it was stored at, nothing written now.
  if (result.duplicate === true)
    return { topic, partition, baseOffset, lastOffset, duplicate: true };
  return { topic, partition, baseOffset, lastOffset };
}

async function jsonBatches(
  context: RouteContext,
  request: RillRequest<PartitionRoute>,
  topic: string,
  encoding: RecordEncoding,
): Promise<Buffer> {
  const body = objectBody(request.body);
  const records = parseJsonRecords(body, encoding, context.wallClock.wallMs());
  const producer = parseJsonProducer(body);
  const config = context.broker.topicConfig(topic);
  const type = config.compressionType;
  const compression: Compression = type === 'producer' || type === 'uncompressed' ? 'none' : type;
  return encodeJsonBatches(records, compression, config.maxMessageBytes, producer);
}

function wantsBatches(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes(batchContentType);
}

async function fetch(
  context: RouteContext,
  request: RillRequest<PartitionRoute>,
  reply: RillReply,
) {
  const { broker, config } = context;
  const topic = topicParam(request.params.topic);
  const partition = partitionParam(request.params.partition);
  const query = request.query;
  const offset = intQuery(query, 'offset', { min: 0, max: offsetMax });
  const maxBytes = intQuery(query, 'maxBytes', {
    min: 1,
    max: config.fetchBytesMax,
    default: Math.min(1024 * 1024, config.fetchBytesMax),
  });
  const maxWaitMs = intQuery(query, 'maxWaitMs', { min: 0, max: config.waitMsMax, default: 0 });
  const encoding = enumQuery(query, 'encoding', ['utf8', 'base64'] as const, 'utf8');
  if (encoding !== 'utf8' && wantsBatches(request.headers.accept)) {
    throw invalid('encoding applies to the JSON form only');
  }
  const valueFormat = enumQuery(query, 'valueFormat', ['string', 'json'] as const, 'string');
  if (valueFormat === 'json' && (encoding !== 'utf8' || wantsBatches(request.headers.accept))) {
    throw invalid('valueFormat=json applies to the JSON form with encoding=utf8 only');
  }
  const signal = context.signalOf(request);
  const result = await broker.fetch({ topic, partition, offset, maxBytes, maxWaitMs, signal });
  context.metrics.countFetched(topic, result.read.bytes);
  context.metrics.countConsumed(result.read.nextOffset - offset);
  if (wantsBatches(request.headers.accept)) {
    if (!isHttp2(request)) return sendBatchesHttp1(context, reply, result, signal);
    return sendBatches(context, reply, result);
  }
  return jsonFetch(context, result, offset, { encoding, valueFormat }, topic, signal);
}

function sendBatches(context: RouteContext, reply: RillReply, result: FetchResult) {
  const { read } = result;
  const headers = {
    'content-type': batchContentType,
    [fetchHeaders.highWatermark]: String(result.highWatermark),
    [fetchHeaders.logStartOffset]: String(result.logStartOffset),
    [fetchHeaders.leaderEpoch]: String(result.leaderEpoch),
    [fetchHeaders.nextOffset]: String(read.nextOffset),
  };
  if (read.slices.length === 0) {
    read.release();
    return reply.headers(headers).send(Buffer.alloc(0));
  }
  reply.hijack();
  const startedAt = reply.elapsedTime;
  const stream = reply.raw.stream;
  sendSlices(stream, headers, read.slices, () => {
    read.release();
    context.metrics.requestSeconds.observe(
      { route: recordsPath, method: 'GET', status: '200' },
      Math.max(reply.elapsedTime, startedAt) / 1000,
    );
  });
  return reply;
}

/** HTTP/1.1 has no stream to write slices to: the batches are read, then sent as one body. */
async function sendBatchesHttp1(
  context: RouteContext,
  reply: RillReply,
  result: FetchResult,
  signal: AbortSignal,
) {
  const { read } = result;
  let bytes: Buffer;
  try {
    bytes = await readSlices(read.slices, signal);
  } finally {
    read.release();
  }
  return reply
    .headers({
      'content-type': batchContentType,
      [fetchHeaders.highWatermark]: String(result.highWatermark),
      [fetchHeaders.logStartOffset]: String(result.logStartOffset),
      [fetchHeaders.leaderEpoch]: String(result.leaderEpoch),
      [fetchHeaders.nextOffset]: String(read.nextOffset),
    })
    .send(bytes);
}

async function jsonFetch(
  context: RouteContext,
  result: FetchResult,
  offset: number,
  form: { readonly encoding: RecordEncoding; readonly valueFormat: ValueFormat },
  topic: string,
  signal: AbortSignal,
) {
  const { read, highWatermark } = result;
  let bytes: Buffer;
  try {
    bytes = await readSlices(read.slices, signal);
  } finally {
    read.release();
  }
  signal.throwIfAborted(); // Decoding is the costly part: not for a client that is gone.
  const { maxMessageBytes } = context.broker.topicConfig(topic);
  const { batches, unreadable } = await decodeReadableChunks([bytes], { maxMessageBytes });
  const records = [];
  for (const batch of batches) {
    for (const record of batch.records) {
      if (record.offset >= offset && record.offset < highWatermark) {
        records.push(toJsonRecord(record, form.encoding, form.valueFormat));
      }
    }
  }
  let nextOffset = read.nextOffset;
  if (unreadable !== null) {
    const at = unreadable.baseOffset ?? offset;
    if (records.length === 0) {
      // Nothing readable before it: report the batch, and where reading may go on.
      throw new ApiError(
        'CORRUPT_MESSAGE',
        `stored batch at offset ${at}: ${unreadable.error.message}`,
        {
          offset: at,
          nextOffset: Math.max(unreadable.nextOffset ?? read.nextOffset, offset + 1),
        },
      );
    }
    nextOffset = Math.max(at, offset);
  }
  context.metrics.fetchRecords.inc(records.length);
  return {
    records,
    nextOffset,
    highWatermark,
    logStartOffset: result.logStartOffset,
    leaderEpoch: result.leaderEpoch,
  };
}
