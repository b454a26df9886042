// One chaos run against a real cluster (issue 10 item 4): a topic (RF=3, min.insync.replicas=2),
// producers and consumers recording a History, a nemesis applying faults back to back (drawn
// from the seed, or a given schedule), then heal, a final read of every partition, and the
// history checker's verdict as one summary line:
// `acked=… lost=… duplicates=… hw_regressions=… unavailable_ms=… faults=… producer=…`.
// Producers use the client library with idempotence (its default) unless told otherwise.
import { SeededRandom } from '../../../src/common/index.ts';
import type { RillCluster } from '../cluster/rill-cluster.ts';
import {
  checkAtLeastOnce,
  checkHistory,
  type Anomaly,
  type AnomalyKind,
  type CheckResult,
} from './checker.ts';
import { ClusterWorkload, type ProducerMode } from './cluster-workload.ts';
import { GroupWorkload } from './group-workload.ts';
import type { History } from './history.ts';
import { applyFault, randomFault, type Fault } from './nemesis.ts';

export interface ChaosOptions {
  readonly seed: number;
  readonly durationMs: number;
  readonly topic: string;
  readonly partitions: number;
  /** A fixed fault schedule; without it faults are drawn from the seed until the duration ends. */
  readonly faults?: readonly Fault[];
  /** Quiet time between faults. */
  readonly gapMs?: number;
  /** How producers write (cluster-workload.ts); `idempotent` (the client's default) if absent. */
  readonly producerMode?: ProducerMode;
  readonly log: (line: string) => void;
  /** Members of a consumer group consuming throughout (0: none). */
  readonly groupMembers?: number;
}

export interface ChaosResult {
  readonly history: History;
  readonly check: CheckResult;
  readonly faults: number;
  /** Faults applied, by kind. */
  readonly faultCounts: ReadonlyMap<string, number>;
  /** Sum of the stretches over 1 s with no acks=all write acknowledged. */
  readonly unavailableMs: number;
  readonly finalReadComplete: boolean;
  /** Group members' deliveries checked at-least-once (checkAtLeastOnce); null without a group. */
  readonly group: { readonly anomalies: readonly Anomaly[]; readonly drained: boolean } | null;
  readonly summary: string;
}

export async function runChaos(cluster: RillCluster, options: ChaosOptions): Promise<ChaosResult> {
  const random = new SeededRandom(options.seed);
  const producerMode = options.producerMode ?? 'idempotent';
  const created = await cluster.post(cluster.ids[0] ?? 1, '/v1/topics', {
    name: options.topic,
    partitions: options.partitions,
    replicationFactor: 3,
    configs: { 'min.insync.replicas': '2' },
  });
  if (created.status !== 201)
    throw new Error(`create ${options.topic}: ${JSON.stringify(created.body)}`);
  const workload = new ClusterWorkload(cluster, {
    topic: options.topic,
    partitions: options.partitions,
    producers: 3,
    consumers: 2,
    random: new SeededRandom(options.seed ^ 0x5eed),
    requestTimeoutMs: 2_000,
    producerMode,
  });
  workload.start();
  const groupMembers = options.groupMembers ?? 2;
  const group =
    groupMembers === 0
      ? null
      : new GroupWorkload({
          bootstrapUrls: cluster.ids.map((id) => cluster.url(id)),
          topic: options.topic,
          groupId: `${options.topic}-group`,
          members: groupMembers,
          nowMs: () => workload.nowMs(),
        });
  group?.start();
  const hooks = {
    log: (line: string) => options.log(`[${workload.nowMs()} ms] ${line}`),
    onNodeChange: (id: number) => workload.forget(id),
    random,
    topic: options.topic,
  };
  let faults = 0;
  const faultCounts = new Map<string, number>();
  const schedule = options.faults === undefined ? null : [...options.faults];
  const gapMs = options.gapMs ?? 1_000;
  while (workload.nowMs() < options.durationMs) {
    await sleep(Math.min(gapMs, Math.max(0, options.durationMs - workload.nowMs())));
    const fault =
      schedule === null
        ? randomFault(random, cluster.network !== null, cluster.links !== null)
        : schedule.shift();
    if (fault === undefined || workload.nowMs() >= options.durationMs) break;
    await applyFault(cluster, fault, hooks);
    faults += 1;
    faultCounts.set(fault.kind, (faultCounts.get(fault.kind) ?? 0) + 1);
  }
  await workload.stop();
  await group?.stop();
  hooks.log('faults over; final read');
  const finalReadComplete = await workload.finalRead(30_000);
  await workload.close();
  const check = checkHistory(workload.history);
  const counts = new Map(check.counts);
  let groupResult: ChaosResult['group'] = null;
  if (group !== null) {
    hooks.log('group: a fresh member drains from the committed offsets');
    const drained = await group.drain(finalEnds(workload.history), 60_000);
    await group.close();
    const verdict = checkAtLeastOnce(workload.history, group.deliveries);
    for (const [kind, n] of verdict.counts) counts.set(kind, (counts.get(kind) ?? 0) + n);
    groupResult = { anomalies: verdict.anomalies, drained };
  }
  const unavailableMs = unavailable(workload.history);
  const count = (kind: AnomalyKind): number => counts.get(kind) ?? 0;
  const named = [
    'lost-write',
    'duplicate',
    'monotonic-reads',
    'read-your-writes',
    'not-delivered',
    'delivered-wrong',
  ] as const;
  let other = 0;
  for (const [kind, n] of counts) if (!(named as readonly string[]).includes(kind)) other += n;
  const summary =
    `acked=${check.stats.ackedAll} lost=${count('lost-write')} duplicates=${count('duplicate')} ` +
    `hw_regressions=${count('monotonic-reads')} ryw_violations=${count('read-your-writes')} ` +
    `group_not_delivered=${count('not-delivered')} group_wrong=${count('delivered-wrong')} ` +
    `other_anomalies=${other} undecided=${check.stats.undecided} ` +
    `unavailable_ms=${unavailableMs} faults=${faults} producer=${producerMode}`;
  return {
    history: workload.history,
    check,
    faults,
    faultCounts,
    unavailableMs,
    finalReadComplete,
    group: groupResult,
    summary,
  };
}

/** Partition index → the HW the final reader reached (its largest answered HW). */
function finalEnds(history: History): Map<number, number> {
  const ends = new Map<number, number>();
  for (const op of history.ops) {
    if (op.type !== 'fetch' || op.process !== 'final' || op.outcome?.kind !== 'ok') continue;
    const p = Number(op.partition.slice(1));
    ends.set(p, Math.max(ends.get(p) ?? 0, op.outcome.highWatermark));
  }
  return ends;
}

function unavailable(history: History): number {
  const acks = history.ops
    .filter((op) => op.type === 'produce' && op.outcome.kind === 'ok' && op.endMs !== null)
    .map((op) => op.endMs as number)
    .sort((a, b) => a - b);
  let total = 0;
  for (let i = 1; i < acks.length; i += 1) {
    const gap = (acks[i] as number) - (acks[i - 1] as number);
    if (gap > 1_000) total += gap;
  }
  return total;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
