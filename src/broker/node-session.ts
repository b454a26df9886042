// A broker's session with the controller: it registers this process's incarnation (a record:
// the broker epoch is the registration's log index), then heartbeats every
// `heartbeatIntervalMs` with a request the controller answers from memory, naming the
// partitions whose follower may not lead now. Heartbeats append nothing to the metadata log;
// a missed one is simply sent again at the next interval.
import { assert, type Clock } from '../common/index.ts';
import type { HeartbeatAnswer, PartitionRef } from './controller-core.ts';
import type { LivenessChannel } from './controller-requests.ts';
import type { BrokerLogger } from './broker-logger.ts';
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';

export interface NodeSessionConfig {
  readonly nodeId: number;
  readonly advertisedUrl: string;
  readonly incarnationId: string;
  readonly heartbeatIntervalMs: number;
  /** Pause between attempts to register with the controller. */
  readonly registrationRetryMs: number;
}

/** The committed registration of this node, as the local metadata image holds it. */
export interface OwnRegistration {
  readonly brokerEpoch: number;
  readonly incarnationId: string;
}

/**
 * Whether a registration of another incarnation of this node committed after ours: a
 * register-node an earlier process sent (forwarded, delayed or duplicated in flight) applied
 * after this process registered. The image then names the dead incarnation, every heartbeat
 * of ours is STALE_BROKER_EPOCH and the node would stay fenced forever; registering again
 * takes the node back. A lagging image (an older registration of ours or of the old
 * incarnation, at a lower index) is not a replacement.
 */
export function registrationReplaced(
  own: OwnRegistration | undefined,
  incarnationId: string,
  brokerEpoch: number | null,
): boolean {
  if (own === undefined || brokerEpoch === null) return false;
  return own.brokerEpoch > brokerEpoch && own.incarnationId !== incarnationId;
}

export interface NodeSessionDeps {
  readonly clock: Clock;
  readonly logger: BrokerLogger;
  /** Whether the cluster still needs its init-cluster record (a fresh voter). */
  readonly needsClusterId: () => boolean;
  readonly newClusterId: () => string;
  /** Proposes through the controller; rejects with a BrokerError (retriable or not). */
  readonly propose: (command: MetadataCommand) => Promise<{ result: MetadataResult }>;
  /** Without it the node sends no heartbeats (a one-node test broker). */
  readonly liveness?: LivenessChannel;
  /** Partitions whose follower core is not eligible for leadership now. */
  readonly ineligible: () => readonly PartitionRef[];
  /** This node's registration in the local metadata image, if any. */
  readonly ownRegistration?: () => OwnRegistration | undefined;
}

export class NodeSession {
  readonly #config: NodeSessionConfig;
  readonly #deps: NodeSessionDeps;
  #brokerEpoch: number | null = null;
  #stopped = false;
  #cancelTimer: (() => void) | null = null;
  #lastAnswer: HeartbeatAnswer | null = null;
  #beating = false;

  constructor(config: NodeSessionConfig, deps: NodeSessionDeps) {
    assert(config.heartbeatIntervalMs > 0, 'heartbeatIntervalMs must be positive');
    assert(config.registrationRetryMs > 0, 'registrationRetryMs must be positive');
    this.#config = config;
    this.#deps = deps;
  }

  /** This process's registration (its broker epoch), once committed; null before. */
  get brokerEpoch(): number | null {
    return this.#brokerEpoch;
  }

  /** The controller's latest heartbeat answer, for status pages. */
  get lastAnswer(): HeartbeatAnswer | null {
    return this.#lastAnswer;
  }

  /** Registers, retrying retriable failures until stop(); resolves with the broker epoch. */
  async register(): Promise<number> {
    const { logger } = this.#deps;
    for (;;) {
      try {
        // An observer applies nothing until the controller added it, which needs it registered.
        if (this.#deps.needsClusterId()) {
          await this.#deps.propose({ type: 'init-cluster', clusterId: this.#deps.newClusterId() });
        }
        const { result } = await this.#deps.propose({
          type: 'register-node',
          nodeId: this.#config.nodeId,
          url: this.#config.advertisedUrl,
          incarnationId: this.#config.incarnationId,
        });
        assert(result.ok && result.brokerEpoch !== undefined, 'registration refused');
        this.#brokerEpoch = result.brokerEpoch;
        logger.info({ brokerEpoch: this.#brokerEpoch }, 'registered');
        return result.brokerEpoch;
      } catch (error) {
        const retriable = (error as { retriable?: unknown } | null)?.retriable === true;
        if (!retriable || this.#stopped) throw error;
        const code = (error as { code?: unknown }).code;
        logger.info({ code }, 'registration not possible yet; retrying');
        await new Promise<void>((resolve) => {
          this.#cancelTimer = this.#deps.clock.schedule(this.#config.registrationRetryMs, resolve);
        });
      }
    }
  }

  /** Heartbeats every interval until stop(). */
  startHeartbeats(): void {
    assert(this.#brokerEpoch !== null, 'heartbeats start after registration');
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = null;
  }

  #schedule(): void {
    if (this.#stopped || this.#deps.liveness === undefined) return;
    this.#cancelTimer = this.#deps.clock.schedule(this.#config.heartbeatIntervalMs, () => {
      // One heartbeat in flight at a time; a slow one does not delay the next interval's.
      if (!this.#beating) {
        this.#beating = true;
        void this.#beat().finally(() => {
          this.#beating = false;
        });
      }
      this.#schedule();
    });
  }

  async #beat(): Promise<void> {
    const { liveness, logger } = this.#deps;
    const brokerEpoch = this.#brokerEpoch;
    if (liveness === undefined || brokerEpoch === null || this.#stopped) return;
    const own = this.#deps.ownRegistration?.();
    if (registrationReplaced(own, this.#config.incarnationId, brokerEpoch)) {
      logger.warn(
        { brokerEpoch, replacedBy: own?.brokerEpoch },
        'a stale registration of an earlier incarnation replaced ours; registering again',
      );
      // A refusal is logged; the next beat sees the image again and tries again.
      await this.register().catch((error: unknown) => {
        logger.warn({ err: error }, 'registering again failed');
      });
      return;
    }
    // Sent while the broker starts too: a slow start must not cost the node its session.
    const request = {
      nodeId: this.#config.nodeId,
      brokerEpoch,
      ineligible: this.#deps.ineligible(),
    };
    try {
      const answer = await liveness.heartbeat(request);
      const wasFenced = this.#lastAnswer?.ok === true && this.#lastAnswer.fenced;
      if (!answer.ok) logger.debug({ answer }, 'heartbeat refused');
      else if (answer.fenced !== wasFenced) logger.info({ fenced: answer.fenced }, 'heartbeat');
      this.#lastAnswer = answer;
    } catch (error) {
      // The controller is unreachable (an election, a restart): the next beat tries again, and
      // the controller fences only after a whole session timeout of missed heartbeats.
      logger.debug({ err: error }, 'heartbeat not answered');
    }
  }
}
