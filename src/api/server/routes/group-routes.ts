// Consumer-group routes (docs/api.md "Consumer groups"): coordinator look-up, heartbeat, offset
// commit and fetch on the coordinator; list, describe (with lag), delete and offset reset from
// any node, which forwards to the coordinator once (a forwarded request is never forwarded
// again: a stale view answers NOT_COORDINATOR instead). Also the per-group lag gauges.
import { Gauge } from 'prom-client';
import {
  GroupError,
  consumerAssignment,
  consumerSubscriptionTopics,
  partitionKey,
  resolveTopics,
  toTopicPartitions,
  type GroupCoordinator,
  type GroupState,
} from '../../../broker/index.ts';
import { ApiError } from '../../errors.ts';
import type {
  GroupDescriptionBody,
  GroupListingBody,
  GroupMemberBody,
  OffsetFetchResponseBody,
} from '../../wire.ts';
import { enumQuery, topicParam } from '../request-checks.ts';
import type { RillApp, RillReply, RillRequest, RouteContext } from '../route-context.ts';
import {
  commitBody,
  groupParam,
  heartbeatBody,
  resetBody,
  type ResetTarget,
} from './group-input.ts';
import { groupForwardTimeoutMs, partitionLags, partitionOffsets } from './group-lag.ts';

/** Group/partition series of the lag gauges, at most (label cardinality stays bounded). */
export const groupLagSeriesMax = 2_000;
const forwardedHeader = 'x-rill-forwarded';
const forwardAnswerBytesMax = 16 * 1024 * 1024;

interface GroupParams {
  readonly group: string;
}
type GroupRoute = { Params: GroupParams; Querystring: Record<string, unknown> };

export function registerGroupRoutes(
  app: RillApp,
  context: RouteContext,
  groups: GroupCoordinator,
): void {
  app.get<GroupRoute>('/v1/groups/:group/coordinator', (request) => {
    const group = groupParam(request.params.group);
    const { partition, id, url } = groups.locate(group);
    return { group, partition, coordinator: { id, url } };
  });
  app.post<GroupRoute>('/v1/groups/:group/heartbeat', async (request) => {
    const group = groupParam(request.params.group);
    return groups.heartbeat(group, heartbeatBody(request.body, request.ip));
  });
  app.post<GroupRoute>('/v1/groups/:group/offsets', async (request) => {
    const group = groupParam(request.params.group);
    return { offsets: await groups.commitOffsets(group, commitBody(request.body)) };
  });
  app.get<GroupRoute>('/v1/groups/:group/offsets', (request): OffsetFetchResponseBody => {
    const group = groupParam(request.params.group);
    const topic = request.query['topic'] === undefined ? null : topicParam(request.query['topic']);
    const { state } = groups.describe(group);
    return { offsets: committedOffsets(state).filter((o) => topic === null || o.topic === topic) };
  });
  registerAdminRoutes(app, context, groups);
  registerLagGauges(context, groups);
}

function registerAdminRoutes(app: RillApp, context: RouteContext, groups: GroupCoordinator): void {
  app.get<GroupRoute>('/v1/groups', async (request): Promise<GroupListingBody> => {
    const local = enumQuery(request.query, 'local', ['true', 'false'] as const, 'false');
    const mine = groups.localGroups().map(({ group, state, members, protocol }) => ({
      group,
      state,
      members,
      protocol,
    }));
    if (local === 'true') return { groups: mine as GroupListingBody['groups'] };
    return { groups: await gatherGroups(context, mine as GroupListingBody['groups']) };
  });
  app.get<GroupRoute>('/v1/groups/:group', async (request, reply) => {
    const group = groupParam(request.params.group);
    if (!groups.isLocal(group)) return forwardToCoordinator(context, groups, group, request, reply);
    return describeGroup(context, groups, group);
  });
  app.delete<GroupRoute>('/v1/groups/:group', async (request, reply) => {
    const group = groupParam(request.params.group);
    if (!groups.isLocal(group)) return forwardToCoordinator(context, groups, group, request, reply);
    await groups.deleteGroup(group);
    return reply.code(204).send();
  });
  app.post<GroupRoute>('/v1/groups/:group/offsets/reset', async (request, reply) => {
    const group = groupParam(request.params.group);
    const { topic, to, dryRun } = resetBody(request.body);
    topicParam(topic);
    if (!groups.isLocal(group)) return forwardToCoordinator(context, groups, group, request, reply);
    return resetOffsets(context, groups, group, topic, to, dryRun);
  });
}

