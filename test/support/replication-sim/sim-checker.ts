// The replication checker: ghost state (what clients were told) and the invariants of
// research/raft-test-anchors.md §2.3, run after every simulator event, plus the end-of-run
// P-DIV check. "Strict" runs (log.flush=always, clean elections only) forbid every loss; other
// runs record allowed losses instead, so an allowed loss is told apart from a bug. The per-node
// checks are exported: the cluster simulator runs them per partition (cluster-checker.ts).
import type { LeaderReplica, ReplicationErrorCode } from '../../../src/broker/replication/index.ts';
import type { ProducerRefusalCode } from './messages.ts';
import { assert } from '../../../src/common/index.ts';
import type { Acks } from './messages.ts';
import type { SimCluster } from './sim-cluster.ts';
import type { MemoryReplicaLog } from './memory-replica-log.ts';
import type { SimNode } from './sim-node.ts';

export interface ProduceOp {
  readonly value: string;
  readonly acks: Acks;
  result: 'pending' | 'acked' | ReplicationErrorCode | ProducerRefusalCode;
}

/** What clients were told about one partition, and the checker's caches over it. */
export interface PartitionGhost {
  readonly produced: Map<number, ProduceOp>;
  readonly ackedAll: Map<number, string>;
  /** The same acknowledgements in the order they arrived (the incremental checker walks it). */
  readonly ackedAllLog: (readonly [offset: number, value: string])[];
  /** Values refused before any append: never visible anywhere (Jepsen G1a). */
  readonly refused: Set<string>;
  consumerPosition: number;
  readonly consumerSeen: Map<number, string>;
  consumerMaxHw: number;
  consumerEpoch: number | null;
  consumerInFlight: boolean;
  /** Highest HW per (node, incarnation, leader epoch): it never decreases within an epoch. */
  readonly leaderHw: Map<string, number>;
  /** (leader, member) → offsets found equal, valid while both log generations hold. */
  readonly verified: Map<string, { generations: string; upTo: number }>;
  /** member → acked writes found on it, valid while its log generation holds. */
  readonly ackedChecked: Map<number, { generation: number; count: number }>;
  readonly violations: string[];
}

/** The single-partition simulator also tells allowed losses apart from bugs. */
export interface Ghost extends PartitionGhost {
  readonly ackedOne: Map<number, string>;
  readonly allowedLoss: string[];
}

export function newPartitionGhost(): PartitionGhost {
  return {
    produced: new Map(),
    ackedAll: new Map(),
    ackedAllLog: [],
    refused: new Set(),
    consumerPosition: 0,
    consumerSeen: new Map(),
    consumerMaxHw: 0,
    consumerEpoch: null,
    consumerInFlight: false,
    leaderHw: new Map(),
    verified: new Map(),
    ackedChecked: new Map(),
    violations: [],
  };
}

/** Finds a member's log by node id. */
export type LogOf = (id: number) => MemoryReplicaLog;

export function isStrict(cluster: SimCluster): boolean {
  return cluster.options.flush === 'always' && !cluster.options.uncleanLeaderElection;
}

export function checkCluster(cluster: SimCluster): void {
  const ghost = cluster.ghost;
  const state = cluster.controller.state;
  if (state.leader !== null && !state.isr.includes(state.leader))
    ghost.violations.push('LeaderInIsr');
  const logOf: LogOf = (id) => cluster.node(id).log;
  for (const node of cluster.nodes) {
    checkReplica(ghost, node);
    const leader = checkLeaderHw(ghost, node);
    if (leader === null || !isStrict(cluster)) continue;
    checkIsrAgrees(ghost, logOf, 'StrongIsr', state.isr, node);
    checkIsrAgrees(ghost, logOf, 'WeakIsr', leader.maximalIsr, node);
  }
  if (isStrict(cluster)) checkAckedOnIsr(ghost, logOf, state.isr);
}

/** The node's own invariants, and no epoch in its log newer than the one it was told. */
export function checkReplica(ghost: PartitionGhost, node: SimNode): void {
  node.checkInvariants();
  const latest = node.log.latestEpoch();
  if (node.applied !== null && latest !== null && latest > node.applied.leaderEpoch) {
    ghost.violations.push(
      `node ${node.id} holds epoch ${latest} > its epoch ${node.applied.leaderEpoch}`,
    );
  }
}

