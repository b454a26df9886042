// The cluster simulator's replication checks (research/raft-test-anchors.md §2.3), per
// partition and after every event, against the committed metadata image: LeaderInIsr,
// StrongIsr and WeakIsr below every presumed leader's HW, leaders act only in epochs elected
// after their own registration, epoch caches monotonic (the log's own check), a leader's HW
// never falling within its epoch, every acked acks=all write on every committed ISR member;
// and at the end, identical replicas (P-DIV) and no acked write lost.
// Loss checks apply to strict runs (log.flush=always), where no loss is allowed at all.
import type { MemoryReplicaLog } from '../replication-sim/memory-replica-log.ts';
import type { ProduceOp } from '../replication-sim/sim-checker.ts';
import type { ClusterSim } from './cluster-sim.ts';

export interface PartitionGhost {
  readonly produced: Map<number, ProduceOp>;
  readonly ackedAll: Map<number, string>;
  readonly ackedAllLog: (readonly [offset: number, value: string])[];
  readonly refused: Set<string>;
  consumerPosition: number;
  readonly consumerSeen: Map<number, string>;
  consumerMaxHw: number;
  consumerEpoch: number | null;
  consumerInFlight: boolean;
  /** Highest HW per (node, incarnation, leader epoch). */
  readonly leaderHw: Map<string, number>;
  /** (leader, member) → offsets found equal, valid while both log generations hold. */
  readonly verified: Map<string, { generations: string; upTo: number }>;
  /** member → acked writes found on it, valid while its log generation holds. */
  readonly ackedChecked: Map<number, { generation: number; count: number }>;
  readonly violations: string[];
}

export function newGhost(): PartitionGhost {
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

export function checkClusterInvariants(sim: ClusterSim): void {
  for (let p = 0; p < sim.options.partitionCount; p += 1) {
    const ghost = sim.ghosts[p];
    if (ghost === undefined) continue;
    checkPartition(sim, p, ghost);
    if (ghost.violations.length > 0)
      throw new Error(`invariant violated on partition ${p}: ${ghost.violations.join('; ')}`);
  }
}

function checkPartition(sim: ClusterSim, p: number, ghost: PartitionGhost): void {
  const state = sim.committedState(p);
  if (state === null) return;
  if (state.leader !== null && !state.isr.includes(state.leader))
    ghost.violations.push(`LeaderInIsr: leader ${state.leader} ∉ ${JSON.stringify(state.isr)}`);
  for (const broker of sim.brokers) {
    const node = broker.partitions[p];
    if (node === undefined) continue;
    node.checkInvariants();
    const latest = node.log.latestEpoch();
    if (node.applied !== null && latest !== null && latest > node.applied.leaderEpoch)
      ghost.violations.push(`node ${node.id} holds epoch ${latest} > ${node.applied.leaderEpoch}`);
    if (!broker.up || node.role.kind !== 'leader') continue;
    const leader = node.role.replica;
    const key = `${node.id}:${node.incarnation}:${leader.leaderEpoch}`;
    const previous = ghost.leaderHw.get(key) ?? 0;
    if (leader.highWatermark < previous)
      ghost.violations.push(`HW of ${key} fell ${previous}→${leader.highWatermark}`);
    ghost.leaderHw.set(key, leader.highWatermark);
    // A restarted node leads only epochs elected after it registered again: an older epoch of
    // its own may have lost its unflushed tail (src/broker/replication/index.ts, Metadata).
    const electedAt = sim.electedAt.get(`${p}:${leader.leaderEpoch}`) ?? -1;
    if (broker.brokerEpoch === null || electedAt < broker.brokerEpoch)
      ghost.violations.push(
        `node ${node.id} leads epoch ${leader.leaderEpoch} (elected at ${electedAt}) ` +
          `before its registration ${broker.brokerEpoch}`,
      );
    if (!sim.strict) continue;
    const hw = leader.highWatermark;
    agrees(sim, ghost, p, 'StrongIsr', state.isr, node.id, node.log, hw);
    agrees(sim, ghost, p, 'WeakIsr', leader.maximalIsr, node.id, node.log, hw);
  }
  if (sim.strict) ackedOnIsr(sim, ghost, p, state.isr);
}

function logOf(sim: ClusterSim, id: number, p: number): MemoryReplicaLog {
  const node = sim.broker(id).partitions[p];
  if (node === undefined) throw new Error(`no partition ${p} on ${id}`);
  return node.log;
}

/** KSPEC: below a presumed leader's HW every member of the ISR holds the leader's records. */
function agrees(
  sim: ClusterSim,
  ghost: PartitionGhost,
  p: number,
  name: string,
  isr: readonly number[],
  leaderId: number,
  log: MemoryReplicaLog,
  hw: number,
): void {
  for (const id of isr) {
    if (id === leaderId) continue;
    const member = logOf(sim, id, p);
    const key = `${leaderId}:${id}`;
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
          `${name}: leader ${leaderId} HW ${hw} but ISR member ${id} has ` +
            `${JSON.stringify(theirs)} ≠ ${JSON.stringify(ours)} at ${offset}`,
        );
        return;
      }
    }
    ghost.verified.set(key, { generations, upTo: Math.max(from, hw) });
  }
}

/** Every acknowledged acks=all write is at its offset on every committed ISR member. */
function ackedOnIsr(
  sim: ClusterSim,
  ghost: PartitionGhost,
  p: number,
  isr: readonly number[],
): void {
  const acked = ghost.ackedAllLog;
  for (const id of isr) {
    const log = logOf(sim, id, p);
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

/** After converge(): identical replicas, acked writes present and seen, no refused write. */
export function checkFinal(sim: ClusterSim): string[] {
  const problems: string[] = [];
  const describe = (log: MemoryReplicaLog): string =>
    JSON.stringify({
      start: log.logStartOffset,
      records: log.records.map((r) => `${r.value}/${r.epoch}`),
      epochs: log.epochEntries.filter((e) => e.startOffset < log.logEndOffset),
    });
  for (let p = 0; p < sim.options.partitionCount; p += 1) {
    const state = sim.committedState(p);
    const ghost = sim.ghosts[p];
    if (state === null || state.leader === null || ghost === undefined) {
      problems.push(`partition ${p} has no leader`);
      continue;
    }
    const leaderLog = logOf(sim, state.leader, p);
    const expected = describe(leaderLog);
    for (const id of state.replicas) {
      if (describe(logOf(sim, id, p)) !== expected)
        problems.push(`P-DIV: partition ${p} node ${id} differs from leader ${state.leader}`);
    }
    const values = new Set<string>();
    for (const record of leaderLog.records) {
      if (values.has(record.value)) problems.push(`duplicate ${record.value}`);
      values.add(record.value);
      if (ghost.refused.has(record.value)) problems.push(`G1a: refused ${record.value} visible`);
    }
    if (!sim.strict) continue;
    for (const [offset, value] of ghost.ackedAll) {
      if (leaderLog.recordAt(offset)?.value !== value)
        problems.push(`lost acked ${value}@${offset}`);
      if (ghost.consumerSeen.get(offset) !== value)
        problems.push(`unseen acked ${value}@${offset}`);
    }
  }
  const images = new Set(
    sim.brokers.map(
      (b) => `${b.machine.appliedIndex}:${new TextDecoder().decode(b.image.snapshot())}`,
    ),
  );
  if (
    images.size !== 1 &&
    sim.brokers.every((b) => b.machine.appliedIndex === sim.brokers[0]?.machine.appliedIndex)
  )
    problems.push('metadata images differ at the same applied index');
  return problems;
}