/** Sends the request to the coordinator once and passes its answer back unchanged. */
async function forwardToCoordinator(
  context: RouteContext,
  groups: GroupCoordinator,
  group: string,
  request: RillRequest<GroupRoute>,
  reply: RillReply<GroupRoute>,
): Promise<unknown> {
  const where = groups.locate(group);
  if (where.id === context.broker.nodeId || request.headers[forwardedHeader] !== undefined) {
    groups.describe(group); // Throws the reason: loading, or not the coordinator after all.
    throw new GroupError('NOT_COORDINATOR', `node ${where.id} coordinates ${group}`, {
      coordinator: { id: where.id, url: where.url },
    });
  }
  const method = request.method as 'GET' | 'POST' | 'DELETE';
  let response;
  try {
    response = await context.forwarder.request(where.url, {
      method,
      path: request.url,
      ...(method === 'POST'
        ? {
            headers: { [forwardedHeader]: '1', 'content-type': 'application/json' },
            body: JSON.stringify(request.body),
          }
        : { headers: { [forwardedHeader]: '1' } }),
      responseBytesMax: forwardAnswerBytesMax,
      timeoutMs: groupForwardTimeoutMs * 4,
      signal: context.signalOf(request),
    });
  } catch {
    throw new ApiError('COORDINATOR_NOT_AVAILABLE', `node ${where.id} did not answer`);
  }
  reply.code(response.status);
  const retryAfter = response.headers['retry-after'];
  if (retryAfter !== undefined) reply.header('retry-after', retryAfter);
  if (response.status === 204) return reply.send();
  reply.header('content-type', 'application/json; charset=utf-8');
  return reply.send(response.body);
}

/** Asks every leader of a __consumer_offsets partition for its groups (local=true). */
async function gatherGroups(
  context: RouteContext,
  mine: GroupListingBody['groups'],
): Promise<GroupListingBody['groups']> {
  const { broker } = context;
  const leaders = new Set<number>();
  try {
    for (const p of broker.describeTopic('__consumer_offsets').partitions) {
      if (p.leader !== null && p.leader !== broker.nodeId) leaders.add(p.leader);
    }
  } catch {
    return mine; // No __consumer_offsets yet: no groups anywhere.
  }
  const urls = new Map(broker.describeCluster().brokers.map((b) => [b.id, b.url]));
  const answers = await Promise.all(
    [...leaders].map(async (id) => {
      const url = urls.get(id);
      if (url === undefined) return [];
      try {
        const response = await context.forwarder.request(url, {
          method: 'GET',
          path: '/v1/groups?local=true',
          responseBytesMax: forwardAnswerBytesMax,
          timeoutMs: groupForwardTimeoutMs,
        });
        if (response.status !== 200) return [];
        const body = JSON.parse(response.body.toString('utf8')) as GroupListingBody;
        return Array.isArray(body.groups) ? body.groups : [];
      } catch {
        return []; // A silent coordinator's groups are left out of this answer.
      }
    }),
  );
  return [...mine, ...answers.flat()].sort((a, b) => (a.group < b.group ? -1 : 1));
}

function assignmentOf(member: GroupState['members'] extends Map<string, infer M> ? M : never) {
  return [...member.granted].filter((key) => member.target.has(key));
}

