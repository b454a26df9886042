// The replication checker: ghost state (what clients were told) and the invariants of
// research/raft-test-anchors.md §2.3, run after every simulator event, plus the end-of-run
// P-DIV check. "Strict" runs (log.flush=always, clean elections only) forbid every loss; other
// runs record allowed losses instead, so an allowed loss is told apart from a bug.
import type { ReplicationErrorCode } from '../../../src/broker/replication/index.ts';
import type { Acks } from './messages.ts';
import type { SimCluster } from './sim-cluster.ts';
import type { MemoryReplicaLog } from './memory-replica-log.ts';

export interface ProduceOp {
  readonly value: string;
  readonly acks: Acks;
  result: 'pending' | 'acked' | ReplicationErrorCode;
}

export interface Ghost {
  readonly ackedAll: Map<number, string>;
  /** The same acknowledgements in the order they arrived (the incremental checker walks it). */
  readonly ackedAllLog: (readonly [offset: number, value: string])[];
  readonly ackedOne: Map<number, string>;
  /** Values refused before any append: never visible anywhere (Jepsen G1a). */
  readonly refused: Set<string>;
  readonly produced: Map<number, ProduceOp>;
  consumerPosition: number;
  readonly consumerSeen: Map<number, string>;
  consumerMaxHw: number;
  consumerEpoch: number | null;
  consumerInFlight: boolean;
  /** Highest HW per (node, incarnation, leader epoch): it never decreases within an epoch. */
  readonly leaderHw: Map<string, number>;
  readonly allowedLoss: string[];
  readonly violations: string[];
}

/** Checker cache per run: how many acked writes each member was found to hold. */
const ackedCheckedByGhost = new WeakMap<
  Ghost,
  Map<number, { generation: number; count: number }>
>();

/** Checker cache per run: offsets found equal on (leader, member), valid per log generation. */
const verifiedByGhost = new WeakMap<Ghost, Map<string, { generations: string; upTo: number }>>();

export function isStrict(cluster: SimCluster): boolean {
  return cluster.options.flush === 'always' && !cluster.options.uncleanLeaderElection;
}

export function checkCluster(cluster: SimCluster): void {
  const violations = cluster.ghost.violations;
  const state = cluster.controller.state;
  if (state.leader !== null && !state.isr.includes(state.leader)) violations.push('LeaderInIsr');
  for (const node of cluster.nodes) {
    node.checkInvariants();
    const latest = node.log.latestEpoch();
    if (node.applied !== null && latest !== null && latest > node.applied.leaderEpoch) {
      violations.push(
        `node ${node.id} holds epoch ${latest} > its epoch ${node.applied.leaderEpoch}`,
      );
    }
    if (node.role.kind !== 'leader') continue;
    const leader = node.role.replica;
    const key = `${node.id}:${node.incarnation}:${leader.leaderEpoch}`;
    const previous = cluster.ghost.leaderHw.get(key) ?? 0;
    if (leader.highWatermark < previous)
      violations.push(`HW of ${key} fell ${previous}→${leader.highWatermark}`);
    cluster.ghost.leaderHw.set(key, leader.highWatermark);
    if (!isStrict(cluster)) continue;
    const hw = leader.highWatermark;
    checkIsrAgrees(cluster, 'StrongIsr', cluster.controller.state.isr, node.id, node.log, hw);
    checkIsrAgrees(cluster, 'WeakIsr', leader.maximalIsr, node.id, node.log, hw);
  }
  if (isStrict(cluster)) checkAckedOnIsr(cluster);
}

/**
 * KSPEC: below a presumed leader's HW, every member of an ISR holds the leader's records —
 * StrongIsr for the controller's ISR, WeakIsr for the leader's own (maximal) view.
 */
