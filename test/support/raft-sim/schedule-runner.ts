// Runs a Raft group under an explicit fault schedule: a list of actions (tick, deliver, drop or
// duplicate the n-th message in flight, crash, restart, propose, compact, transfer). Because the
// schedule is plain data, fast-check can generate it and shrink a failure to a minimal one.
// Readies are processed right after each action; the SimChecker watches every step.
import { AssertionError, SeededRandom } from '../../../src/common/index.ts';
import {
  RaftCore,
  raftCoreDefaults,
  type RaftMessage,
  type RaftNodeId,
} from '../../../src/raft/index.ts';
import { cloneMessage } from './clone-message.ts';
import { HashStateMachine } from './hash-state-machine.ts';
import { MemoryStorage, type StorageFault } from './memory-storage.ts';
import { SimChecker, Violation } from './sim-checker.ts';

export type ScheduleAction =
  | { readonly type: 'tick'; readonly node: number }
  | { readonly type: 'tick-all' }
  | { readonly type: 'deliver'; readonly pick: number }
  /** Delivers everything in flight, starting at the pick-th message (a rotation reorders). */
  | { readonly type: 'flush'; readonly pick: number }
  | { readonly type: 'drop'; readonly pick: number }
  | { readonly type: 'duplicate'; readonly pick: number }
  | { readonly type: 'crash'; readonly node: number }
  /** Cuts a node off until `heal`: its messages are lost in both directions. */
  | { readonly type: 'isolate'; readonly node: number }
  | { readonly type: 'heal' }
  | { readonly type: 'restart'; readonly node: number }
  | { readonly type: 'propose' }
  | { readonly type: 'compact'; readonly node: number }
  | { readonly type: 'transfer'; readonly node: number };

interface ScheduleNode {
  core: RaftCore;
  machine: HashStateMachine;
  readonly storage: MemoryStorage;
  up: boolean;
}

const config = {
  ...raftCoreDefaults,
  electionTimeoutTicks: 4,
  heartbeatTicks: 1,
  inflightAppendsMax: 4,
  appendBytesMax: 16,
};

/** Returns null when every invariant held, else the violation and the action index. */
/**
 * `fault` breaks the storage twin; `grant-all-votes` is a lying transport that turns every vote
 * rejection into a grant (a voter that skips its checks). Both exist to prove the checks can fail.
 */
export type ScheduleFault = StorageFault | 'grant-all-votes';

