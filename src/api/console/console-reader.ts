// One read of what the console shows, through the node's own GET routes (fastify's inject: the
// same handlers, checks and any-node forwarding a curl user gets, no second source of truth),
// plus every other node's GET /v1/console/node (Raft status, totals, on the first read its ring
// of samples) over the node's forwarding transport. Bounded: at most consoleTopicsMax topics
// and consoleGroupsMax groups are described per read.
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
import type { NodeHistory, NodeTotals } from './console-history.ts';
import type { ConsoleReading, RaftNodeView } from './console-view.ts';

/** Topics described per read; the rest are counted in topicsLeftOut. */
export const consoleTopicsMax = 200;
/** Groups described per read; the rest are counted in groupsLeftOut. */
export const consoleGroupsMax = 100;
/** How long a read waits for another node's status. */
const nodeAskTimeoutMs = 1_000;
/** A node's answer with its ring: 60 points of totals and of up to 100 groups' lag. */
const nodeAnswerBytesMax = 1024 * 1024;

export interface ConsoleReaderDeps {
  readonly app: RillApp;
  readonly forwarder: HttpExchange;
  readonly nodeId: () => number;
  readonly consoleWrite: boolean;
  /** Follows the streams applications' checkpoint topics between reads. */
  readonly checkpoints: CheckpointWatcher;
}

/** GETs one of the node's own routes; null unless it answers 200. */
export async function getOwn<T>(app: RillApp, url: string): Promise<T | null> {
  const response = await app.inject({ method: 'GET', url });
  return response.statusCode === 200 ? (response.json() as T) : null;
}

/**
 * One read; `withHistory` also asks every node for its ring of samples. The first
 * consoleTopicsMax topics by name are described, and the `watched` ones wherever they sort.
 */
export async function readConsole(
  deps: ConsoleReaderDeps,
  withHistory: boolean,
  watched: readonly string[] = [],
): Promise<ConsoleReading> {
  const { app } = deps;
  const [cluster, topicList, groupList] = await Promise.all([
    getOwn<ClusterDescriptionBody>(app, '/v1/cluster'),
    getOwn<{ topics: TopicListingBody[] }>(app, '/v1/topics'),
    getOwn<GroupListingBody>(app, '/v1/groups'),
  ]);
  const brokers = cluster?.brokers ?? [];
  const names = (topicList?.topics ?? []).map((t) => t.name).sort();
  const existing = new Set(names);
  const first = names.slice(0, consoleTopicsMax);
  const shown = [...first, ...watched.filter((t) => existing.has(t) && !first.includes(t))];
  const groupIds = (groupList?.groups ?? []).map((g) => g.group).sort();
  const [nodes, topics, groups] = await Promise.all([
    readNodes(deps, brokers, withHistory),
    describeAll<TopicDescriptionBody>(app, shown, '/v1/topics/'),
    describeAll<GroupDescriptionBody>(app, groupIds.slice(0, consoleGroupsMax), '/v1/groups/'),
  ]);
  const cursors = await deps.checkpoints.refresh(topics, brokers);
  const apps = topics.filter((t) => t.name.endsWith(checkpointSuffix) && !t.name.startsWith('__'));
  return {
    nodeId: deps.nodeId(),
    consoleWrite: deps.consoleWrite,
    cluster: cluster ?? { clusterId: null, controllerId: null, brokers: [] },
    raft: nodes.views,
    ...(withHistory ? { histories: nodes.histories } : {}),
    topics,
    topicsLeftOut: names.length - shown.length,
    watchedTopics: watched,
    groups,
    groupsLeftOut: Math.max(0, groupIds.length - consoleGroupsMax),
    streams: streamsView(cursors, topics, groups, deps.checkpoints.statuses()),
    streamsLeftOut: Math.max(0, apps.length - consoleStreamsAppsMax),
  };
}

async function describeAll<T>(app: RillApp, ids: readonly string[], prefix: string): Promise<T[]> {
  const answers = await Promise.all(
    ids.map((id) => getOwn<T>(app, prefix + encodeURIComponent(id))),
  );
  return answers.filter((answer): answer is Awaited<T> & {} => answer !== null) as T[];
}

/** What GET /v1/console/node answers. */
export interface ConsoleNodeBody {
  readonly nodeId: number;
  readonly raft: Record<string, unknown> | null;
  readonly totals: NodeTotals;
  readonly history?: NodeHistory;
}

/** Each node's Raft status and totals (GET /v1/console/node): its own route, or over HTTP. */
async function readNodes(
  deps: ConsoleReaderDeps,
  brokers: ClusterDescriptionBody['brokers'],
  withHistory: boolean,
): Promise<{ views: RaftNodeView[]; histories: NodeHistory[] }> {
  const selfId = deps.nodeId();
  const path = `/v1/console/node${withHistory ? '?history=true' : ''}`;
  const histories: NodeHistory[] = [];
  const views = await Promise.all(
    brokers.map(async (broker): Promise<RaftNodeView> => {
      const down = { nodeId: broker.id, url: broker.url, status: null, totals: null };
      let body: ConsoleNodeBody | null = null;
      try {
        if (broker.id === selfId) body = await getOwn<ConsoleNodeBody>(deps.app, path);
        else {
          const response = await deps.forwarder.request(broker.url, {
            method: 'GET',
            path,
            responseBytesMax: nodeAnswerBytesMax,
            timeoutMs: nodeAskTimeoutMs,
          });
          if (response.status === 200) {
            body = JSON.parse(response.body.toString('utf8')) as ConsoleNodeBody;
          }
        }
      } catch {
        // Down or slow: the pages show the node as not answering.
      }
      if (body === null) return down;
      if (body.history !== undefined) histories.push(body.history);
      return { ...down, status: body.raft, totals: body.totals };
    }),
  );
  return { views, histories };
}
