// The controller's I/O shell: while this node leads the metadata group, it runs ControllerCore
// (controller-core.ts) on a timer and on every applied change, proposes the commands the core
// decides on this node's Raft log (a change-partition carries its partition-epoch
// compare-and-set, so a deposed controller's late proposal changes nothing), adds observers to
// the Raft membership, answers broker heartbeats from memory, and probes a node's port when
// someone reports it unreachable: a refused connection fences it at once (the definite path);
// a silent node is fenced by the session timeout. docs/operations.md describes both paths.
import { assert, type Clock } from '../common/index.ts';
import type { MetadataLog } from '../raft/index.ts';
import type { BrokerLogger } from './broker-logger.ts';
import {
  ControllerCore,
  type ControllerPass,
  type HeartbeatAnswer,
  type HeartbeatRequest,
  type ProbeOutcome,
  type ProbeRequest,
} from './controller-core.ts';
import type { ControllerEndpoint } from './controller-requests.ts';
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import type { MetadataImage } from './metadata-image.ts';

export interface ControllerConfig {
  readonly nodeId: number;
  /** broker.session.timeout.ms: a node without a heartbeat for this long is fenced. */
  readonly sessionTimeoutMs: number;
  /** How often the controller looks at sessions and partitions. */
  readonly checkIntervalMs: number;
  /** Preferred-leader elections run this often; 0 disables them. */
  readonly preferredLeaderIntervalMs: number;
  /** Voters of the metadata group; any other registering node is added as an observer. */
  readonly voterIds: readonly number[];
  /** A node is probed at most this often on unreachability reports. */
  readonly probeIntervalMs: number;
  /** Partitions one heartbeat may name as ineligible for leadership. */
  readonly ineligiblePerNodeMax: number;
}

/** What the controller needs of the Raft membership (RaftMetadataLog in production). */
export interface ControllerMembership {
  /** Tells the Raft transport where a node lives; called on every node for every registration. */
  setPeerAddress(nodeId: number, url: string): void;
  /** Adds a node as a non-voting observer (leader only). */
  addObserver(nodeId: number, url: string): Promise<void>;
}

/**
 * A TCP connect to `url`'s host and port: 'refused' only when the port definitely refused (or
 * reset) the connection; 'timeout' when nothing answered in time. Never rejects.
 */
export type NodeProbe = (url: string) => Promise<ProbeOutcome>;

export interface ControllerDeps {
  readonly clock: Clock;
  readonly image: MetadataImage;
  /** This node's own Raft log: proposals succeed only while this node leads. */
  readonly metadata: MetadataLog<MetadataCommand>;
  readonly membership: ControllerMembership;
  readonly probe: NodeProbe;
  readonly logger: BrokerLogger;
}

/** Proposals of one pass in flight at once; the rest wait for a slot. */
const passProposalsInFlightMax = 256;

export class Controller implements ControllerEndpoint {
  readonly #config: ControllerConfig;
  readonly #deps: ControllerDeps;
  readonly #core: ControllerCore;
  /** The running pass loop, if any; kicks while it runs ask it for one more pass. */
  #passing: Promise<void> | null = null;
  #passWanted = false;
  #stopped = false;
  #cancelTick: (() => void) | null = null;