export function runSchedule(
  nodeCount: number,
  actions: readonly ScheduleAction[],
  fault: ScheduleFault = 'none',
  stats?: { leaders: number; commits: number },
): { violation: string; at: number } | null {
  const ids = Array.from({ length: nodeCount }, (_, i) => i + 1);
  const membership = { voters: ids, observers: [] };
  const checker = new SimChecker();
  let inflight: RaftMessage[] = [];
  let seed = 0;
  const newCore = (id: RaftNodeId, storage: MemoryStorage) => {
    seed += 1;
    const restored = storage.restored();
    return new RaftCore(
      { ...config, id, initialMembership: membership },
      { random: new SeededRandom(seed), restored },
    );
  };
  const nodes = new Map<RaftNodeId, ScheduleNode>();
  for (const id of ids) {
    const storage = new MemoryStorage(fault === 'grant-all-votes' ? 'none' : fault);
    nodes.set(id, {
      core: newCore(id, storage),
      machine: new HashStateMachine(),
      storage,
      up: true,
    });
  }
  const nodeAt = (n: number): [RaftNodeId, ScheduleNode] => {
    const id = (n % nodeCount) + 1;
    const node = nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return [id, node];
  };
  const processReadies = () => {
    for (const [id, node] of nodes) {
      while (node.up && node.core.hasReady()) {
        const ready = node.core.ready();
        checker.beforePersist(id, ready, node.storage);
        node.storage.persist(ready);
        checker.onPersist(id, ready, node.storage);
        inflight.push(...ready.messages.map(cloneMessage));
        if (ready.snapshot !== null) {
          node.machine.restore(ready.snapshot.data);
          checker.onRestore(id, node.machine);
        }
        for (const entry of ready.committed) {
          const previous = node.machine.appliedIndex;
          node.machine.apply(entry);
          checker.onApply(id, entry, previous, node.machine);
        }
        node.core.advance(ready);
        checker.checkNode(id, node.core);
      }
    }
  };
  const takeMessage = (pick: number, keep: boolean): RaftMessage | undefined => {
    if (inflight.length === 0) return undefined;
    const index = pick % inflight.length;
    const message = inflight[index];
    if (!keep) inflight = inflight.filter((_, i) => i !== index);
    return message === undefined ? undefined : cloneMessage(message);
  };
  let proposals = 0;
  let isolated: RaftNodeId | null = null;
  const deliver = (sent: RaftMessage) => {
    const lie = fault === 'grant-all-votes' && sent.type === 'vote-response';
    const message: RaftMessage = lie ? { ...sent, granted: true } : sent;
    const node = nodes.get(message.to);
    if (node === undefined || !node.up) return;
    if (isolated === message.to || isolated === message.from) return;
    node.core.step(message);
    checker.checkNode(message.to, node.core);
  };
  const apply = (action: ScheduleAction) => {
    switch (action.type) {
      case 'tick': {
        const [id, node] = nodeAt(action.node);
        if (node.up) node.core.tick();
        checker.checkNode(id, node.core);
        return;
      }
      case 'tick-all':
        for (const [id, node] of nodes) {
          if (!node.up) continue;
          node.core.tick();
          checker.checkNode(id, node.core);
        }
        return;
      case 'deliver':
      case 'duplicate': {
        const message = takeMessage(action.pick, action.type === 'duplicate');
        if (message !== undefined) deliver(message);
        return;
      }
      case 'drop':
        takeMessage(action.pick, false);
        return;
      case 'flush': {
        const batch = inflight;
        inflight = [];
        const start = batch.length === 0 ? 0 : action.pick % batch.length;
        for (const message of [...batch.slice(start), ...batch.slice(0, start)]) deliver(message);
        return;
      }
      case 'isolate':
        isolated = nodeAt(action.node)[0];
        return;
      case 'heal':
        isolated = null;
        return;
      case 'crash': {
        const [, node] = nodeAt(action.node);
        node.up = false;
        return;
      }
      case 'restart': {
        const [id, node] = nodeAt(action.node);
        if (node.up) return;
        node.core = newCore(id, node.storage);
        node.machine = new HashStateMachine();
        if (node.storage.snapshot !== null) node.machine.restore(node.storage.snapshot.data);
        node.up = true;
        checker.onRestart(id, node.core);
        return;
      }
      case 'propose':
        for (const node of nodes.values()) {
          if (!node.up || node.core.status().role !== 'leader') continue;
          proposals += 1;
          node.core.propose(new TextEncoder().encode(`p${proposals}`));
        }
        return;
      case 'compact': {
        const [, node] = nodeAt(action.node);
        const status = node.core.status();
        if (!node.up || node.machine.appliedIndex <= status.snapshotIndex) return;
        if (node.machine.appliedIndex !== status.appliedIndex) return;
        node.storage.saveSnapshot(node.core.compact(status.appliedIndex, node.machine.snapshot()));
        return;
      }
      case 'transfer':
        for (const node of nodes.values()) {
          if (node.up && node.core.status().role === 'leader') {
            node.core.transferLeadership(nodeAt(action.node)[0]);
          }
        }
        return;
    }
  };
  for (const [at, action] of actions.entries()) {
    try {
      apply(action);
      processReadies();
    } catch (error) {
      if (error instanceof Violation || error instanceof AssertionError) {
        return { violation: error.message, at };
      }
      throw error;
    }
  }
  if (stats !== undefined) {
    stats.commits = checker.committedMax;
    stats.leaders = [...nodes.values()].filter((n) => n.core.status().term > 0).length;
  }
  return null;
}
