// The cluster simulator's replication checks (research/raft-test-anchors.md §2.3), per
// partition and after every event, against the committed metadata image: LeaderInIsr,
// StrongIsr and WeakIsr below every presumed leader's HW, leaders act only in epochs elected
// after their own registration, epoch caches monotonic (the log's own check), a leader's HW
// never falling within its epoch, every acked acks=all write on every committed ISR member;
// and at the end, identical replicas (P-DIV) and no acked write lost.
// Loss checks apply to strict runs (log.flush=always), where no loss is allowed at all.
import type { MemoryReplicaLog } from '../replication-sim/memory-replica-log.ts';
import {
  checkAckedOnIsr,
  checkIsrAgrees,
  checkLeaderHw,
  checkReplica,
  describeLog,
  type LogOf,
  type PartitionGhost,
} from '../replication-sim/sim-checker.ts';
import type { ClusterSim } from './cluster-sim.ts';

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
  const logOf: LogOf = (id) => partitionLog(sim, id, p);
  for (const broker of sim.brokers) {
    const node = broker.partitions[p];
    if (node === undefined) continue;
    checkReplica(ghost, node);
    if (!broker.up) continue;
    const leader = checkLeaderHw(ghost, node);
    if (leader === null) continue;
    // A restarted node leads only epochs elected after it registered again: an older epoch of
    // its own may have lost its unflushed tail (src/broker/replication/index.ts, Metadata).
    // The same process registering again (a stale registration replaced its own) lost nothing.
    const electedAt = sim.electedAt.get(`${p}:${leader.leaderEpoch}`) ?? -1;
    if (broker.registeredAt === null || electedAt < broker.registeredAt)
      ghost.violations.push(
        `node ${node.id} leads epoch ${leader.leaderEpoch} (elected at ${electedAt}) ` +
          `before its registration ${broker.registeredAt}`,
      );
    if (!sim.strict) continue;
    checkIsrAgrees(ghost, logOf, 'StrongIsr', state.isr, node);
    checkIsrAgrees(ghost, logOf, 'WeakIsr', leader.maximalIsr, node);
  }
  if (sim.strict) checkAckedOnIsr(ghost, logOf, state.isr);
}

function partitionLog(sim: ClusterSim, id: number, p: number): MemoryReplicaLog {
  const node = sim.broker(id).partitions[p];
  if (node === undefined) throw new Error(`no partition ${p} on ${id}`);
  return node.log;
}

/** After converge(): identical replicas, acked writes present and seen, no refused write. */
export function checkFinal(sim: ClusterSim): string[] {
  const problems: string[] = [];
  for (let p = 0; p < sim.options.partitionCount; p += 1) {
    const state = sim.committedState(p);
    const ghost = sim.ghosts[p];
    if (state === null || state.leader === null || ghost === undefined) {
      problems.push(`partition ${p} has no leader`);
      continue;
    }
    const leaderLog = partitionLog(sim, state.leader, p);
    const expected = describeLog(leaderLog);
    for (const id of state.replicas) {
      if (describeLog(partitionLog(sim, id, p)) !== expected)
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
