// MetadataLog on Raft: the piece brokers use. It takes the node's storage and transport as ports
// (LevelRaftStorage and HttpRaftTransport in production, twins in the cluster simulator) and
// owns the core and driver; propose() JSON-encodes a command and resolves with the state
// machine's result once the entry is applied here; barrier() is a ReadIndex round; every
// `snapshotEntryCount` applied entries it snapshots the state machine and compacts the log.
// Invariants: entries are applied exactly once, in index order; pending proposals and reads are
// bounded (RAFT_BUSY past it).
import { assert, type Clock, type Random } from '../common/index.ts';
import { RaftError, notLeaderError } from './errors.ts';
import type { MetadataLog, MetadataStatus, StateMachine } from './metadata-log.ts';
import { raftCoreDefaults, type RestoredState } from './core/raft-config.ts';
import { RaftCore } from './core/raft-core.ts';
import { RaftDriver, type RaftDriverCounters } from './raft-driver.ts';
import type { RaftStorage } from './raft-storage.ts';
import type { RaftGroupTiming, RaftTransport } from './raft-transport.ts';
import type { ConfigChange, Entry, Index, RaftNodeId, Ready, Term } from './types.ts';

/** The member's group (voters and observers with their base URLs) and Raft timing. */
export interface RaftMetadataLogConfig extends RaftGroupTiming {
  /** Snapshot the state machine and compact the log after this many applied entries. */
  readonly snapshotEntryCount: number;
  readonly pendingProposalCountMax: number;
  readonly pendingReadCountMax: number;
  /** A barrier() not answered within this time fails with RAFT_TIMEOUT (the read was lost). */
  readonly readTimeoutMs: number;
  /** Data bytes of one command entry. */
  readonly entryBytesMax: number;
}

/**
 * Defaults for everything but identity and addresses. Timing: heartbeats go every 10 ticks
 * (500 ms) and a follower campaigns after 20–40 ticks (1–2 s) without a leader — KRaft's order
 * of magnitude. A leader whose process dies is replaced faster than that: its followers' Raft
 * streams end, a definite sign (RaftCore.peerUnreachable), and they campaign within a heartbeat.
 * A follower that misses a heartbeat starts only a pre-vote, which voters still in the
 * leader's lease refuse (raft-core #inLease), so a late heartbeat does not depose a live
 * leader. Heartbeats are most of an idle node's work (issue 7): two a second per follower.
 * Heartbeats carry no latency: commits, appends and ReadIndex rounds go out at once.
 */
export const raftMetadataLogDefaults = {
  tickMs: 50,
  electionTimeoutTicks: 20,
  heartbeatTicks: 10,
  snapshotEntryCount: 10_000,
  pendingProposalCountMax: 4_096,
  pendingReadCountMax: 1_024,
  readTimeoutMs: 5_000,
  entryBytesMax: 1 << 20,
} as const;

/**
 * Read-only hooks for simulators and tracing; they must not change the node. The cluster
 * simulator checks Raft safety through them while it drives the production path.
 */
export interface RaftMetadataLogObserver {
  /** The core start() restored, before the driver runs it. */
  onStart?(core: RaftCore): void;
  /** After every tick, step and Ready round of the driver. */
  onProgress?(core: RaftCore): void;
  /** Every committed entry of any kind, in index order, just before it is applied. */
  onCommitted?(entry: Entry): void;
}

export interface RaftMetadataLogDeps<Command> {
  readonly stateMachine: StateMachine<Command>;
  readonly clock: Clock;
  readonly random: Random;
  /** This node's durable Raft state; the log opens it in start() and closes it in stop(). */
  readonly storage: RaftStorage;
  /** Messages to and from the other members; the log closes it in stop(). */
  readonly transport: RaftTransport;
  readonly observer?: RaftMetadataLogObserver;
}

interface PendingProposal {
  readonly term: Term;
  readonly resolve: (outcome: { index: number; result: unknown }) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingRead {
  /** Known once the leader confirmed it; the read completes when applied reaches it. */
  index: Index | null;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly cancelTimeout: () => void;
}

type LogState = 'new' | 'starting' | 'running' | 'stopped';

export class RaftMetadataLog<Command> implements MetadataLog<Command> {
  readonly #config: RaftMetadataLogConfig;
  readonly #deps: RaftMetadataLogDeps<Command>;
  readonly #storage: RaftStorage;
  readonly #transport: RaftTransport;
  #core: RaftCore | null = null;
  #driver: RaftDriver | null = null;
  #state: LogState = 'new';
  #appliedIndex: Index = 0;
  #snapshotIndex: Index = 0;
  readonly #proposals = new Map<Index, PendingProposal>();
  readonly #reads = new Map<number, PendingRead>();
  #nextReadId = 1;
  readonly #listeners: ((leaderId: number | null, term: number) => void)[] = [];
  #lastLeader: { leaderId: RaftNodeId | null; term: Term } = { leaderId: null, term: 0 };
  #wasLeader = false;
  #fatal: unknown = null;

