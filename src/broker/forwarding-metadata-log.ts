// A MetadataLog that accepts proposals on any node: the Raft leader (the controller) proposes
// locally; any other node forwards the command to the controller over the ControllerChannel and
// resolves once the controller applied it AND this node applied the same index, so a caller
// reads its own write from the local image. A redirect (not the leader, no leader yet, the
// controller unreachable before the request was sent) is retried on the leader Raft names, with
// backoff, until `proposeTimeoutMs`; an outcome that is unknown fails with RAFT_TIMEOUT.
import { assert, type Clock } from '../common/index.ts';
import {
  RaftError,
  notLeaderError,
  raftErrorCodes,
  type MetadataLog,
  type MetadataStatus,
  type RaftErrorCode,
} from '../raft/index.ts';
import type { ControllerChannel } from './controller-channel.ts';

export interface ForwardingMetadataLogConfig {
  readonly nodeId: number;
  /** Base URLs of the voters: the nodes that can be controller. */
  readonly voterUrls: ReadonlyMap<number, string>;
  /** A proposal, forwarding and retries included, fails after this long. */
  readonly proposeTimeoutMs: number;
  /** Pause before retrying after a redirect without a usable leader. */
  readonly retryBackoffMs: number;
  /** Forwarded proposals waiting for this node to apply their index. */
  readonly applyWaitersMax: number;
}

/** Where this node's applied index is read and watched: the MetadataImage. */
export interface AppliedIndexSource {
  readonly appliedIndex: number;
  onApplied(listener: () => void): () => void;
  onRestored(listener: () => void): () => void;
}

export interface ForwardingMetadataLogDeps<Command> {
  /** The node's own Raft log; proposes only while this node leads. */
  readonly local: MetadataLog<Command>;
  readonly channel: ControllerChannel;
  readonly clock: Clock;
  readonly applied: AppliedIndexSource;
}

interface ApplyWaiter {
  readonly index: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly cancelTimeout: () => void;
}

/** Codes after which the command was certainly not applied: safe to send again. */
const redirectCodes: ReadonlySet<string> = new Set<RaftErrorCode>([
  'RAFT_NOT_LEADER',
  'RAFT_TRANSFER_IN_PROGRESS',
  'RAFT_PROPOSAL_DROPPED',
  'RAFT_BUSY',
  'RAFT_STOPPED',
]);

