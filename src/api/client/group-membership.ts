// One member's side of the group protocol (docs/api.md, KIP-848 style): a loop that heartbeats
// the coordinator every heartbeatIntervalMs with the partitions the member owns, joining first
// (memberId "", epoch 0) and rejoining after UNKNOWN_MEMBER_ID / FENCED_MEMBER_EPOCH. Each
// answer's assignment is the member's target, handed to a listener that reconciles towards it;
// a fence is reported before the rejoin so the member drops its partitions first.
import { assert, type Clock, type Random } from '../../common/index.ts';
import { backoffDelayMs, type BackoffConfig } from './backoff.ts';
import { ClientError } from './client-error.ts';
import type { TopicPartition } from './consumer.ts';
import { GroupCoordinator, sleep } from './group-coordinator.ts';
import type { MetadataCache } from './metadata-cache.ts';
import type { Transport } from './transport.ts';

export type Subscription =
  | { readonly kind: 'topics'; readonly topics: readonly string[] }
  | { readonly kind: 'regex'; readonly source: string };

export type Assignor = 'uniform' | 'range';

export interface MembershipConfig {
  readonly groupId: string;
  /** group.instance.id: a static member keeps its partitions across a quick restart. */
  readonly groupInstanceId: string | null;
  readonly assignor: Assignor | null; // null: the coordinator's default
  readonly rebalanceTimeoutMs: number;
  /** Until the coordinator says otherwise (every answer carries its interval). */
  readonly heartbeatIntervalMs: number;
  readonly retryBackoff: BackoffConfig;
  readonly requestTimeoutMs: number;
  readonly coordinatorRetryMs: number;
}

export interface MembershipDeps {
  readonly transport: Transport;
  readonly metadata: MetadataCache;
  readonly clock: Clock;
  readonly random: Random;
}

export interface MembershipListener {
  /** The partitions the member may own now (a new answer replaces the previous target). */
  onTarget(target: readonly TopicPartition[]): void;
  /** The member was fenced or expired: drop every partition without committing. */
  onFenced(error: ClientError): void;
  /** A failure a rejoin cannot cure (INVALID_REQUEST, GROUP_MAX_SIZE_REACHED, …). */
  onFatal(error: ClientError): void;
}

interface HeartbeatAnswer {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs?: number;
  readonly assignment?: readonly { topic: string; partitions: readonly number[] }[] | null;
}

/** Codes after which the member rejoins; anything else not retriable is fatal. */
const rejoinCodes = new Set(['UNKNOWN_MEMBER_ID', 'FENCED_MEMBER_EPOCH']);

export class GroupMembership {
  readonly coordinator: GroupCoordinator;
  readonly #config: MembershipConfig;
  readonly #deps: MembershipDeps;
  readonly #listener: MembershipListener;
  readonly #owned: () => readonly TopicPartition[];
  #subscription: Subscription | null = null;
  /** Sent with the next heartbeat: the subscription changed or the member (re)joins. */
  #sendSubscription = true;
  #memberId = '';
  #memberEpoch = 0;
  #intervalMs: number;
  /** When the first UNRELEASED_INSTANCE_ID of a run of them was answered. */
  #unreleasedSinceMs: number | null = null;
  #running: Promise<void> | null = null;
  readonly #stop = new AbortController();
  /** Ends the wait between heartbeats early (heartbeatNow). */
  #wakeLoop = new AbortController();
  /** Resolved after the next heartbeat answer (or failure). */
  #waiters: (() => void)[] = [];

  constructor(
    config: MembershipConfig,
    deps: MembershipDeps,
    listener: MembershipListener,
    owned: () => readonly TopicPartition[],
  ) {
    assert(config.groupId.length > 0, 'groupId must not be empty');
    this.#config = config;
    this.#deps = deps;
    this.#listener = listener;
    this.#owned = owned;
    this.#intervalMs = config.heartbeatIntervalMs;
    this.coordinator = new GroupCoordinator(
      {
        groupId: config.groupId,
        retryBackoff: config.retryBackoff,
        requestTimeoutMs: config.requestTimeoutMs,
        coordinatorRetryMs: config.coordinatorRetryMs,
        responseBytesMax: 4 * 1024 * 1024,
      },
      deps,
    );
  }

