// Faults against a real cluster (issue 10 item 3), one at a time and always healed: kill -9 of
// a node (any, the controller's, or a partition leader's) and its restart on the same data;
// SIGSTOP for a while, then SIGCONT; kill -9 with every partition segment's tail cut while the
// node is down (a disk that lost its last writes — here even synced ones, so the other
// replicas must cover them: a restarted node is out of the ISR until it catches up); and, when the cluster runs in network namespaces
// (netns.ts), real network partitions: a node (any, or a partition leader) cut off from the
// other nodes while clients still reach it, or one link between two nodes cut both ways; when
// node-to-node traffic runs through per-link proxies (link-proxy.ts): a delayed link, a lossy
// link (stalls and connection resets), a slow node (every link of it delayed and throttled);
// and a bit flipped in the middle third of a stopped node's segment before its restart.
// At most one fault at once, so a topic with RF=3 and min.insync.replicas=2 stays writable
// between detection and failover.
import { open, readdir, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { SeededRandom } from '../../../src/common/index.ts';
import type { LinkProxy } from '../cluster/link-proxy.ts';
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
  | 'cut-link'
  | 'bit-flip'
  | 'delay-link'
  | 'lossy-link'
  | 'slow-node';

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
  'bit-flip',
];
/** The faults that need the nodes in network namespaces. */
export const networkFaultKinds: readonly FaultKind[] = ['isolate', 'isolate-leader', 'cut-link'];
/** The faults that need node-to-node traffic through link proxies (RillCluster linkProxies). */
export const linkFaultKinds: readonly FaultKind[] = ['delay-link', 'lossy-link', 'slow-node'];

export function randomFault(random: SeededRandom, network = false, proxies = false): Fault {
  const kinds = [
    ...faultKinds,
    ...(network ? networkFaultKinds : []),
    ...(proxies ? linkFaultKinds : []),
  ];
  const kind = kinds[random.int(kinds.length)] ?? 'kill';
  const slow = networkFaultKinds.includes(kind) || linkFaultKinds.includes(kind);
  const spanMs = kind === 'pause' ? 2_500 : slow ? 6_000 : 4_000;
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
  if (linkFaultKinds.includes(fault.kind)) {
    await applyLinkFault(cluster, fault, target, hooks);
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
  if (fault.kind === 'bit-flip') {
    const flipped = await flipSegmentBit(cluster.nodeDataDir(target), hooks.topic, hooks.random);
    hooks.log(`node ${target}: ${flipped}`);
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
    // Node-to-node bytes through the proxies (on the bridge) are held like dropped packets.
    for (const proxy of cluster.links?.between(target, peer) ?? []) proxy.setStalled(true);
  } else {
    hooks.log(`${fault.kind}: node ${target} cut off from the others for ${fault.durationMs} ms`);
    await network.isolate(target);
    for (const proxy of cluster.links?.around(target) ?? []) proxy.setStalled(true);
  }
  await sleep(fault.durationMs);
  await network.heal();
  await cluster.links?.healAll();
  hooks.log('network healed');
}

/** Delay, jitter and throttle of the link faults. */
const linkDelayMsMax = 250;
const linkJitterMsMax = 60;
const slowNodeBytesPerSecond = 256 * 1024;

async function applyLinkFault(
  cluster: RillCluster,
  fault: Fault,
  target: number,
  hooks: NemesisHooks,
): Promise<void> {
  const links = cluster.links;
  if (links === null) throw new Error(`${fault.kind} needs the cluster's link proxies`);
  const others = cluster.ids.filter((id) => id !== target);
  const peer = others[hooks.random.int(others.length)] ?? target;
  const delayMs = 20 + hooks.random.int(linkDelayMsMax);
  const jitterMs = hooks.random.int(linkJitterMsMax);
  if (fault.kind === 'delay-link') {
    hooks.log(`delay ${target}<->${peer} by ${delayMs}+${jitterMs} ms for ${fault.durationMs} ms`);
    for (const proxy of links.between(target, peer)) {
      proxy.setShape({ delayMs, jitterMs, bytesPerSecond: null });
    }
    await sleep(fault.durationMs);
  } else if (fault.kind === 'slow-node') {
    const shape = { delayMs, jitterMs, bytesPerSecond: slowNodeBytesPerSecond };
    hooks.log(`slow node ${target}: ${delayMs}+${jitterMs} ms, 256 KiB/s, ${fault.durationMs} ms`);
    for (const proxy of links.around(target)) proxy.setShape(shape);
    await sleep(fault.durationMs);
  } else {
    hooks.log(`lossy link ${target}<->${peer} for ${fault.durationMs} ms`);
    await lossyLink(links.between(target, peer), fault.durationMs, hooks);
  }
  await links.healAll();
  hooks.log('links healed');
}

/** Stalls of 100-1500 ms with short clean gaps; a third of the stalls end in a reset. */
async function lossyLink(
  proxies: readonly LinkProxy[],
  durationMs: number,
  hooks: NemesisHooks,
): Promise<void> {
  const end = performance.now() + durationMs;
  let stalls = 0;
  let resets = 0;
  while (performance.now() < end) {
    for (const proxy of proxies) proxy.setStalled(true);
    await sleep(Math.min(100 + hooks.random.int(1_400), Math.max(0, end - performance.now())));
    stalls += 1;
    if (hooks.random.int(3) === 0) {
      for (const proxy of proxies) proxy.reset();
      resets += 1;
    }
    for (const proxy of proxies) proxy.setStalled(false);
    await sleep(50 + hooks.random.int(450));
  }
  hooks.log(`lossy link: ${stalls} stalls, ${resets} resets`);
}

/**
 * Flips one bit in the middle third of a stopped node's largest segment of `topic` (a batch with
 * batches after it, as disk-damage.test.ts does); the node must detect it and refetch it.
 */
async function flipSegmentBit(
  dataDir: string,
  topic: string,
  random: SeededRandom,
): Promise<string> {
  const root = join(dataDir, 'partitions');
  let largest: { path: string; size: number } | null = null;
  const partitions = await readdir(root).catch(() => [] as string[]);
  for (const partition of partitions.filter((name) => name.startsWith(`${topic}-`))) {
    const dir = join(root, partition);
    for (const name of (await readdir(dir)).filter((entry) => entry.endsWith('.log'))) {
      const { size } = await stat(join(dir, name));
      if (size > (largest?.size ?? 0)) largest = { path: join(dir, name), size };
    }
  }
  if (largest === null || largest.size < 3) return 'no segment to flip a bit in';
  const position = Math.floor(largest.size / 3) + random.int(Math.floor(largest.size / 3));
  const bit = random.int(8);
  const file = await open(largest.path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, position);
    byte[0] = (byte[0] as number) ^ (1 << bit);
    await file.write(byte, 0, 1, position);
  } finally {
    await file.close();
  }
  return `bit ${bit} flipped at byte ${position} of ${largest.size} in ${largest.path}`;
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
  const anyKinds: readonly FaultKind[] = [
    'kill',
    'kill-torn',
    'pause',
    'isolate',
    'cut-link',
    'bit-flip',
    'delay-link',
    'lossy-link',
    'slow-node',
  ];
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