  constructor(config: RaftMetadataLogConfig, deps: RaftMetadataLogDeps<Command>) {
    assert(
      config.voters.has(config.nodeId) || config.observers.has(config.nodeId),
      'node is no member',
    );
    assert(config.snapshotEntryCount > 0, 'snapshotEntryCount must be positive');
    assert(config.pendingProposalCountMax > 0, 'pendingProposalCountMax must be positive');
    assert(config.pendingReadCountMax > 0, 'pendingReadCountMax must be positive');
    this.#config = config;
    this.#deps = deps;
    this.#storage = deps.storage;
    this.#transport = deps.transport;
  }

  /** Counters for metrics: driver rounds, persisted, applied and sent. */
  counters(): { driver: Readonly<RaftDriverCounters> | null } {
    return { driver: this.#driver?.counters ?? null };
  }

  /**
   * Calls `listener` with a peer's id when a request to it could not connect (a definite sign
   * the node is down), if the transport reports that; HttpRaftTransport does.
   */
  onPeerUnreachable(listener: (nodeId: RaftNodeId) => void): void {
    this.#transport.onPeerUnreachable?.(listener);
  }

  async start(): Promise<void> {
    assert(this.#state === 'new', `metadata log cannot start from ${this.#state}`);
    this.#state = 'starting';
    const stored = await this.#storage.open();
    const entries = await this.#storage.entries(stored.firstIndex, stored.lastIndex + 1);
    if (stored.snapshot !== null) {
      this.#deps.stateMachine.restore(stored.snapshot.data);
      this.#appliedIndex = stored.snapshot.meta.index;
      this.#snapshotIndex = stored.snapshot.meta.index;
    }
    const core = this.#createCore({ ...stored, entries });
    this.#core = core;
    this.#deps.observer?.onStart?.(core);
    this.#driver = new RaftDriver(
      { tickMs: this.#config.tickMs },
      {
        core,
        storage: this.#storage,
        transport: this.#transport,
        clock: this.#deps.clock,
        apply: (ready) => this.#apply(ready),
        afterRound: () => this.#maybeCompact(),
        onFatal: (error) => this.#onFatal(error),
        onProgress: () => this.#onProgress(),
      },
    );
    this.#state = 'running';
    // Committed entries after the snapshot come back in the first Ready rounds: the replay.
    this.#driver.start();
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    const wasStarted = this.#state !== 'new';
    this.#state = 'stopped';
    await this.#driver?.stop();
    this.#failAll(new RaftError('RAFT_STOPPED', 'the metadata log stopped'));
    await this.#transport.close();
    if (wasStarted) await this.#storage.close();
  }

  /**
   * Errors: RAFT_NOT_LEADER, RAFT_BUSY, RAFT_ENTRY_TOO_LARGE, RAFT_PROPOSAL_DROPPED (the entry
   * was replaced by a new leader's), RAFT_STOPPED, or what the state machine's apply threw.
   */
  async propose(command: Command): Promise<{ index: number; result: unknown }> {
    const core = this.#runningCore();
    if (core.status().role !== 'leader') throw notLeaderError(core.status().leaderId);
    if (this.#proposals.size >= this.#config.pendingProposalCountMax) {
      throw new RaftError('RAFT_BUSY', `${this.#proposals.size} proposals pending`);
    }
    const placed = core.propose(new TextEncoder().encode(JSON.stringify(command)));
    if (!placed.ok) throw placed.error;
    return this.#track(placed.value);
  }

  /**
   * Proposes one membership change (thesis §4.1); `url` is the address of a node being added.
   * Resolves once the change is applied here. Errors: as propose, plus
   * RAFT_CONFIG_CHANGE_PENDING and RAFT_INVALID_CONFIG_CHANGE.
   */
  async changeMembership(change: ConfigChange, url: string | null): Promise<{ index: number }> {
    const core = this.#runningCore();
    if (this.#proposals.size >= this.#config.pendingProposalCountMax) {
      throw new RaftError('RAFT_BUSY', `${this.#proposals.size} proposals pending`);
    }
    if (url !== null && change.nodeId !== this.#config.nodeId) {
      this.#transport.setPeer(change.nodeId, url);
    }
    const placed = core.proposeConfigChange(change);
    if (!placed.ok) throw placed.error;
    return this.#track(placed.value);
  }

  /** Tells the transport where a member lives (e.g. one added by another node's change). */
  setPeerAddress(nodeId: RaftNodeId, url: string): void {
    if (nodeId !== this.#config.nodeId) this.#transport.setPeer(nodeId, url);
  }

  #track(placed: { index: Index; term: Term }): Promise<{ index: number; result: unknown }> {
    const promise = new Promise<{ index: number; result: unknown }>((resolve, reject) => {
      this.#proposals.set(placed.index, { term: placed.term, resolve, reject });
    });
    this.#driver?.kick();
    return promise;
  }

  /** Errors: RAFT_NOT_LEADER (no leader known), RAFT_BUSY, RAFT_TIMEOUT, RAFT_STOPPED. */
  async barrier(): Promise<void> {
    const core = this.#runningCore();
    if (this.#reads.size >= this.#config.pendingReadCountMax) {
      throw new RaftError('RAFT_BUSY', `${this.#reads.size} reads pending`);
    }
    const requestId = this.#nextReadId;
    this.#nextReadId += 1;
    const promise = new Promise<void>((resolve, reject) => {
      const cancelTimeout = this.#deps.clock.schedule(this.#config.readTimeoutMs, () => {
        this.#reads.delete(requestId);
        reject(new RaftError('RAFT_TIMEOUT', `read barrier ${requestId} got no answer in time`));
      });
      this.#reads.set(requestId, { index: null, resolve, reject, cancelTimeout });
    });
    const asked = core.readIndex(requestId);
    if (!asked.ok) this.#settleRead(requestId, asked.error);
    this.#driver?.kick();
    return promise;
  }

