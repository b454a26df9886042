// Faults against a real cluster (issue 10 item 3), one at a time and always healed: kill -9 of
// a node (any, the controller's, or a partition leader's) and its restart on the same data;
// SIGSTOP for a while, then SIGCONT; kill -9 with every partition segment's tail cut while the
// node is down (a disk that lost its last writes — here even synced ones, so the other
// replicas must cover them: a restarted node is out of the ISR until it catches up); and, when the cluster runs in network namespaces
// (netns.ts), real network partitions: a node (any, or a partition leader) cut off from the
// other nodes while clients still reach it, or one link between two nodes cut both ways.
// At most one fault at once, so a topic with RF=3 and min.insync.replicas=2 stays writable
// between detection and failover. Not here: delay and loss (this kernel has no netem); bit flips
// (test/cluster/replication/disk-damage.test.ts).
import { readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { SeededRandom } from '../../../src/common/index.ts';
import type { RillCluster } from '../cluster/rill-cluster.ts';

/** How long a restarted node may take to print `ready`. */
const restartReadyTimeoutMs = 120_000;

export type FaultKind =
  | 'kill'
  | 'kill-controller'
  | 'kill-leader'
  | 'kill-torn'
  | 'pause'
  | 'isolate'
  | 'isolate-leader'
  | 'cut-link';

export interface Fault {
  readonly kind: FaultKind;
  /** How long the node stays down or paused before it is healed. */
  readonly durationMs: number;
}

export const faultKinds: readonly FaultKind[] = [
  'kill',
  'kill-controller',
  'kill-leader',
  'kill-torn',
  'pause',
];
/** The faults that need the nodes in network namespaces. */
export const networkFaultKinds: readonly FaultKind[] = ['isolate', 'isolate-leader', 'cut-link'];

export function randomFault(random: SeededRandom, network = false): Fault {
  const kinds = network ? [...faultKinds, ...networkFaultKinds] : faultKinds;
  const kind = kinds[random.int(kinds.length)] ?? 'kill';
  const spanMs = kind === 'pause' ? 2_500 : networkFaultKinds.includes(kind) ? 6_000 : 4_000;
  return { kind, durationMs: 300 + random.int(spanMs) };
}

export interface NemesisHooks {
  readonly log: (line: string) => void;
  /** Called after a node was killed or restarted: clients drop their connection to it. */
  readonly onNodeChange: (id: number) => Promise<void>;
  readonly random: SeededRandom;
  readonly topic: string;
}

/** Applies one fault, waits its duration, heals it; resolves once the node is back. */
export async function applyFault(
  cluster: RillCluster,
  fault: Fault,
  hooks: NemesisHooks,
): Promise<void> {
  const target = await targetOf(cluster, fault.kind, hooks);
  if (target === null) return;
  if (networkFaultKinds.includes(fault.kind)) {
    await applyNetworkFault(cluster, fault, target, hooks);
    return;
  }
  if (fault.kind === 'pause') {
    hooks.log(`pause node ${target} for ${fault.durationMs} ms`);
    cluster.pause(target, true);
    await sleep(fault.durationMs);
    cluster.pause(target, false);
    return;
  }
  hooks.log(`${fault.kind}: kill -9 node ${target}, down ${fault.durationMs} ms`);
  await cluster.kill(target);
  await hooks.onNodeChange(target);
  if (fault.kind === 'kill-torn') {
    const cut = await tearSegmentTails(cluster.nodeDataDir(target), hooks.random);
    hooks.log(`node ${target}: ${cut}`);
  }
  await sleep(fault.durationMs);
  // Start-up compiles the sources (tsx): on a loaded machine that alone can take tens of seconds.
  await cluster.startNode(target, restartReadyTimeoutMs);
  await hooks.onNodeChange(target);
  hooks.log(`node ${target} restarted`);
}

async function applyNetworkFault(
  cluster: RillCluster,
  fault: Fault,
  target: number,
  hooks: NemesisHooks,
): Promise<void> {
  const network = cluster.network;
  if (network === null) throw new Error(`${fault.kind} needs the cluster in network namespaces`);
  if (fault.kind === 'cut-link') {
    const others = cluster.ids.filter((id) => id !== target);
    const peer = others[hooks.random.int(others.length)] ?? target;
    hooks.log(`cut the link ${target}<->${peer} for ${fault.durationMs} ms`);
    await network.partition(target, peer);
  } else {
    hooks.log(`${fault.kind}: node ${target} cut off from the others for ${fault.durationMs} ms`);
    await network.isolate(target);
  }
  await sleep(fault.durationMs);
  await network.heal();
  hooks.log('network healed');
}

/** Bytes cut from a segment's tail at most. */
const tearBytesMax = 4_096;

/** Cuts up to tearBytesMax bytes off the last segment of every partition of a stopped node. */
async function tearSegmentTails(dataDir: string, random: SeededRandom): Promise<string> {
  const root = join(dataDir, 'partitions');
  const cuts: string[] = [];
  for (const partition of await readdir(root).catch(() => [] as string[])) {
    const dir = join(root, partition);
    const logs = (await readdir(dir)).filter((name) => name.endsWith('.log')).sort();
    const last = logs[logs.length - 1];
    if (last === undefined) continue;
    const { size } = await stat(join(dir, last));
    const cut = Math.min(size, random.int(tearBytesMax + 1));
    if (cut === 0) continue;
    await truncate(join(dir, last), size - cut);
    cuts.push(`${partition} -${cut}`);
  }
  return cuts.length === 0 ? 'no segment tail to cut' : `segment tails cut: ${cuts.join(', ')}`;
}

async function targetOf(
  cluster: RillCluster,
  kind: FaultKind,
  hooks: NemesisHooks,
): Promise<number | null> {
  const running = cluster.ids.filter((id) => cluster.isRunning(id));
  const any = running[hooks.random.int(Math.max(1, running.length))] ?? null;
  const anyKinds: readonly FaultKind[] = ['kill', 'kill-torn', 'pause', 'isolate', 'cut-link'];
  if (anyKinds.includes(kind)) return any;
  if (any === null) return any;
  try {
    if (kind === 'kill-controller') {
      const answer = await cluster.get(any, '/v1/cluster');
      const id = answer.body?.controllerId;
      return typeof id === 'number' && cluster.isRunning(id) ? id : any;
    }
    // kill-leader and isolate-leader: the leader of partition 0.
    const answer = await cluster.get(any, `/v1/topics/${hooks.topic}?local=true`);
    const leader = answer.body?.partitions?.[0]?.leader;
    return typeof leader === 'number' && cluster.isRunning(leader) ? leader : any;
  } catch {
    return any;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
