// The follower's pull loop: for every partition this node follows, it asks the follower core
// for its next request (OffsetsForLeaderEpoch or a fetch), sends it to the leader through the
// ReplicaTransport, feeds the answer back, and performs the log commands the core returns, in
// order. Invariant: at most one request per replica object is in flight (the core allows one),
// and an answer meant for a replaced core object is dropped. Loops are keyed by the replica
// object, so a replica reopened under the same name gets its own loop while the old one ends.
import type { BrokerLogger } from './broker-logger.ts';
import type { Clock } from '../common/index.ts';
import type { Partition } from './partition.ts';
import type { EpochErrorCode, FollowerRequest } from './replication/index.ts';

/** OffsetsForLeaderEpoch on the wire. */
export interface EpochEndOffsetCall {
  readonly topic: string;
  readonly partition: number;
  readonly replicaId: number;
  readonly currentLeaderEpoch: number;
  readonly epoch: number;
}

export type EpochEndOffsetAnswer =
  | { readonly kind: 'error'; readonly code: EpochErrorCode }
  | { readonly kind: 'ok'; readonly epoch: number | null; readonly endOffset: number };

/** A follower fetch on the wire; the leader may hold it up to maxWaitMs when nothing is new. */
export interface ReplicaFetchCall {
  readonly topic: string;
  readonly partition: number;
  readonly replicaId: number;
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number | null;
  readonly currentLeaderEpoch: number;
  readonly maxBytes: number;
  readonly maxWaitMs: number;
}

export type ReplicaFetchAnswer =
  | { readonly kind: 'error'; readonly code: EpochErrorCode }
  | { readonly kind: 'diverging'; readonly epoch: number; readonly endOffset: number }
  | { readonly kind: 'outOfRange'; readonly logStartOffset: number; readonly logEndOffset: number }
  | {
      readonly kind: 'records';
      /** Whole batches as the leader stored them (offsets and epochs kept). */
      readonly records: Uint8Array;
      readonly nextOffset: number;
      readonly highWatermark: number;
      readonly logEndOffset: number;
      readonly leaderEpoch: number;
    };

/** How a follower reaches a leader (HTTP/2 in a node; in-process in tests). Rejects on any
 * transport failure or broker error other than the epoch codes, which are answers. */
export interface ReplicaTransport {
  epochEndOffset(leaderUrl: string, call: EpochEndOffsetCall): Promise<EpochEndOffsetAnswer>;
  fetch(leaderUrl: string, call: ReplicaFetchCall): Promise<ReplicaFetchAnswer>;
  close(): Promise<void>;
}

export interface ReplicaFetcherConfig {
  readonly nodeId: number;
  /** The longest a leader holds a fetch that has nothing new. */
  readonly fetchMaxWaitMs: number;
  readonly fetchMaxBytes: number;
  /** Pause before asking the core again when it has nothing to send. */
  readonly idleMs: number;
}

export const defaultReplicaFetcherConfig: Omit<ReplicaFetcherConfig, 'nodeId'> = {
  fetchMaxWaitMs: 500,
  fetchMaxBytes: 8 * 1024 * 1024,
  idleMs: 50,
};

export interface ReplicaFetcherDeps {
  readonly transport: ReplicaTransport;
  readonly clock: Clock;
  readonly logger: BrokerLogger;
  /** The URL of a node from the metadata image, or null when it is unknown. */
  readonly nodeUrl: (nodeId: number) => string | null;
}

export class ReplicaFetcher {
  readonly #config: ReplicaFetcherConfig;
  readonly #deps: ReplicaFetcherDeps;
  /** Running loops, one per followed replica object. */
  readonly #loops = new Map<Partition, Promise<void>>();
  readonly #wakers = new Map<Partition, () => void>();
  #stopped = false;

  constructor(config: ReplicaFetcherConfig, deps: ReplicaFetcherDeps) {
    this.#config = config;
    this.#deps = deps;
  }

  /** Starts the loop of a partition this node follows, or nudges the running one. */
  follow(replica: Partition): void {
    if (this.#stopped) return;
    if (this.#loops.has(replica)) {
      this.#wakers.get(replica)?.();
      return;
    }
    const loop = this.#run(replica).finally(() => {
      this.#loops.delete(replica);
      // A role change back to follower may have come while the loop was deciding to end.
      if (replica.followerReplica !== null) this.follow(replica);
    });
    this.#loops.set(replica, loop);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const wake of this.#wakers.values()) wake();
    await Promise.all(this.#loops.values());
    await this.#deps.transport.close();
  }

  async #run(replica: Partition): Promise<void> {
    const { clock, logger } = this.#deps;
    for (;;) {
      const follower = replica.followerReplica;
      if (this.#stopped || follower === null) return;
      const request = follower.nextRequest(clock.nowMs());
      const url = request === null ? null : this.#deps.nodeUrl(request.leaderId);
      if (request === null || url === null) {
        await this.#idle(replica, this.#config.idleMs);
        continue;
      }
      try {
        const commands = await this.#exchange(replica, url, request);
        if (replica.followerReplica !== follower) continue;
        await replica.performFollowerCommands(commands(follower));
      } catch (error) {
        if (replica.followerReplica === null) return;
        // The core resends once its request timeout passes; pause so a dead leader costs
        // one attempt per idle period, not a spin.
        logger.debug({ err: error, partition: replica.key }, 'replica fetch failed');
        await this.#idle(replica, this.#config.idleMs * 4);
      }
    }
  }

  /** Sends one request; returns how to feed its answer to the core that asked. */
  async #exchange(replica: Partition, url: string, request: FollowerRequest) {
    const { transport } = this.#deps;
    const identity = { topic: replica.topic, partition: replica.partition };
    const replicaId = this.#config.nodeId;
    if (request.kind === 'epochEndOffset') {
      const answer = await transport.epochEndOffset(url, {
        ...identity,
        replicaId,
        currentLeaderEpoch: request.currentLeaderEpoch,
        epoch: request.epoch,
      });
      const requestId = request.requestId;
      return (follower: NonNullable<Partition['followerReplica']>) =>
        follower.onEpochEndOffset({ ...answer, requestId });
    }
    const answer = await transport.fetch(url, {
      ...identity,
      replicaId,
      fetchOffset: request.fetchOffset,
      lastFetchedEpoch: request.lastFetchedEpoch,
      currentLeaderEpoch: request.currentLeaderEpoch,
      maxBytes: this.#config.fetchMaxBytes,
      maxWaitMs: this.#config.fetchMaxWaitMs,
    });
    const requestId = request.requestId;
    return (follower: NonNullable<Partition['followerReplica']>) =>
      follower.onFetchResponse({ ...answer, requestId });
  }

  #idle(key: Partition, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        cancel();
        this.#wakers.delete(key);
        resolve();
      };
      const cancel = this.#deps.clock.schedule(ms, done);
      this.#wakers.set(key, done);
    });
  }
}