  status(): MetadataStatus {
    const core = this.#core;
    if (core === null) {
      const voters = [...this.#config.voters.keys()];
      const role = this.#config.voters.has(this.#config.nodeId) ? 'follower' : 'observer';
      return {
        nodeId: this.#config.nodeId,
        role,
        term: 0,
        leaderId: null,
        commitIndex: 0,
        appliedIndex: 0,
        voters,
      };
    }
    const status = core.status();
    const nowMs = this.#deps.clock.nowMs();
    const heard = this.#driver?.lastHeardMs;
    const followers = status.progress?.map((p) => {
      const atMs = heard?.get(p.id);
      return {
        nodeId: p.id,
        matchIndex: p.match,
        lastContactMs: atMs === undefined ? null : Math.round(nowMs - atMs),
      };
    });
    return {
      nodeId: this.#config.nodeId,
      role: status.role,
      term: status.term,
      leaderId: status.leaderId,
      commitIndex: status.commitIndex,
      appliedIndex: this.#appliedIndex,
      voters: status.membership.voters,
      ...(followers === undefined ? {} : { followers }),
    };
  }

  onLeaderChange(listener: (leaderId: number | null, term: number) => void): void {
    this.#listeners.push(listener);
  }

  #createCore(restored: RestoredState): RaftCore {
    const config = this.#config;
    return new RaftCore(
      {
        ...raftCoreDefaults,
        id: config.nodeId,
        // The membership before the first config entry must be the same on every node: the
        // voters. A node outside them (config.observers holds only its own address) is no
        // member until the leader's add-observer entry, which it applies like every node.
        // Starting it as an observer already made that entry fail to apply on it alone.
        initialMembership: { voters: [...config.voters.keys()], observers: [] },
        electionTimeoutTicks: config.electionTimeoutTicks,
        heartbeatTicks: config.heartbeatTicks,
        entryBytesMax: config.entryBytesMax,
        readIndexPendingMax: config.pendingReadCountMax,
      },
      { random: this.#deps.random, restored },
    );
  }

  #runningCore(): RaftCore {
    if (this.#state !== 'running' || this.#core === null) {
      throw new RaftError(
        'RAFT_STOPPED',
        `the metadata log is ${this.#fatal === null ? this.#state : 'failed'}`,
      );
    }
    return this.#core;
  }

