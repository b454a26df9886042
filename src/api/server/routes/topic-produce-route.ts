// POST /v1/topics/{topic}/records on any node: each record goes to its own `partition`, or by
// key with Kafka's murmur2 (so a key lands where a Kafka client puts it), or — key null — to
// one partition per request, rotating between requests. Each partition's records are produced
// locally when this node leads it, else forwarded to the leader's partition route; the answer
// lists one {partition, offset} or {error} per record, in request order.
import { BrokerError, isBrokerError, type Acks } from '../../../broker/index.ts';
import type { Compression, LogRecord } from '../../../log/index.ts';
import { errorResponse } from '../../errors.ts';
import { partitionForKey, type HttpExchange, type HttpExchangeRequest } from '../../wire.ts';
import { encodeJsonBatches, parseJsonRecords, type RecordEncoding } from '../json-records.ts';
import {
  enumQuery,
  intQuery,
  invalid,
  objectBody,
  type Query,
  userTopicParam,
} from '../request-checks.ts';
import type { RillApp, RouteContext } from '../route-context.ts';

interface TopicRoute {
  Params: { readonly topic: string };
  Querystring: Query;
}

type Placed = { readonly partition: number; readonly offset: number };
type Failed = Record<string, unknown>;

interface Group {
  readonly partition: number;
  readonly indexes: number[];
  readonly records: LogRecord[];
  readonly raw: Record<string, unknown>[];
}

export function registerTopicProduceRoute(app: RillApp, context: RouteContext): void {
  const { forwarder } = context;
  app.addHook('onClose', async () => forwarder.close());
  let rotation = 0;
  app.post<TopicRoute>('/v1/topics/:topic/records', async (request) => {
    const topic = userTopicParam(request.params.topic);
    // Every query parameter is checked before any work, as on the partition route.
    const options = {
      ...produceOptions(context, request.query),
      signal: context.signalOf(request),
    };
    const partitionCount = context.broker.describeTopic(topic).partitions.length;
    const body = objectBody(request.body);
    const records = parseJsonRecords(body, options.encoding, context.wallClock.wallMs());
    const raw = body['records'] as Record<string, unknown>[];
    rotation = (rotation + 1) % partitionCount;
    const groups = place(records, raw, partitionCount, rotation);
    const offsets: (Placed | Failed)[] = new Array<Placed | Failed>(records.length);
    await Promise.all(
      groups.map(async (group) => {
        try {
          const base = await produceGroup(context, forwarder, options, topic, group);
          group.indexes.forEach((index, i) => {
            offsets[index] = { partition: group.partition, offset: base < 0 ? -1 : base + i };
          });
        } catch (error) {
          const failure =
            error instanceof ForwardedError ? error.answer : errorResponse(error).body;
          for (const index of group.indexes) offsets[index] = failure;
        }
      }),
    );
    return { offsets };
  });
}

function place(
  records: readonly LogRecord[],
  raw: readonly Record<string, unknown>[],
  partitionCount: number,
  rotation: number,
): Group[] {
  const groups = new Map<number, Group>();
  records.forEach((record, index) => {
    const given = raw[index]?.['partition'];
    let partition: number;
    if (given !== undefined) {
      if (typeof given !== 'number' || !Number.isInteger(given) || given < 0) {
        throw invalid(`records[${index}].partition must be a non-negative integer`);
      }
      if (given >= partitionCount) {
        throw invalid(`records[${index}].partition ${given} ≥ ${partitionCount} partitions`);
      }
      partition = given;
    } else if (record.key !== null) {
      partition = partitionForKey(record.key, partitionCount);
    } else partition = rotation;
    let group = groups.get(partition);
    if (group === undefined) {
      group = { partition, indexes: [], records: [], raw: [] };
      groups.set(partition, group);
    }
    group.indexes.push(index);
    group.records.push(record);
    const forwarded: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(raw[index] ?? {})) {
      if (name !== 'partition') forwarded[name] = value;
    }
    group.raw.push(forwarded);
  });
  return [...groups.values()];
}

/** Produces one partition's records here or on its leader; the base offset (-1 for acks=0). */
async function produceGroup(
  context: RouteContext,
  forwarder: HttpExchange,
  options: ProduceOptions & { readonly signal: AbortSignal },
  topic: string,
  group: Group,
): Promise<number> {
  const { broker } = context;
  const { acks, timeoutMs, encoding } = options;
  const topicConfig = broker.topicConfig(topic);
  const type = topicConfig.compressionType;
  const compression: Compression = type === 'producer' || type === 'uncompressed' ? 'none' : type;
  const batches = await encodeJsonBatches(group.records, compression, topicConfig.maxMessageBytes);
  const { signal } = options;
  try {
    const result = await broker.produce({
      topic,
      partition: group.partition,
      batches,
      acks,
      timeoutMs,
      signal,
    });
    return result.baseOffset;
  } catch (error) {
    const leaderUrl = leaderUrlOf(error);
    if (leaderUrl === null) throw error;
    const query = `acks=${acks}&timeoutMs=${timeoutMs}&encoding=${encoding}`;
    const response = await forward(forwarder, leaderUrl, {
      method: 'POST',
      path: `/v1/topics/${encodeURIComponent(topic)}/partitions/${group.partition}/records?${query}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records: group.raw }),
      responseBytesMax: 1024 * 1024,
      timeoutMs: timeoutMs + 5_000,
      signal,
    });
    const answer = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
    if (response.status !== 200) throw new ForwardedError(answer);
    return answer['baseOffset'] as number;
  }
}

/** Forwards to the leader; a leader that cannot be reached is LEADER_NOT_AVAILABLE. */
async function forward(forwarder: HttpExchange, leaderUrl: string, request: HttpExchangeRequest) {
  try {
    return await forwarder.request(leaderUrl, request);
  } catch (error) {
    const message = `leader ${leaderUrl} unreachable: ${(error as Error).message}`;
    throw new BrokerError('LEADER_NOT_AVAILABLE', message, { cause: error });
  }
}

/** The leader's URL from a NOT_LEADER_OR_FOLLOWER, or null for any other failure. */
function leaderUrlOf(error: unknown): string | null {
  if (!isBrokerError(error) || error.code !== 'NOT_LEADER_OR_FOLLOWER') return null;
  const leader = error.details['leader'] as { url?: unknown } | undefined;
  return typeof leader?.url === 'string' ? leader.url : null;
}

/** The leader's own error answer, passed back unchanged. */
class ForwardedError extends Error {
  readonly answer: Record<string, unknown>;
  constructor(answer: Record<string, unknown>) {
    super('forwarded produce failed');
    this.answer = answer;
  }
}

interface ProduceOptions {
  readonly acks: Acks;
  readonly timeoutMs: number;
  readonly encoding: RecordEncoding;
}

/** The query of a produce: INVALID_REQUEST for a bad value, checked before any work. */
function produceOptions(context: RouteContext, query: Query): ProduceOptions {
  const acks = enumQuery(query, 'acks', ['all', '-1', '1', '0'] as const, 'all');
  return {
    acks: acks === 'all' || acks === '-1' ? 'all' : acks === '1' ? 1 : 0,
    timeoutMs: intQuery(query, 'timeoutMs', {
      min: 0,
      max: context.config.waitMsMax,
      default: 30_000,
    }),
    encoding: enumQuery(query, 'encoding', ['utf8', 'base64'] as const, 'utf8'),
  };
}
