// One read of what the console shows, through the node's own GET routes (fastify's inject: the
// same handlers, checks and any-node forwarding a curl user gets, no second source of truth),
// plus every other node's GET /v1/raft over the node's forwarding transport. Bounded: at most
// consoleTopicsMax topics and consoleGroupsMax groups are described per read.
import type {
  ClusterDescriptionBody,
  GroupDescriptionBody,
  GroupListingBody,
  HttpExchange,
  TopicDescriptionBody,
  TopicListingBody,
} from '../wire.ts';
import type { RillApp } from '../server/route-context.ts';
import {
  checkpointSuffix,
  consoleStreamsAppsMax,
  streamsView,
  type CheckpointWatcher,
} from './console-streams.ts';
import type { ConsoleReading, RaftNodeView } from './console-view.ts';

/** Topics described per read; the rest are counted in topicsLeftOut. */
export const consoleTopicsMax = 200;
/** Groups described per read; the rest are counted in groupsLeftOut. */
export const consoleGroupsMax = 100;
/** How long a read waits for another node's Raft status. */
const raftAskTimeoutMs = 1_000;
const raftAnswerBytesMax = 64 * 1024;

export interface ConsoleReaderDeps {
  readonly app: RillApp;
  readonly forwarder: HttpExchange;
  readonly nodeId: () => number;
  readonly consoleWrite: boolean;
  /** Follows the streams applications' checkpoint topics between reads. */
  readonly checkpoints: CheckpointWatcher;
}

/** GETs one of the node's own routes; null unless it answers 200. */
async function getOwn<T>(app: RillApp, url: string): Promise<T | null> {
  const response = await app.inject({ method: 'GET', url });
  return response.statusCode === 200 ? (response.json() as T) : null;
}

export async function readConsole(deps: ConsoleReaderDeps): Promise<ConsoleReading> {
  const { app } = deps;
  const [cluster, topicList, groupList] = await Promise.all([
    getOwn<ClusterDescriptionBody>(app, '/v1/cluster'),
    getOwn<{ topics: TopicListingBody[] }>(app, '/v1/topics'),
    getOwn<GroupListingBody>(app, '/v1/groups'),
  ]);
  const brokers = cluster?.brokers ?? [];
  const names = (topicList?.topics ?? []).map((t) => t.name).sort();
  const groupIds = (groupList?.groups ?? []).map((g) => g.group).sort();
  const [raft, topics, groups] = await Promise.all([
    readRaft(deps, brokers),
    describeAll<TopicDescriptionBody>(app, names.slice(0, consoleTopicsMax), '/v1/topics/'),
    describeAll<GroupDescriptionBody>(app, groupIds.slice(0, consoleGroupsMax), '/v1/groups/'),
  ]);
  const cursors = await deps.checkpoints.refresh(topics, brokers);
  const apps = topics.filter((t) => t.name.endsWith(checkpointSuffix) && !t.name.startsWith('__'));
  return {
    nodeId: deps.nodeId(),
    consoleWrite: deps.consoleWrite,
    cluster: cluster ?? { clusterId: null, controllerId: null, brokers: [] },
    raft,
    topics,
    topicsLeftOut: Math.max(0, names.length - consoleTopicsMax),
    groups,
    groupsLeftOut: Math.max(0, groupIds.length - consoleGroupsMax),
    streams: streamsView(cursors, topics, groups),
    streamsLeftOut: Math.max(0, apps.length - consoleStreamsAppsMax),
  };
}

async function describeAll<T>(app: RillApp, ids: readonly string[], prefix: string): Promise<T[]> {
  const answers = await Promise.all(
    ids.map((id) => getOwn<T>(app, prefix + encodeURIComponent(id))),
  );
  return answers.filter((answer): answer is Awaited<T> & {} => answer !== null) as T[];
}

/** This node's status from its own route, every other node's over the network. */
async function readRaft(
  deps: ConsoleReaderDeps,
  brokers: ClusterDescriptionBody['brokers'],
): Promise<RaftNodeView[]> {
  const selfId = deps.nodeId();
  return Promise.all(
    brokers.map(async (broker): Promise<RaftNodeView> => {
      const view = { nodeId: broker.id, url: broker.url };
      if (broker.id === selfId) {
        return { ...view, status: await getOwn<Record<string, unknown>>(deps.app, '/v1/raft') };
      }
      try {
        const response = await deps.forwarder.request(broker.url, {
          method: 'GET',
          path: '/v1/raft',
          responseBytesMax: raftAnswerBytesMax,
          timeoutMs: raftAskTimeoutMs,
        });
        if (response.status !== 200) return { ...view, status: null };
        return {
          ...view,
          status: JSON.parse(response.body.toString('utf8')) as Record<string, unknown>,
        };
      } catch {
        // Down or slow: the Raft page shows the node as not answering.
        return { ...view, status: null };
      }
    }),
  );
}
