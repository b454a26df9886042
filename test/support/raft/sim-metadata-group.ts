// Production RaftMetadataLogs on the simulator's ports: SimRaftStorage (it counts the writes that
// reach its disk), SimRaftTransport and SimTimers, stepped on virtual time with microtasks
// drained after every step. Voters are configured as main.ts configures them; a node outside
// the voters lists only itself as an observer, as a broker started outside --voters does.
import {
  RaftMetadataLog,
  raftMetadataLogDefaults,
  type RaftMessage,
  type StateMachine,
} from '../../../src/raft/index.ts';
import { SeededRandom } from '../../../src/common/index.ts';
import { MemoryStorage } from '../raft-sim/memory-storage.ts';
import { SimRaftStorage } from '../raft-sim/sim-raft-storage.ts';
import { drainMicrotasks } from '../cluster-sim/async-stepped-sim.ts';
import { SimRaftTransport, SimTimers } from '../cluster-sim/sim-raft-ports.ts';

export class CountingMachine implements StateMachine<number> {
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

export const simUrl = (id: number) => `sim://${id}`;

/** Virtual time moves in steps of 10 ms; messages arrive one step after they were sent. */
export function simMetadataGroup(seed: number, voterIds: number[], outsiderIds: number[] = []) {
  let nowMs = 0;
  const timers = new SimTimers(() => nowMs);
  const wire: RaftMessage[] = [];
  const voters = new Map(voterIds.map((id) => [id, simUrl(id)] as const));
  const nodes = [...voterIds, ...outsiderIds].map((id) => {
    const life = { alive: true };
    const storage = new SimRaftStorage(new MemoryStorage());
    const transport = new SimRaftTransport(life, (message) => wire.push(message));
    const machine = new CountingMachine();
    const observers = voters.has(id) ? new Map<number, string>() : new Map([[id, simUrl(id)]]);
    const log = new RaftMetadataLog<number>(
      { ...raftMetadataLogDefaults, nodeId: id, voters, observers },
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
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const run = async (durationMs: number): Promise<void> => {
    for (const end = nowMs + durationMs; nowMs < end;) {
      nowMs += 10;
      timers.runDue(nowMs);
      await drainMicrotasks();
      for (const message of wire.splice(0)) byId.get(message.to)?.transport.deliver(message);
      await drainMicrotasks();
    }
  };
  return { nodes, node: (id: number) => byId.get(id)!, run };
}
