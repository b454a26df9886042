// The leader side of follower-pull replication, node to node under /internal/v1 (behind the
// cluster secret): OffsetsForLeaderEpoch as JSON, and the incremental session fetch (KIP-227),
// whose answer frames a JSON header before the partitions' segment bytes
// (src/api/replica-session-wire.ts). A refused session is a JSON 200 `{ kind: 'error' }`.
import type { SessionFetchResult, SessionPartitionResult } from '../../../broker/index.ts';
import { integerField, invalid, isPlainObject, objectBody, topicParam } from '../request-checks.ts';
import {
  encodeSessionAnswer,
  replicaSessionContentType,
  type EncodedPartitionHeader,
} from '../../replica-session-wire.ts';
import type { RillApp, RillReply, RouteContext } from '../route-context.ts';
import { readSlices } from '../slice-sender.ts';

export const replicaEpochEndOffsetPath = '/internal/v1/replica/epoch-end-offset';
export const replicaSessionFetchPath = '/internal/v1/replica/session-fetch';
const int32Max = 0x7fffffff;
const offsetMax = Number.MAX_SAFE_INTEGER;
/** Partitions named in one session request (added, changed or forgotten). */
const sessionRequestPartitionsMax = 100_000;

export function registerReplicaRoutes(app: RillApp, context: RouteContext): void {
  app.post(replicaEpochEndOffsetPath, (request) => {
    const body = objectBody(request.body);
    return context.broker.replicaEpochEndOffset({
      ...partitionOf(body),
      replicaId: integerField(body, 'replicaId', 0, int32Max),
      currentLeaderEpoch: integerField(body, 'currentLeaderEpoch', 0, int32Max),
      epoch: integerField(body, 'epoch', 0, int32Max),
    });
  });
  app.post(replicaSessionFetchPath, async (request, reply) => {
    const body = objectBody(request.body);
    const maxBytes = integerField(body, 'maxBytes', 1, context.config.fetchBytesMax);
    // Fires when the stream closes: a follower that cancels a parked request starts a new
    // session, so this one stops holding.
    const signal = context.signalOf(request);
    const call = {
      replicaId: integerField(body, 'replicaId', 0, int32Max),
      sessionId: integerField(body, 'sessionId', 0, int32Max),
      sessionEpoch: integerField(body, 'sessionEpoch', 0, int32Max),
      partitions: listField(body, 'partitions').map(partitionFetchOf),
      forgotten: listField(body, 'forgotten').map(partitionOf),
      maxWaitMs: integerField(body, 'maxWaitMs', 0, context.config.waitMsMax),
      maxBytes,
      partitionMaxBytes: integerField(body, 'partitionMaxBytes', 1, maxBytes),
    };
    const result = await context.broker.replicaSessionFetch(call, signal);
    // Never resolve with the reply: awaiting it (a thenable) waits for the response to finish,
    // which a stream reset before the answer never does, so the handler would never settle
    // and its stream-guard slot would leak (issue 7: 256 cancelled long polls refused every
    // later replica fetch on that connection with BROKER_BUSY, for good).
    await sendSessionAnswer(context, reply, result, signal);
  });
}

function listField(body: Record<string, unknown>, name: string): Record<string, unknown>[] {
  const value = body[name];
  if (!Array.isArray(value)) throw invalid(`${name} must be an array`);
  if (value.length > sessionRequestPartitionsMax) {
    throw invalid(`${name} names more than ${sessionRequestPartitionsMax} partitions`);
  }
  return value.map((item: unknown) => {
    if (!isPlainObject(item)) throw invalid(`${name} must hold objects`);
    return item;
  });
}

function partitionOf(body: Record<string, unknown>): { topic: string; partition: number } {
  return {
    topic: topicParam(body['topic']),
    partition: integerField(body, 'partition', 0, int32Max),
  };
}

function partitionFetchOf(body: Record<string, unknown>) {
  const lastFetchedEpoch =
    body['lastFetchedEpoch'] === null ? null : integerField(body, 'lastFetchedEpoch', 0, int32Max);
  return {
    ...partitionOf(body),
    fetchOffset: integerField(body, 'fetchOffset', 0, offsetMax),
    lastFetchedEpoch,
    currentLeaderEpoch: integerField(body, 'currentLeaderEpoch', 0, int32Max),
  };
}

/**
 * Reads every answered partition's slices into the framed body, releasing each read, and
 * sends it; nothing is sent to a stream that closed meanwhile (the reply is hijacked).
 */
async function sendSessionAnswer(
  context: RouteContext,
  reply: RillReply,
  result: SessionFetchResult,
  signal: AbortSignal,
): Promise<void> {
  if (result.kind === 'error') {
    if (signal.aborted) reply.hijack();
    else reply.send(result);
    return;
  }
  const headers: EncodedPartitionHeader[] = [];
  const records: Uint8Array[] = [];
  try {
    for (const answer of result.partitions) {
      if (signal.aborted) break;
      const bytes = await recordsOf(answer);
      if (answer.kind !== 'records') {
        headers.push(answer);
        continue;
      }
      const { read: _read, ...rest } = answer;
      headers.push({ ...rest, recordBytes: bytes.length });
      records.push(bytes);
      context.metrics.countFetched(answer.topic, bytes.length);
    }
  } finally {
    for (const answer of result.partitions) if (answer.kind === 'records') answer.read?.release();
  }
  if (signal.aborted) {
    reply.hijack();
    return;
  }
  const body = Buffer.concat(encodeSessionAnswer(result.sessionId, headers, records));
  reply.header('content-type', replicaSessionContentType).send(body);
}

async function recordsOf(answer: SessionPartitionResult): Promise<Uint8Array> {
  if (answer.kind !== 'records' || answer.read === null) return new Uint8Array(0);
  if (answer.read.slices.length === 0) return new Uint8Array(0);
  return readSlices(answer.read.slices);
}
