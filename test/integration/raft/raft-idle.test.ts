// Goal: an idle Raft group costs no disk: with nothing proposed, the leader's heartbeat rounds
// and the followers' answers persist nothing (commit-only hard-state changes are not written),
// while heartbeats keep flowing. Method: three production RaftMetadataLogs on the simulator's
// ports (SimRaftStorage counts the writes that reach its disk, as LevelRaftStorage counts its
// synced batches), stepped on virtual time with microtasks drained after every step.
import { expect, test } from 'vitest';
import {
  RaftMetadataLog,
  raftMetadataLogDefaults,
  type RaftMessage,
  type StateMachine,
} from '../../../src/raft/index.ts';
import { SeededRandom } from '../../../src/common/index.ts';
import { MemoryStorage } from '../../support/raft-sim/memory-storage.ts';
import { SimRaftStorage } from '../../support/raft-sim/sim-raft-storage.ts';
import { drainMicrotasks } from '../../support/cluster-sim/async-stepped-sim.ts';
import { SimRaftTransport, SimTimers } from '../../support/cluster-sim/sim-raft-ports.ts';

class CountingMachine implements StateMachine<number> {
  applied = 0;
  apply(): unknown {
    this.applied += 1;
    return this.applied;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(String(this.applied));
  }
  restore(data: Uint8Array): void {
    this.applied = Number(new TextDecoder().decode(data));
  }
}

function idleGroup(seed: number) {
  let nowMs = 0;
  const timers = new SimTimers(() => nowMs);
  const wire: RaftMessage[] = [];
  const ids = [1, 2, 3];
  const voters = new Map(ids.map((id) => [id, `sim://${id}`] as const));
  const nodes = ids.map((id) => {
    const life = { alive: true };
    const storage = new SimRaftStorage(new MemoryStorage());
    const transport = new SimRaftTransport(life, (message) => wire.push(message));
    const machine = new CountingMachine();
    const log = new RaftMetadataLog<number>(
      { ...raftMetadataLogDefaults, nodeId: id, voters, observers: new Map() },
      {
        stateMachine: machine,
        clock: timers.clock(life),
        random: new SeededRandom(seed * 31 + id),
        storage,
        transport,
      },
    );
    return { id, log, storage, transport, machine };
  });
  /** Virtual time moves in steps of 10 ms; messages arrive one step after they were sent. */
  const run = async (durationMs: number): Promise<void> => {
    for (const end = nowMs + durationMs; nowMs < end;) {
      nowMs += 10;
      timers.runDue(nowMs);
      await drainMicrotasks();
      for (const message of wire.splice(0)) nodes[message.to - 1]?.transport.deliver(message);
      await drainMicrotasks();
    }
  };
  return { nodes, run };
}

test('an idle three-voter group writes nothing to storage while heartbeats flow', async () => {
  const seed = Number(process.env['SIM_SEED'] ?? Date.now() % 100_000);
  console.log(`idle group seed ${seed}`);
  const { nodes, run } = idleGroup(seed);
  await Promise.all(nodes.map((node) => node.log.start()));
  await run(3_000);
  const leader = nodes.find((node) => node.log.status().role === 'leader');
  if (leader === undefined) throw new Error(`no leader after 3 s (seed ${seed})`);
  const proposed = leader.log.propose(7);
  await run(500);
  await expect(proposed).resolves.toMatchObject({ result: 1 });
  await run(500);
  expect(nodes.map((node) => node.machine.applied)).toEqual([1, 1, 1]);

  const writesBefore = nodes.map((node) => node.storage.writes);
  const commitBefore = nodes.map((node) => node.log.status().commitIndex);
  const sentBefore = leader.log.counters().driver?.sentMessages ?? 0;
  const ticks = 400; // 20 s of heartbeats at the default 50 ms tick.
  await run(ticks * raftMetadataLogDefaults.tickMs);

  expect(nodes.map((node) => node.storage.writes)).toEqual(writesBefore);
  expect(nodes.map((node) => node.log.status().commitIndex)).toEqual(commitBefore);
  expect(nodes.every((node) => node.log.status().leaderId === leader.id)).toBe(true);
  // The group was alive: the leader heartbeat both followers all along.
  const heartbeats = (leader.log.counters().driver?.sentMessages ?? 0) - sentBefore;
  const expected = (2 * ticks) / raftMetadataLogDefaults.heartbeatTicks;
  expect(heartbeats).toBeGreaterThanOrEqual(expected * 0.9);
  await Promise.all(nodes.map((node) => node.log.stop()));
}, 60_000);
