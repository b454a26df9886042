// The leader side of follower-pull replication, node to node under /internal/v1 (behind the
// cluster secret): OffsetsForLeaderEpoch as JSON, and the follower fetch, whose records travel
// as the segment bytes themselves with the HW, LEO and leader epoch in rill-* headers. Any
// answer that is not records (an epoch error, divergence, out of range) is a JSON 200.
import type { ReplicaFetchResult } from '../../../broker/index.ts';
import { integerField, objectBody, topicParam } from '../request-checks.ts';
import { batchContentType } from '../../wire.ts';
import type { RillApp, RillReply, RouteContext } from '../route-context.ts';
import { sendSlices } from '../slice-sender.ts';

export const replicaEpochEndOffsetPath = '/internal/v1/replica/epoch-end-offset';
export const replicaFetchPath = '/internal/v1/replica/fetch';
const int32Max = 0x7fffffff;
const offsetMax = Number.MAX_SAFE_INTEGER;

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
  app.post(replicaFetchPath, async (request, reply) => {
    const body = objectBody(request.body);
    const lastFetchedEpoch =
      body['lastFetchedEpoch'] === null
        ? null
        : integerField(body, 'lastFetchedEpoch', 0, int32Max);
    const result = await context.broker.replicaFetch({
      ...partitionOf(body),
      replicaId: integerField(body, 'replicaId', 0, int32Max),
      fetchOffset: integerField(body, 'fetchOffset', 0, offsetMax),
      lastFetchedEpoch,
      currentLeaderEpoch: integerField(body, 'currentLeaderEpoch', 0, int32Max),
      maxBytes: integerField(body, 'maxBytes', 1, context.config.fetchBytesMax),
      maxWaitMs: integerField(body, 'maxWaitMs', 0, context.config.waitMsMax),
    });
    return sendReplicaFetch(context, reply, result);
  });
}

function partitionOf(body: Record<string, unknown>): { topic: string; partition: number } {
  return {
    topic: topicParam(body['topic']),
    partition: integerField(body, 'partition', 0, int32Max),
  };
}

function sendReplicaFetch(context: RouteContext, reply: RillReply, result: ReplicaFetchResult) {
  if (result.kind !== 'records') return reply.send(result);
  const { read } = result;
  const headers = {
    'content-type': batchContentType,
    'rill-high-watermark': String(result.highWatermark),
    'rill-log-start-offset': String(result.logStartOffset),
    'rill-log-end-offset': String(result.logEndOffset),
    'rill-leader-epoch': String(result.leaderEpoch),
    'rill-next-offset': String(read.nextOffset),
  };
  context.metrics.fetchBytes.inc(read.bytes);
  if (read.slices.length === 0) {
    read.release();
    return reply.headers(headers).send(Buffer.alloc(0));
  }
  reply.hijack();
  sendSlices(reply.raw.stream, headers, read.slices, () => read.release());
  return reply;
}