  #apply(ready: Ready): void {
    if (ready.snapshot !== null && ready.snapshot.meta.index > this.#appliedIndex) {
      this.#deps.stateMachine.restore(ready.snapshot.data);
      this.#appliedIndex = ready.snapshot.meta.index;
      this.#snapshotIndex = ready.snapshot.meta.index;
      for (const [index, proposal] of this.#proposals) {
        if (index > this.#appliedIndex) continue;
        this.#proposals.delete(index);
        proposal.reject(new RaftError('RAFT_PROPOSAL_DROPPED', `entry ${index} was replaced`));
      }
    }
    for (const entry of ready.committed) this.#applyEntry(entry);
    for (const readState of ready.readStates) {
      const read = this.#reads.get(readState.requestId);
      if (read !== undefined) read.index = readState.index;
    }
    for (const [requestId, read] of this.#reads) {
      if (read.index !== null && read.index <= this.#appliedIndex)
        this.#settleRead(requestId, null);
    }
  }

  #applyEntry(entry: Entry): void {
    if (entry.index <= this.#appliedIndex) return; // Already in the restored snapshot.
    assert(
      entry.index === this.#appliedIndex + 1,
      `apply ${entry.index} after ${this.#appliedIndex}`,
    );
    this.#deps.observer?.onCommitted?.(entry);
    this.#appliedIndex = entry.index;
    const proposal = this.#proposals.get(entry.index);
    this.#proposals.delete(entry.index);
    if (entry.kind !== 'command') {
      if (proposal?.term === entry.term) proposal.resolve({ index: entry.index, result: null });
      else
        proposal?.reject(
          new RaftError('RAFT_PROPOSAL_DROPPED', `entry ${entry.index} was replaced`),
        );
      return;
    }
    const command = JSON.parse(new TextDecoder().decode(entry.data)) as Command;
    let result: unknown;
    try {
      result = this.#deps.stateMachine.apply(command, entry.index);
    } catch (error) {
      // A deterministic state machine throws the same on every node, so the image stays the
      // same everywhere; the proposer learns why its command had no effect.
      if (proposal?.term === entry.term) proposal.reject(error);
      return;
    }
    if (proposal === undefined) return;
    if (proposal.term === entry.term) proposal.resolve({ index: entry.index, result });
    else
      proposal.reject(new RaftError('RAFT_PROPOSAL_DROPPED', `entry ${entry.index} was replaced`));
  }

  /** Runs between rounds, after advance: the applied entries are durable and stable. */
  async #maybeCompact(): Promise<void> {
    const core = this.#core;
    if (
      core === null ||
      this.#appliedIndex - this.#snapshotIndex < this.#config.snapshotEntryCount
    ) {
      return;
    }
    const index = this.#appliedIndex;
    const snapshot = core.compact(index, this.#deps.stateMachine.snapshot());
    await this.#storage.save({ hardState: null, snapshot, entries: [] });
    this.#snapshotIndex = index;
  }

  #settleRead(requestId: number, error: unknown): void {
    const read = this.#reads.get(requestId);
    if (read === undefined) return;
    this.#reads.delete(requestId);
    read.cancelTimeout();
    if (error === null) read.resolve();
    else read.reject(error);
  }

  #onProgress(): void {
    const core = this.#core;
    if (core === null) return;
    this.#deps.observer?.onProgress?.(core);
    const status = core.status();
    const isLeader = status.role === 'leader';
    if (this.#wasLeader && !isLeader) {
      // Raft gives no answer for these any more; the proposer retries on the new leader.
      for (const [index, proposal] of this.#proposals) {
        this.#proposals.delete(index);
        proposal.reject(notLeaderError(status.leaderId));
      }
    }
    this.#wasLeader = isLeader;
    const last = this.#lastLeader;
    // A new leader, no leader, or the same leader re-elected in a later term (a new controller
    // epoch); elections that keep raising the term without a leader are reported once.
    const changed =
      status.leaderId !== last.leaderId || (status.leaderId !== null && status.term !== last.term);
    this.#lastLeader = { leaderId: status.leaderId, term: status.term };
    if (changed) for (const listener of this.#listeners) listener(status.leaderId, status.term);
  }

  #onFatal(error: unknown): void {
    this.#fatal = error;
    this.#state = 'stopped';
    this.#failAll(new RaftError('RAFT_STOPPED', 'the Raft node failed', { cause: error }));
    // Crash rather than run on without durable state: the process restarts from disk.
    queueMicrotask(() => {
      throw error;
    });
  }

  #failAll(error: RaftError): void {
    for (const [index, proposal] of this.#proposals) {
      this.#proposals.delete(index);
      proposal.reject(error);
    }
    for (const requestId of [...this.#reads.keys()]) this.#settleRead(requestId, error);
  }
}
