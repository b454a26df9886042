// A scripted in-process controller for the replication simulator: it stands in for the Raft
// leader of the metadata group, holds the committed partition record and node sessions, and
// decides with the core's controller-decisions. It never crashes; partitions can cut it off.
import { assert, type NodeId } from '../../../src/common/index.ts';
import {
  checkPartitionState,
  onNodeAvailable,
  onNodeUnavailable,
  validateIsrChange,
  type ElectionContext,
  type IsrChangeRequest,
  type PartitionState,
} from '../../../src/broker/replication/index.ts';
import type { Message, Payload } from './messages.ts';

interface Session {
  incarnation: number | null;
  lastHeartbeatMs: number;
  fenced: boolean;
  eligible: boolean;
}

export interface SimControllerConfig {
  readonly id: NodeId;
  readonly sessionTimeoutMs: number;
  readonly uncleanLeaderElection: boolean;
}

export class SimController {
  readonly #config: SimControllerConfig;
  readonly #send: (message: Message) => void;
  state: PartitionState;
  readonly sessions = new Map<NodeId, Session>();
  /** Every committed record, for the checker and for traces. */
  readonly history: PartitionState[] = [];

  constructor(config: SimControllerConfig, initial: PartitionState, send: (m: Message) => void) {
    checkPartitionState(initial);
    this.#config = config;
    this.#send = send;
    this.state = initial;
    this.history.push(initial);
    for (const id of initial.replicas) {
      this.sessions.set(id, {
        incarnation: null,
        lastHeartbeatMs: 0,
        fenced: true,
        eligible: true,
      });
    }
  }

  get liveNodes(): Set<NodeId> {
    const live = new Set<NodeId>();
    for (const [id, session] of this.sessions) if (!session.fenced) live.add(id);
    return live;
  }

  onMessage(message: Message, nowMs: number): void {
    const payload = message.payload;
    if (payload.kind === 'heartbeat') this.#onHeartbeat(message, payload.eligible, nowMs);
    else if (payload.kind === 'isrChange') this.#onIsrChange(message, payload.request);
    else throw new Error(`controller got ${payload.kind}`);
  }

  /** Fences nodes whose session expired. */
  onTick(nowMs: number): void {
    for (const [id, session] of this.sessions) {
      if (!session.fenced && nowMs - session.lastHeartbeatMs > this.#config.sessionTimeoutMs) {
        this.#fence(id);
      }
    }
  }

  /** Sends the current record to every node (periodic metadata refresh). */
  broadcast(): void {
    for (const [id, session] of this.sessions) {
      this.#reply(id, session.incarnation ?? 0, null, {
        kind: 'metadata',
        state: this.state,
        registered: false,
      });
    }
  }

  #context(): ElectionContext {
    const ineligible = new Set<NodeId>();
    for (const [id, session] of this.sessions) if (!session.eligible) ineligible.add(id);
    return {
      liveNodes: this.liveNodes,
      ineligible,
      uncleanLeaderElection: this.#config.uncleanLeaderElection,
    };
  }

  #onHeartbeat(message: Message, eligible: boolean, nowMs: number): void {
    const session = this.sessions.get(message.from);
    assert(session !== undefined, `unknown node ${message.from}`);
    session.eligible = eligible;
    if (session.incarnation !== message.fromIncarnation) {
      if (session.incarnation !== null && message.fromIncarnation < session.incarnation) return;
      // A new incarnation: whatever the old one led is fenced before the new one may act.
      if (!session.fenced) this.#fence(message.from);
      session.incarnation = message.fromIncarnation;
    }
    session.lastHeartbeatMs = nowMs;
    if (session.fenced) {
      session.fenced = false;
      this.#commit(onNodeAvailable(this.state, message.from, this.#context()));
    }
    this.#reply(message.from, message.fromIncarnation, null, {
      kind: 'metadata',
      state: this.state,
      registered: true,
    });
  }

  #fence(id: NodeId): void {
    const session = this.sessions.get(id);
    assert(session !== undefined, 'session');
    session.fenced = true;
    this.#commit(onNodeUnavailable(this.state, id, this.#context()));
  }

  #onIsrChange(message: Message, request: IsrChangeRequest): void {
    const result = validateIsrChange(this.state, request, this.#context());
    if (result.ok) this.#commit(result.state);
    this.#reply(message.from, message.fromIncarnation, message.fromInstance, {
      kind: 'isrChangeResult',
      request,
      result,
    });
  }

  #commit(next: PartitionState | null): void {
    if (next === null) return;
    checkPartitionState(next);
    assert(next.partitionEpoch > this.state.partitionEpoch, 'every commit bumps the version');
    assert(next.leaderEpoch >= this.state.leaderEpoch, 'leader epochs never go back');
    this.state = next;
    this.history.push(next);
    this.broadcast();
  }

  #reply(to: NodeId, toIncarnation: number, toInstance: number | null, payload: Payload): void {
    this.#send({
      from: this.#config.id,
      to,
      fromIncarnation: 0,
      toIncarnation,
      toInstance,
      fromInstance: null,
      payload,
    });
  }
}