/** A leader's HW never falls within one (node, incarnation, epoch); returns the leader. */
export function checkLeaderHw(ghost: PartitionGhost, node: SimNode): LeaderReplica | null {
  if (node.role.kind !== 'leader') return null;
  const leader = node.role.replica;
  const key = `${node.id}:${node.incarnation}:${leader.leaderEpoch}`;
  const previous = ghost.leaderHw.get(key) ?? 0;
  if (leader.highWatermark < previous)
    ghost.violations.push(`HW of ${key} fell ${previous}→${leader.highWatermark}`);
  ghost.leaderHw.set(key, leader.highWatermark);
  return leader;
}

/**
 * KSPEC: below a presumed leader's HW, every member of an ISR holds the leader's records —
 * StrongIsr for the controller's ISR, WeakIsr for the leader's own (maximal) view.
 */
export function checkIsrAgrees(
  ghost: PartitionGhost,
  logOf: LogOf,
  name: 'StrongIsr' | 'WeakIsr',
  isr: readonly number[],
  leader: SimNode,
): void {
  assert(leader.role.kind === 'leader', `node ${leader.id} does not lead`);
  const { log } = leader;
  const hw = leader.role.replica.highWatermark;
  for (const id of isr) {
    if (id === leader.id) continue;
    const member = logOf(id);
    const key = `${leader.id}:${id}`;
    const generations = `${log.generation}:${member.generation}:${log.logStartOffset}`;
    const cached = ghost.verified.get(key);
    const from = Math.max(
      log.logStartOffset,
      member.logStartOffset,
      cached?.generations === generations ? cached.upTo : 0,
    );
    for (let offset = from; offset < hw; offset += 1) {
      const ours = log.recordAt(offset);
      const theirs = member.recordAt(offset);
      if (ours?.value !== theirs?.value || ours?.epoch !== theirs?.epoch) {
        ghost.violations.push(
          `${name}: leader ${leader.id} HW ${hw} but ISR member ${id} has ` +
            `${JSON.stringify(theirs)} ≠ ${JSON.stringify(ours)} at ${offset}`,
        );
        return;
      }
    }
    ghost.verified.set(key, { generations, upTo: Math.max(from, hw) });
  }
}

/** Every acknowledged acks=all write is at its offset on every current ISR member. */
export function checkAckedOnIsr(ghost: PartitionGhost, logOf: LogOf, isr: readonly number[]): void {
  const acked = ghost.ackedAllLog;
  for (const id of isr) {
    const log = logOf(id);
    const cached = ghost.ackedChecked.get(id);
    const from = cached?.generation === log.generation ? cached.count : 0;
    for (let i = from; i < acked.length; i += 1) {
      const [offset, value] = acked[i] ?? [-1, ''];
      const record = log.recordAt(offset);
      if (record?.value !== value) {
        ghost.violations.push(
          `acked ${value}@${offset} missing on ISR member ${id} (has ${record?.value})`,
        );
        return;
      }
    }
    ghost.ackedChecked.set(id, { generation: log.generation, count: acked.length });
  }
}

/** A log as P-DIV compares it: start, records with epochs, and the epoch cache. */
export function describeLog(log: MemoryReplicaLog): string {
  return JSON.stringify({
    start: log.logStartOffset,
    records: log.records.map((r) => `${r.value}/${r.epoch}`),
    epochs: log.epochEntries.filter((e) => e.startOffset < log.logEndOffset),
  });
}

/** After convergence: identical logs and epoch caches (P-DIV), acked writes readable, no G1a. */
export function checkConverged(cluster: SimCluster): string[] {
  const problems: string[] = [];
  const leaderId = cluster.controller.state.leader;
  const first = leaderId === null ? cluster.nodes[0] : cluster.node(leaderId);
  if (first === undefined) return problems;
  const rest = cluster.nodes.filter((node) => node !== first);
  const expected = describeLog(first.log);
  for (const node of rest) {
    if (describeLog(node.log) !== expected)
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