  constructor(config: ControllerConfig, deps: ControllerDeps) {
    assert(config.checkIntervalMs > 0, 'checkIntervalMs must be positive');
    this.#config = config;
    this.#deps = deps;
    this.#core = new ControllerCore(config, deps.image);
    deps.image.onApplied((command, result) => this.#onApplied(command, result));
    deps.image.onRestored(() => this.#onRestored());
    deps.metadata.onLeaderChange((leaderId) => this.#onLeaderChange(leaderId));
  }

  /** True while this node leads the metadata group and acts as controller. */
  get isActive(): boolean {
    return this.#core.isActive && !this.#stopped;
  }

  start(): void {
    this.#scheduleTick();
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelTick?.();
    this.#cancelTick = null;
  }

  /** A broker heartbeat (the heartbeat route, or this node's own session). */
  handleHeartbeat(request: HeartbeatRequest): HeartbeatAnswer {
    if (this.#stopped) {
      return { ok: false, code: 'NOT_CONTROLLER', message: 'the controller stopped' };
    }
    return this.#core.onHeartbeat(request, this.#deps.clock.nowMs());
  }

  /** The metadata leader as this node knows it. */
  controllerId(): number | null {
    return this.#deps.metadata.status().leaderId;
  }

  /** Someone's connection to `nodeId` was refused or reset: probe it (rate-limited). */
  reportUnreachable(nodeId: number): void {
    if (this.#stopped) return;
    const probe = this.#core.onUnreachable(nodeId, this.#deps.clock.nowMs());
    if (probe !== null) this.#runProbe(probe);
  }

  /** Runs a pass now (or one more after the running one); resolves when it is done. */
  runPass(): Promise<void> {
    if (!this.isActive) return Promise.resolve();
    this.#passWanted = true;
    this.#passing ??= this.#passLoop().finally(() => {
      this.#passing = null;
    });
    return this.#passing;
  }

  async #passLoop(): Promise<void> {
    while (this.#passWanted && this.isActive) {
      this.#passWanted = false;
      await this.#pass();
    }
  }

  /**
   * Passes run every checkIntervalMs while this node is the active controller (sessions expire
   * by time); a node that is not does not wake for them (issue 7: idle CPU). Becoming the
   * controller arms the timer again.
   */
  #scheduleTick(): void {
    if (this.#stopped || this.#cancelTick !== null || !this.isActive) return;
    this.#cancelTick = this.#deps.clock.schedule(this.#config.checkIntervalMs, () => {
      void this.runPass().finally(() => {
        this.#cancelTick = null;
        this.#scheduleTick();
      });
    });
  }

  #kick(): void {
    if (this.isActive) void this.runPass();
  }

  #onLeaderChange(leaderId: number | null): void {
    const isLeader = leaderId === this.#config.nodeId;
    const wasActive = this.#core.isActive;
    const probes = this.#core.onLeaderChange(isLeader, this.#deps.clock.nowMs());
    if (wasActive === this.#core.isActive) return;
    if (!isLeader) {
      this.#deps.logger.info({ leaderId }, 'no longer the controller');
      return;
    }
    this.#deps.logger.info({ probes: probes.length }, 'this node is the controller');
    for (const probe of probes) this.#runProbe(probe);
    this.#kick();
    this.#scheduleTick();
  }

  #onApplied(command: MetadataCommand, result: MetadataResult): void {
    if (result.ok && command.type === 'register-node') {
      this.#deps.membership.setPeerAddress(command.nodeId, command.url);
    }
    if (this.#core.onApplied(command, result, this.#deps.clock.nowMs())) this.#kick();
  }

  #onRestored(): void {
    for (const node of this.#deps.image.nodes()) {
      this.#deps.membership.setPeerAddress(node.id, node.url);
    }
    this.#core.onRestored();
  }

  #runProbe(probe: ProbeRequest): void {
    void this.#deps.probe(probe.url).then((outcome) => {
      this.#deps.logger.info({ nodeId: probe.nodeId, outcome }, 'probed a node');
      if (this.#core.onProbeResult(probe, outcome)) {
        this.#deps.logger.warn({ nodeId: probe.nodeId }, 'fencing a node whose port refuses');
        this.#kick();
      }
    });
  }

  async #pass(): Promise<void> {
    const pass = this.#core.pass(this.#deps.clock.nowMs());
    const adds = pass.observerAdds.map(({ nodeId, url }) => this.#addObserver(nodeId, url));
    let allCommitted = true;
    for (let i = 0; i < pass.commands.length; i += passProposalsInFlightMax) {
      if (!this.isActive) return;
      const chunk = pass.commands.slice(i, i + passProposalsInFlightMax);
      const outcomes = await Promise.all(chunk.map((command) => this.#propose(command)));
      allCommitted &&= outcomes.every(Boolean);
    }
    await Promise.all(adds);
    this.#core.finishPass(pass, allCommitted);
    // A restarted node is unfenced by the pass after the one that moved its leadership.
    if (pass.again && pass.commands.length > 0 && allCommitted) this.#passWanted = true;
    if (pass.commands.length > 0) this.#logPass(pass);
  }

  #logPass(pass: ControllerPass): void {
    for (const command of pass.commands) {
      this.#deps.logger.info({ command }, 'controller proposed');
    }
  }

  async #addObserver(nodeId: number, url: string): Promise<void> {
    try {
      await this.#deps.membership.addObserver(nodeId, url);
      this.#core.onObserverAdded(nodeId);
      this.#deps.logger.info({ nodeId }, 'added an observer to the metadata group');
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      // Already a member (added by an earlier controller): nothing to do, ever.
      if (code === 'RAFT_INVALID_CONFIG_CHANGE') this.#core.onObserverAdded(nodeId);
      else this.#deps.logger.info({ err: error, nodeId }, 'observer not added yet');
    }
  }

  /** Proposes on this node's log; false when it was not committed or was refused. */
  async #propose(command: MetadataCommand): Promise<boolean> {
    try {
      const { result } = await this.#deps.metadata.propose(command);
      const outcome = result as MetadataResult;
      // A refusal is a lost race (a newer record, a new incarnation): the next pass decides.
      if (!outcome.ok) this.#deps.logger.debug({ command, outcome }, 'controller change refused');
      return outcome.ok;
    } catch (error) {
      // Not the leader any more, or busy: the next controller (or pass) decides again.
      this.#deps.logger.debug({ err: error, type: command.type }, 'controller change failed');
      return false;
    }
  }
}
