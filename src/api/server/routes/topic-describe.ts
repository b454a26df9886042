// Describe from any node: GET /v1/topics/{t} answers the offsets of partitions this node hosts
// from its own replicas, and asks each other leader node once (GET …?local=true, bounded, short
// timeout) for the partitions it leads, marking those 'leader-remote' with their age (the time
// since the question was sent: the leader answered within it). A leader that does not answer in
// time leaves its partitions' offsets null; the describe itself never fails for it.
import type {
  ClusterDescription,
  PartitionDescription,
  TopicDescription,
} from '../../../broker/index.ts';
import type { HttpExchange, PartitionDescriptionBody, TopicDescriptionBody } from '../../wire.ts';

/** How long a describe waits for another leader node's offsets. */
export const describeForwardTimeoutMs = 1_500;
/** Leader nodes one describe asks at most (each asked once, in parallel). */
export const describeForwardNodesMax = 64;
/** A larger local describe answer from a leader is dropped (10,000 partitions fit). */
const describeAnswerBytesMax = 8 * 1024 * 1024;

/** The other leader nodes (id to URL) whose partitions this description lacks offsets for. */
export function leadersToAsk(
  description: TopicDescription,
  brokers: ClusterDescription['brokers'],
  selfId: number,
): Map<number, string> {
  // A fenced node is down or shutting down: asking it would only wait for the timeout.
  const alive = brokers.filter((broker) => broker.status === 'alive');
  const urls = new Map(alive.map((broker) => [broker.id, broker.url]));
  const ask = new Map<number, string>();
  for (const p of description.partitions) {
    if (p.offsetsSource !== null || p.leader === null || p.leader === selfId) continue;
    const url = urls.get(p.leader);
    if (url === undefined || ask.has(p.leader) || ask.size >= describeForwardNodesMax) continue;
    ask.set(p.leader, url);
  }
  return ask;
}

/** One leader node's local describe answer, and when the question was sent (wall-clock ms). */
export interface LeaderAnswer {
  readonly partitions: readonly PartitionDescriptionBody[];
  readonly askedAtMs: number;
}

/**
 * Fills unknown offsets from leaders' local answers: a partition takes an answer's offsets
 * when that node answered as its leader in the same leader epoch, with offsetsAgeMs the time
 * from the question to `nowMs` (the leader read them somewhere in between).
 */
export function mergeLeaderAnswers(
  description: TopicDescription,
  answers: ReadonlyMap<number, LeaderAnswer>,
  nowMs: number,
): TopicDescription {
  const partitions = description.partitions.map((p): PartitionDescription => {
    if (p.offsetsSource !== null || p.leader === null) return p;
    const answer = answers.get(p.leader);
    const remote = answer?.partitions.find((a) => a.partition === p.partition);
    const usable =
      remote !== undefined &&
      remote.offsetsSource === 'leader' &&
      remote.leaderEpoch === p.leaderEpoch &&
      remote.highWatermark !== null &&
      remote.logStartOffset !== null;
    if (!usable || answer === undefined) return p;
    return {
      ...p,
      logStartOffset: remote.logStartOffset,
      highWatermark: remote.highWatermark,
      // An older node's answer has no size: unknown rather than a wrong one.
      sizeBytes: remote.sizeBytes ?? null,
      offsetsSource: 'leader-remote',
      offsetsAgeMs: Math.max(0, Math.round(nowMs - answer.askedAtMs)),
    };
  });
  return { ...description, partitions };
}

/** Asks each leader node for its local description; a node that fails is left out. */
export async function askLeaders(
  forwarder: HttpExchange,
  topic: string,
  leaders: ReadonlyMap<number, string>,
  signal: AbortSignal,
  nowMs: () => number,
): Promise<Map<number, LeaderAnswer>> {
  const path = `/v1/topics/${encodeURIComponent(topic)}?local=true`;
  const answers = new Map<number, LeaderAnswer>();
  const askedAtMs = nowMs();
  await Promise.all(
    [...leaders].map(async ([id, url]) => {
      try {
        const response = await forwarder.request(url, {
          method: 'GET',
          path,
          responseBytesMax: describeAnswerBytesMax,
          timeoutMs: describeForwardTimeoutMs,
          signal,
        });
        if (response.status !== 200) return;
        const body = JSON.parse(response.body.toString('utf8')) as TopicDescriptionBody;
        if (Array.isArray(body.partitions))
          answers.set(id, { partitions: body.partitions, askedAtMs });
      } catch {
        // Unreachable, slow or garbled: this leader's partitions stay unknown (null).
      }
    }),
  );
  return answers;
}
