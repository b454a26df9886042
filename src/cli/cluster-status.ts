// `rill cluster status`: the cluster at a glance — each node (URL, alive or fenced, and its own
// Raft role, term and commit/applied indexes, asked of the node itself), the controller, and
// the partitions whose ISR is smaller than their replica set (under-replicated) or that have no
// leader (offline). Exit 0 whatever the health; --json for scripts.
import { Command } from 'commander';
import {
  ClientError,
  type RaftStatus,
  type RillClient,
  type TopicDescription,
} from '../api/client/index.ts';
import { runWithClient, withClientOptions, type ClientOptions } from './cluster-client.ts';

/** Topics described for the partition health; a larger cluster is reported as truncated. */
const topicsDescribedMax = 1_000;
/** Describes in flight at once. */
const describesInFlightMax = 16;

interface NodeStatus {
  readonly id: number;
  readonly url: string;
  readonly status: string;
  readonly raft: RaftStatus | { readonly error: string };
}

interface PartitionIssue {
  readonly topic: string;
  readonly partition: number;
  readonly leader: number | null;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

export function clusterStatusCommand(): Command {
  return withClientOptions(
    new Command('status')
      .description('nodes, controller, Raft roles, under-replicated and offline partitions')
      .addHelpText(
        'after',
        '\nEach node is asked for its own Raft status; one that does not answer shows ' +
          '"raft=unreachable (reason)".\nExits 0 whatever the health: use --json in scripts.',
      ),
  ).action((options: ClientOptions) =>
    runWithClient(options, async (client) => {
      const admin = client.admin();
      const cluster = await admin.describeCluster();
      const nodes: NodeStatus[] = await Promise.all(
        cluster.brokers.map(async (broker) => ({
          ...broker,
          raft: await admin.raftStatus(broker.url).catch((error: unknown) => ({
            error: error instanceof Error ? error.message : String(error),
          })),
        })),
      );
      const health = await partitionHealth(client);
      if (options.json === true) {
        console.log(JSON.stringify({ ...cluster, nodes, ...health }));
        return;
      }
      console.log(
        `cluster ${cluster.clusterId ?? '-'}\tcontroller=${cluster.controllerId ?? 'none'}`,
      );
      for (const node of nodes) console.log(nodeLine(node));
      console.log(`under-replicated partitions: ${health.underReplicated.length}`);
      for (const issue of health.underReplicated) console.log(`  ${issueLine(issue)}`);
      console.log(`offline partitions: ${health.offline.length}`);
      for (const issue of health.offline) console.log(`  ${issueLine(issue)}`);
      if (health.topicsTruncated) {
        console.log(`(only the first ${topicsDescribedMax} topics were checked)`);
      }
    }),
  );
}

/** The topic's description, or null if it was deleted since it was listed. */
async function describeIfExists(client: RillClient, name: string) {
  try {
    return await client.admin().describeTopic(name);
  } catch (error) {
    if (error instanceof ClientError && error.code === 'UNKNOWN_TOPIC_OR_PARTITION') return null;
    throw error;
  }
}

function nodeLine(node: NodeStatus): string {
  const raft =
    'error' in node.raft
      ? `raft=unreachable (${node.raft.error})`
      : `raft=${node.raft.role} term=${node.raft.term} commit=${node.raft.commitIndex}` +
        ` applied=${node.raft.appliedIndex}`;
  return `node ${node.id}\t${node.url}\t${node.status}\t${raft}`;
}

function issueLine(issue: PartitionIssue): string {
  return (
    `${issue.topic}/${issue.partition}\tleader=${issue.leader ?? 'none'}` +
    `\treplicas=${issue.replicas.join(',')}\tisr=${issue.isr.join(',')}`
  );
}

async function partitionHealth(client: RillClient): Promise<{
  underReplicated: PartitionIssue[];
  offline: PartitionIssue[];
  topicsTruncated: boolean;
}> {
  const admin = client.admin();
  const listed = await admin.listTopics();
  const names = listed.map((topic) => topic.name).sort();
  const checked = names.slice(0, topicsDescribedMax);
  const described: TopicDescription[] = [];
  for (let at = 0; at < checked.length; at += describesInFlightMax) {
    const slice = checked.slice(at, at + describesInFlightMax);
    const answers = await Promise.all(slice.map((name) => describeIfExists(client, name)));
    for (const answer of answers) if (answer !== null) described.push(answer);
  }
  const underReplicated: PartitionIssue[] = [];
  const offline: PartitionIssue[] = [];
  for (const topic of described) {
    for (const p of topic.partitions) {
      const issue = {
        topic: topic.name,
        partition: p.partition,
        leader: p.leader,
        replicas: p.replicas,
        isr: p.isr,
      };
      if (p.leader === null) offline.push(issue);
      if (p.isr.length < p.replicas.length) underReplicated.push(issue);
    }
  }
  return { underReplicated, offline, topicsTruncated: names.length > checked.length };
}