function checkIsrAgrees(
  cluster: SimCluster,
  name: 'StrongIsr' | 'WeakIsr',
  isr: readonly number[],
  leaderId: number,
  log: MemoryReplicaLog,
  hw: number,
): void {
  let verified = verifiedByGhost.get(cluster.ghost);
  if (verified === undefined) {
    verified = new Map();
    verifiedByGhost.set(cluster.ghost, verified);
  }
  for (const id of isr) {
    if (id === leaderId) continue;
    const member = cluster.node(id).log;
    const key = `${leaderId}:${id}`;
    const generations = `${log.generation}:${member.generation}:${log.logStartOffset}`;
    const cached = verified.get(key);
    const from = Math.max(
      log.logStartOffset,
      member.logStartOffset,
      cached?.generations === generations ? cached.upTo : 0,
    );
    for (let offset = from; offset < hw; offset += 1) {
      const ours = log.recordAt(offset);
      const theirs = member.recordAt(offset);
      if (ours?.value !== theirs?.value || ours?.epoch !== theirs?.epoch) {
        cluster.ghost.violations.push(
          `${name}: leader ${leaderId} HW ${hw} but ISR member ${id} has ` +
            `${JSON.stringify(theirs)} ≠ ${JSON.stringify(ours)} at ${offset}`,
        );
        return;
      }
    }
    verified.set(key, { generations, upTo: Math.max(from, hw) });
  }
}

/** Every acknowledged acks=all write is at its offset on every current ISR member. */
function checkAckedOnIsr(cluster: SimCluster): void {
  let checked = ackedCheckedByGhost.get(cluster.ghost);
  if (checked === undefined) {
    checked = new Map();
    ackedCheckedByGhost.set(cluster.ghost, checked);
  }
  const acked = cluster.ghost.ackedAllLog;
  for (const id of cluster.controller.state.isr) {
    const log = cluster.node(id).log;
    const cached = checked.get(id);
    const from = cached?.generation === log.generation ? cached.count : 0;
    for (let i = from; i < acked.length; i += 1) {
      const [offset, value] = acked[i] ?? [-1, ''];
      const record = log.recordAt(offset);
      if (record?.value !== value) {
        cluster.ghost.violations.push(
          `acked ${value}@${offset} missing on ISR member ${id} (has ${record?.value})`,
        );
        return;
      }
    }
    checked.set(id, { generation: log.generation, count: acked.length });
  }
}

/** After convergence: identical logs and epoch caches (P-DIV), acked writes readable, no G1a. */
export function checkConverged(cluster: SimCluster): string[] {
  const problems: string[] = [];
  const leaderId = cluster.controller.state.leader;
  const first = leaderId === null ? cluster.nodes[0] : cluster.node(leaderId);
  if (first === undefined) return problems;
  const rest = cluster.nodes.filter((node) => node !== first);
  const describe = (log: MemoryReplicaLog): string =>
    JSON.stringify({
      start: log.logStartOffset,
      records: log.records.map((r) => `${r.value}/${r.epoch}`),
      epochs: log.epochEntries.filter((e) => e.startOffset < log.logEndOffset),
    });
  const expected = describe(first.log);
  for (const node of rest) {
    if (describe(node.log) !== expected)
      problems.push(`P-DIV: node ${node.id} differs from leader ${first.id}`);
  }
  const positions = new Map<string, number>();
  for (const record of first.log.records) {
    if (positions.has(record.value)) problems.push(`duplicate ${record.value}`);
    positions.set(record.value, record.offset);
    if (cluster.ghost.refused.has(record.value))
      problems.push(`G1a: refused ${record.value} visible`);
  }
  if (isStrict(cluster)) {
    for (const [offset, value] of cluster.ghost.ackedAll) {
      if (first.log.recordAt(offset)?.value !== value)
        problems.push(`lost acked ${value}@${offset}`);
    }
    for (const [offset, value] of cluster.ghost.ackedAll) {
      const seen = cluster.ghost.consumerSeen.get(offset);
      if (seen !== value) problems.push(`unseen: acked ${value}@${offset}, consumer read ${seen}`);
    }
    for (const [offset, value] of cluster.ghost.consumerSeen) {
      if (first.log.recordAt(offset)?.value !== value)
        problems.push(`consumer saw ${value}@${offset}, now gone`);
    }
  }
  return problems;
}