/** Socket errors raised before a request left: the controller never saw the command. */
const notSentCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export class ForwardingMetadataLog<Command> implements MetadataLog<Command> {
  readonly #config: ForwardingMetadataLogConfig;
  readonly #deps: ForwardingMetadataLogDeps<Command>;
  readonly #waiters = new Set<ApplyWaiter>();
  #stopped = false;
  /** Rotates over the voters when no leader is known. */
  #nextVoter = 0;

  constructor(config: ForwardingMetadataLogConfig, deps: ForwardingMetadataLogDeps<Command>) {
    assert(config.proposeTimeoutMs > 0, 'proposeTimeoutMs must be positive');
    assert(config.retryBackoffMs > 0, 'retryBackoffMs must be positive');
    assert(config.applyWaitersMax > 0, 'applyWaitersMax must be positive');
    this.#config = config;
    this.#deps = deps;
    const settle = (): void => this.#settleWaiters();
    deps.applied.onApplied(settle);
    deps.applied.onRestored(settle);
  }

  start(): Promise<void> {
    return this.#deps.local.start();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const stopped = new RaftError('RAFT_STOPPED', 'the metadata log stopped');
    for (const waiter of [...this.#waiters]) this.#finish(waiter, stopped);
    await this.#deps.local.stop();
    await this.#deps.channel.close();
  }

  barrier(): Promise<void> {
    return this.#deps.local.barrier();
  }

  status(): MetadataStatus {
    return this.#deps.local.status();
  }

  onLeaderChange(listener: (leaderId: number | null, term: number) => void): void {
    this.#deps.local.onLeaderChange(listener);
  }

  /**
   * Errors: RAFT_NOT_LEADER (no controller reached in time), RAFT_TIMEOUT (sent, outcome
   * unknown), RAFT_STOPPED, and the non-retriable RAFT_* codes of the controller.
   */
  async propose(command: Command): Promise<{ index: number; result: unknown }> {
    const { clock } = this.#deps;
    const deadlineMs = clock.nowMs() + this.#config.proposeTimeoutMs;
    let hint: number | null = null;
    let lastRedirect: unknown = notLeaderError(null);
    for (;;) {
      if (this.#stopped) throw new RaftError('RAFT_STOPPED', 'the metadata log stopped');
      const attempt = await this.#attempt(command, hint, deadlineMs);
      if (attempt.kind === 'done') return attempt.outcome;
      hint = attempt.leaderId;
      lastRedirect = attempt.error;
      // A fresh hint names the new leader: try it at once, otherwise wait for an election.
      if (hint !== null) continue;
      if (clock.nowMs() + this.#config.retryBackoffMs > deadlineMs) throw lastRedirect;
      await new Promise<void>((resolve) => clock.schedule(this.#config.retryBackoffMs, resolve));
    }
  }

  async #attempt(
    command: Command,
    hint: number | null,
    deadlineMs: number,
  ): Promise<
    | { kind: 'done'; outcome: { index: number; result: unknown } }
    | { kind: 'redirect'; leaderId: number | null; error: unknown }
  > {
    const status = this.#deps.local.status();
    const leaderId = status.role === 'leader' ? this.#config.nodeId : (hint ?? status.leaderId);
    if (leaderId === this.#config.nodeId) {
      try {
        return { kind: 'done', outcome: await this.#deps.local.propose(command) };
      } catch (error) {
        if (!isRedirect(error)) throw error;
        return { kind: 'redirect', leaderId: leaderHint(error, this.#config.nodeId), error };
      }
    }
    const url = leaderId === null ? this.#anyVoterUrl() : this.#config.voterUrls.get(leaderId);
    if (url === undefined) return { kind: 'redirect', leaderId: null, error: notLeaderError(null) };
    let answer;
    try {
      answer = await this.#deps.channel.propose(url, command);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && notSentCodes.has(code)) {
        return { kind: 'redirect', leaderId: null, error: notLeaderError(null) };
      }
      throw new RaftError('RAFT_TIMEOUT', `controller ${leaderId} did not answer`, {
        cause: error,
      });
    }
    if (answer.ok) {
      await this.#waitApplied(answer.index, deadlineMs);
      return { kind: 'done', outcome: { index: answer.index, result: answer.result } };
    }
    const error = toRaftError(answer.code, answer.message, answer.leaderId);
    if (!redirectCodes.has(answer.code)) throw error;
    const next = answer.leaderId === leaderId ? null : answer.leaderId;
    return { kind: 'redirect', leaderId: next === this.#config.nodeId ? null : next, error };
  }

  /**
   * With no leader known (an observer before the controller added it, or during an election),
   * ask the voters in turn: a follower among them answers with the leader it knows.
   */
  #anyVoterUrl(): string | undefined {
    const others = [...this.#config.voterUrls].filter(([id]) => id !== this.#config.nodeId);
    this.#nextVoter = (this.#nextVoter + 1) % Math.max(1, others.length);
    return others[this.#nextVoter]?.[1];
  }

  /** Resolves once this node applied `index` (the forwarded command is then in the image). */
  #waitApplied(index: number, deadlineMs: number): Promise<void> {
    if (this.#deps.applied.appliedIndex >= index) return Promise.resolve();
    if (this.#waiters.size >= this.#config.applyWaitersMax) {
      return Promise.reject(new RaftError('RAFT_BUSY', `${this.#waiters.size} waiting to apply`));
    }
    const delayMs = Math.max(1, deadlineMs - this.#deps.clock.nowMs());
    return new Promise<void>((resolve, reject) => {
      const waiter: ApplyWaiter = {
        index,
        resolve,
        reject,
        cancelTimeout: this.#deps.clock.schedule(delayMs, () => {
          const message = `committed at ${index} but not applied here in time`;
          this.#finish(waiter, new RaftError('RAFT_TIMEOUT', message));
        }),
      };
      this.#waiters.add(waiter);
    });
  }

  #settleWaiters(): void {
    const applied = this.#deps.applied.appliedIndex;
    for (const waiter of [...this.#waiters]) {
      if (waiter.index <= applied) this.#finish(waiter, null);
    }
  }

  #finish(waiter: ApplyWaiter, error: unknown): void {
    if (!this.#waiters.delete(waiter)) return;
    waiter.cancelTimeout();
    if (error === null) waiter.resolve();
    else waiter.reject(error);
  }
}

/**
 * Serves `POST /internal/v1/metadata/propose` on a node: proposes `body.command` on its own Raft
 * log (never forwarding again, so a stale hint cannot loop) and answers the controller's
 * verdict as described in controller-channel.ts.
 */
export async function answerForwardedProposal<Command>(
  local: MetadataLog<Command>,
  body: unknown,
): Promise<{ status: number; body: unknown }> {
  const command = (body as { command?: unknown } | null)?.command;
  if (typeof command !== 'object' || command === null) {
    const error = { code: 'INVALID_REQUEST', message: 'the body must be {"command": {...}}' };
    return { status: 400, body: { error } };
  }
  try {
    const { index, result } = await local.propose(command as Command);
    return { status: 200, body: { index, result } };
  } catch (error) {
    if (!(error instanceof RaftError)) throw error;
    const leaderId = leaderHint(error, local.status().nodeId) ?? local.status().leaderId;
    const status = error.code === 'RAFT_NOT_LEADER' ? 421 : 503;
    return { status, body: { error: { code: error.code, message: error.message, leaderId } } };
  }
}

function isRedirect(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && redirectCodes.has(code) && code !== 'RAFT_STOPPED';
}

function leaderHint(error: unknown, self: number): number | null {
  const details = (error as { details?: { leaderId?: unknown } } | null)?.details;
  const id = details?.leaderId;
  return typeof id === 'number' && id !== self ? id : null;
}

function toRaftError(code: string, message: string, leaderId: number | null): RaftError {
  const known = (raftErrorCodes as readonly string[]).includes(code);
  // The controller answers only RAFT_* codes; anything else is a version mismatch.
  return new RaftError(known ? (code as RaftErrorCode) : 'RAFT_TIMEOUT', message, {
    details: { leaderId },
  });
}