function committedOffsets(state: GroupState): OffsetFetchResponseBody['offsets'][number][] {
  return [...state.offsets.entries()]
    .map(([key, value]) => {
      const at = key.lastIndexOf(':');
      return {
        topic: key.slice(0, at),
        partition: Number(key.slice(at + 1)),
        offset: value.offset,
        metadata: value.metadata,
      };
    })
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/** A classic group's members, their topics and partitions read from the consumer protocol. */
function classicMembers(
  state: GroupState,
  topics: ReturnType<GroupCoordinator['describe']>['topics'],
  owners: Map<string, string>,
  keys: Set<string>,
): GroupMemberBody[] {
  const classic = state.classic;
  if (classic === null) return [];
  return [...classic.members.values()].map((member) => {
    const protocol = member.protocols.find((p) => p.name === classic.protocolName);
    const consumer = classic.protocolType === 'consumer';
    const subscribed = consumer
      ? consumerSubscriptionTopics(protocol?.metadata ?? new Uint8Array())
      : null;
    const assignment = consumer ? consumerAssignment(member.assignment) : null;
    for (const topic of subscribed ?? []) {
      for (let p = 0; p < (topics.partitionCount(topic) ?? 0); p += 1)
        keys.add(partitionKey(topic, p));
    }
    for (const { topic, partitions } of assignment ?? []) {
      for (const p of partitions) owners.set(partitionKey(topic, p), member.memberId);
    }
    return {
      memberId: member.memberId,
      instanceId: member.instanceId,
      memberEpoch: classic.generationId,
      clientHost: member.clientHost,
      subscribedTopics: subscribed ?? [],
      subscribedTopicRegex: null,
      assignment: assignment ?? [],
      clientId: member.clientId,
    };
  });
}

async function describeGroup(
  context: RouteContext,
  groups: GroupCoordinator,
  group: string,
): Promise<GroupDescriptionBody> {
  const { state, topics, stateName } = groups.describe(group);
  const owners = new Map<string, string>();
  const keys = new Set<string>(state.offsets.keys());
  const members: GroupMemberBody[] = [];
  for (const member of state.members.values()) {
    const assigned = assignmentOf(member);
    for (const key of assigned) owners.set(key, member.memberId);
    for (const topic of resolveTopics(member, topics)) {
      for (let p = 0; p < (topics.partitionCount(topic) ?? 0); p += 1) keys.add(`${topic}:${p}`);
    }
    members.push({
      memberId: member.memberId,
      instanceId: member.instanceId,
      memberEpoch: member.memberEpoch,
      clientHost: member.clientHost,
      subscribedTopics: member.subscribedTopics ?? [],
      subscribedTopicRegex: member.subscribedTopicRegex,
      assignment: toTopicPartitions(assigned),
      clientId: null,
    });
  }
  members.push(...classicMembers(state, topics, owners, keys));
  const entries = [...keys].sort().map((key) => {
    const at = key.lastIndexOf(':');
    return {
      topic: key.slice(0, at),
      partition: Number(key.slice(at + 1)),
      committedOffset: state.offsets.get(key)?.offset ?? null,
    };
  });
  const lags = await partitionLags(context, entries);
  return {
    group,
    state: stateName as GroupDescriptionBody['state'],
    protocol: state.protocol,
    groupEpoch: state.classic?.generationId ?? state.groupEpoch,
    assignor: state.classic === null ? state.assignor : (state.classic.protocolName ?? '-'),
    members,
    offsets: lags.map((l) => ({ ...l, owner: owners.get(`${l.topic}:${l.partition}`) ?? null })),
  };
}

async function resetOffsets(
  context: RouteContext,
  groups: GroupCoordinator,
  group: string,
  topic: string,
  to: ResetTarget,
  dryRun: boolean,
): Promise<{ offsets: { topic: string; partition: number; offset: number }[] }> {
  let members = 0;
  try {
    const { state } = groups.describe(group);
    members = state.members.size + (state.classic?.members.size ?? 0);
  } catch (error) {
    if (!(error instanceof GroupError && error.code === 'GROUP_ID_NOT_FOUND')) throw error;
  }
  if (members > 0) {
    throw new GroupError('NON_EMPTY_GROUP', `group ${group} has ${members} members`);
  }
  const count = context.broker.describeTopic(topic).partitions.length;
  const offsets = await Promise.all(
    Array.from({ length: count }, async (_, partition) => {
      const timestamp = to.kind === 'timestamp' ? to.timestamp : undefined;
      const known = await partitionOffsets(context, topic, partition, timestamp);
      if (known === null) {
        throw new ApiError('LEADER_NOT_AVAILABLE', `no offsets for ${topic}-${partition}`);
      }
      const { logStartOffset: start, highWatermark: hw } = known;
      const offset =
        to.kind === 'earliest'
          ? start
          : to.kind === 'latest'
            ? hw
            : to.kind === 'offset'
              ? Math.min(hw, Math.max(start, to.offset))
              : (known.offset ?? hw);
      return { topic, partition, offset };
    }),
  );
  if (!dryRun) {
    await groups.commitOffsets(group, { memberId: '', memberEpoch: -1, offsets });
  }
  return { offsets };
}

/** rill_group_lag_records / rill_group_lag_seconds for the groups coordinated here. */
function registerLagGauges(context: RouteContext, groups: GroupCoordinator): void {
  const registers = [context.metrics.registry];
  const labelNames = ['group', 'topic', 'partition'] as const;
  let sample: Promise<Awaited<ReturnType<typeof sampleLags>>> | null = null;
  const current = (): Promise<Awaited<ReturnType<typeof sampleLags>>> => {
    sample ??= sampleLags(context, groups).finally(() => {
      sample = null;
    });
    return sample;
  };
  const gauge = (name: string, help: string, field: 'lag' | 'lagSeconds'): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        this.reset();
        for (const row of await current()) {
          const value = row[field];
          if (value === null) continue;
          this.set({ group: row.group, topic: row.topic, partition: String(row.partition) }, value);
        }
      },
    });
  };
  gauge('rill_group_lag_records', "Records between a group's committed offset and the HW.", 'lag');
  gauge('rill_group_lag_seconds', "Age of the record at a group's committed offset.", 'lagSeconds');
}

async function sampleLags(context: RouteContext, groups: GroupCoordinator) {
  const entries: { group: string; topic: string; partition: number; committedOffset: number }[] =
    [];
  for (const { group } of groups.localGroups()) {
    let state: GroupState;
    try {
      state = groups.describe(group).state;
    } catch {
      continue; // Unloaded meanwhile.
    }
    for (const [key, value] of state.offsets) {
      if (entries.length >= groupLagSeriesMax) break;
      const at = key.lastIndexOf(':');
      entries.push({
        group,
        topic: key.slice(0, at),
        partition: Number(key.slice(at + 1)),
        committedOffset: value.offset,
      });
    }
  }
  const lags = await partitionLags(context, entries);
  return lags.map((lag, i) => ({ ...lag, group: entries[i]?.group ?? '' }));
}