  get memberId(): string {
    return this.#memberId;
  }

  get memberEpoch(): number {
    return this.#memberEpoch;
  }

  /** A joined member: commits carry its id and epoch. */
  get isMember(): boolean {
    return this.#memberId !== '' && this.#memberEpoch > 0;
  }

  subscribe(subscription: Subscription): void {
    this.#subscription = subscription;
    this.#sendSubscription = true;
    this.heartbeatNow();
  }

  /** Starts the heartbeat loop (once). */
  start(): void {
    assert(this.#subscription !== null, 'subscribe before starting the membership');
    this.#running ??= this.#loop();
  }

  /** Sends the next heartbeat without waiting for the interval (an acknowledgement). */
  heartbeatNow(): void {
    this.#wakeLoop.abort();
  }

  /** Resolves after the next heartbeat has been answered or has failed. */
  nextHeartbeat(): Promise<void> {
    if (this.#running === null) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.heartbeatNow();
    });
  }

  /**
   * Stops heartbeating and leaves: epoch -1, or -2 for a static member (its partitions wait for
   * it until the session times out). A failure to leave is not thrown: the session expires.
   */
  async leave(): Promise<void> {
    this.#stop.abort();
    await this.#running;
    this.#running = null;
    for (const resolve of this.#waiters.splice(0)) resolve();
    if (this.#memberId === '') return;
    const memberEpoch = this.#config.groupInstanceId === null ? -1 : -2;
    const body = { memberId: this.#memberId, memberEpoch, ...this.#instance() };
    try {
      await this.coordinator.request('POST', '/heartbeat', body);
    } catch (error) {
      // Safe to drop: the coordinator removes a silent member after its session timeout.
      if (!(error instanceof ClientError)) throw error;
    }
    this.#memberId = '';
    this.#memberEpoch = 0;
  }

  async #loop(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      this.#wakeLoop = new AbortController();
      let waitMs = this.#intervalMs;
      try {
        await this.#heartbeat();
        failures = 0;
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        if (!(error instanceof ClientError)) throw error;
        waitMs = this.#onFailure(error, failures);
        failures += 1;
      }
      for (const resolve of this.#waiters.splice(0)) resolve();
      if (waitMs < 0) break;
      const signal = AbortSignal.any([this.#stop.signal, this.#wakeLoop.signal]);
      await sleep(this.#deps.clock, waitMs, signal);
    }
  }

  /** The delay before the next heartbeat after `error`; -1 stops the loop (fatal). */
  #onFailure(error: ClientError, failures: number): number {
    const code = errorCode(error);
    if (rejoinCodes.has(code)) {
      const joining = this.#memberEpoch === 0;
      this.#listener.onFenced(error);
      // docs/api.md: rejoin as a new member (memberId "", epoch 0).
      this.#memberId = '';
      this.#memberEpoch = 0;
      this.#sendSubscription = true;
      return joining ? backoffDelayMs(this.#config.retryBackoff, failures, this.#deps.random) : 0;
    }
    if (code === 'UNRELEASED_INSTANCE_ID') return this.#onUnreleased(error, failures);
    const status = error.details['status'];
    const serverFault = typeof status === 'number' && status >= 500;
    if (error.retriable || serverFault || code === 'COORDINATOR_LOAD_IN_PROGRESS') {
      return backoffDelayMs(this.#config.retryBackoff, failures, this.#deps.random);
    }
    this.#listener.onFatal(error);
    return -1;
  }

  /**
   * A static member restarted right after a kill -9: its old self holds the instanceId until it
   * has been silent for two heartbeat intervals (details.retryAfterMs). Retried for up to
   * coordinatorRetryMs; after that another live process has the same instanceId: fatal.
   */
  #onUnreleased(error: ClientError, failures: number): number {
    const nowMs = this.#deps.clock.nowMs();
    this.#unreleasedSinceMs ??= nowMs;
    if (nowMs - this.#unreleasedSinceMs > this.#config.coordinatorRetryMs) {
      this.#listener.onFatal(error);
      return -1;
    }
    const hintMs = error.details['retryAfterMs'];
    const backoffMs = backoffDelayMs(this.#config.retryBackoff, failures, this.#deps.random);
    return typeof hintMs === 'number' && hintMs > 0 ? Math.max(hintMs, 50) : backoffMs;
  }

  async #heartbeat(): Promise<void> {
    const joining = this.#memberEpoch === 0;
    const sendSubscription = this.#sendSubscription || joining;
    const body = {
      memberId: this.#memberId,
      memberEpoch: this.#memberEpoch,
      ...this.#instance(),
      rebalanceTimeoutMs: this.#config.rebalanceTimeoutMs,
      ...(sendSubscription ? this.#subscriptionFields() : {}),
      ownedPartitions: joining ? [] : byTopic(this.#owned()),
    };
    this.#sendSubscription = false;
    let answer: HeartbeatAnswer;
    try {
      answer = parseAnswer(
        await this.coordinator.request('POST', '/heartbeat', body, this.#stop.signal),
      );
    } catch (error) {
      if (sendSubscription) this.#sendSubscription = true;
      throw error;
    }
    if (this.#stop.signal.aborted) return;
    this.#unreleasedSinceMs = null;
    this.#memberId = answer.memberId;
    this.#memberEpoch = answer.memberEpoch;
    if (answer.heartbeatIntervalMs !== undefined && answer.heartbeatIntervalMs > 0) {
      this.#intervalMs = answer.heartbeatIntervalMs;
    }
    if (answer.assignment !== undefined && answer.assignment !== null) {
      const target = answer.assignment.flatMap(({ topic, partitions }) =>
        partitions.map((partition) => ({ topic, partition })),
      );
      this.#listener.onTarget(target);
    }
  }

  #subscriptionFields(): Record<string, unknown> {
    const subscription = this.#subscription;
    assert(subscription !== null, 'no subscription');
    return {
      ...(subscription.kind === 'topics'
        ? { subscribedTopics: subscription.topics }
        : { subscribedTopicRegex: subscription.source }),
      ...(this.#config.assignor === null ? {} : { assignor: this.#config.assignor }),
    };
  }

  #instance(): { instanceId?: string } {
    const id = this.#config.groupInstanceId;
    return id === null ? {} : { instanceId: id };
  }
}

/**
 * The code of a broker error, also when this client's catalog does not know it yet (it then
 * arrives as UNKNOWN_SERVER_ERROR with the broker's code in details.code).
 */
export function errorCode(error: ClientError): string {
  const raw = error.details['code'];
  return error.code === 'UNKNOWN_SERVER_ERROR' && typeof raw === 'string' ? raw : error.code;
}

/** Partitions grouped per topic, as the wire has them: [{topic, partitions}]. */
export function byTopic(
  partitions: readonly TopicPartition[],
): { topic: string; partitions: number[] }[] {
  const topics = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = topics.get(topic) ?? [];
    list.push(partition);
    topics.set(topic, list);
  }
  return [...topics].map(([topic, list]) => ({ topic, partitions: list.sort((a, b) => a - b) }));
}

function parseAnswer(raw: unknown): HeartbeatAnswer {
  const answer = raw as Partial<HeartbeatAnswer> | null;
  const valid =
    answer !== null &&
    typeof answer.memberId === 'string' &&
    typeof answer.memberEpoch === 'number' &&
    (answer.assignment === undefined ||
      answer.assignment === null ||
      (Array.isArray(answer.assignment) &&
        answer.assignment.every(
          (a) =>
            typeof a.topic === 'string' &&
            Array.isArray(a.partitions) &&
            a.partitions.every(Number.isInteger),
        )));
  if (!valid) throw new ClientError('CLIENT_BAD_RESPONSE', 'heartbeat: unreadable answer');
  return answer as HeartbeatAnswer;
}
