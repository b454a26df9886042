// The replication simulator's controller: the production ControllerCore over the production
// MetadataImage, with a log that commits at once (it stands in for the metadata group's Raft
// leader, which never crashes here; partitions can cut it off). Heartbeats carry the node's
// incarnation: a newer one registers again (a new broker epoch), as a restarted broker does.
// ISR changes are alter-isr commands, validated by the image exactly as in production.
import { assert, toNodeId, type NodeId } from '../../../src/common/index.ts';
import { ControllerCore } from '../../../src/broker/controller-core.ts';
import type { MetadataCommand, MetadataResult } from '../../../src/broker/metadata-command.ts';
import { MetadataImage } from '../../../src/broker/metadata-image.ts';
import { toPartitionState } from '../../../src/broker/partition-record.ts';
import {
  checkPartitionState,
  type IsrChangeErrorCode,
  type IsrChangeRequest,
  type PartitionState,
} from '../../../src/broker/replication/index.ts';
import type { IsrChangeResult } from '../../../src/broker/replication/leader-replica.ts';
import type { Message, Payload } from './messages.ts';

export interface SimControllerConfig {
  readonly id: NodeId;
  readonly sessionTimeoutMs: number;
  readonly uncleanLeaderElection: boolean;
}

const topic = 'sim';
/** Passes run back to back while they still decide something (each commits at once). */
const passesPerTickMax = 8;

export class SimController {
  readonly #config: SimControllerConfig;
  readonly #send: (message: Message) => void;
  readonly #image = new MetadataImage();
  readonly #core: ControllerCore;
  #index = 0;
  /** The incarnation each node's current registration (broker epoch) belongs to. */
  readonly #incarnations = new Map<NodeId, number>();
  /** Each node's latest reported leadership eligibility. */
  readonly #eligible = new Map<NodeId, boolean>();
  /** Every committed record, for the checker and for traces. */
  readonly history: PartitionState[] = [];

  constructor(config: SimControllerConfig, initial: PartitionState, send: (m: Message) => void) {
    checkPartitionState(initial);
    this.#config = config;
    this.#send = send;
    this.#core = new ControllerCore(
      {
        nodeId: config.id,
        sessionTimeoutMs: config.sessionTimeoutMs,
        preferredLeaderIntervalMs: 0,
        voterIds: initial.replicas,
        probeIntervalMs: 0,
        ineligiblePerNodeMax: 1,
      },
      this.#image,
    );
    this.#commit({ type: 'init-cluster', clusterId: 'sim' });
    // SimNode incarnations start at 1.
    for (const id of initial.replicas) this.#register(id, 1, 0);
    const configs = { 'unclean.leader.election.enable': String(config.uncleanLeaderElection) };
    const partitions = [{ replicas: initial.replicas }];
    this.#commit({ type: 'create-topic', name: topic, topicId: 'sim', partitions, configs });
    assert(initial.leader === initial.replicas[0], 'the first replica leads at first');
    this.#core.onLeaderChange(true, 0);
  }

  get state(): PartitionState {
    const record = this.#image.partition(topic, 0);
    assert(record !== undefined, 'the partition exists');
    return toPartitionState(record);
  }

  get liveNodes(): Set<NodeId> {
    const live = new Set<NodeId>();
    for (const node of this.#image.nodes())
      if (node.status === 'alive') live.add(toNodeId(node.id));
    return live;
  }

  /** The node's latest reported leadership eligibility (true until it reports otherwise). */
  eligible(id: NodeId): boolean {
    return this.#eligible.get(id) ?? true;
  }

  onMessage(message: Message, nowMs: number): void {
    const payload = message.payload;
    if (payload.kind === 'heartbeat') this.#onHeartbeat(message, payload.eligible, nowMs);
    else if (payload.kind === 'isrChange') this.#onIsrChange(message, payload.request, nowMs);
    else throw new Error(`controller got ${payload.kind}`);
  }

  /** Runs the controller's passes: session timeouts, elections. */
  onTick(nowMs: number): void {
    for (let i = 0; i < passesPerTickMax; i += 1) {
      const pass = this.#core.pass(nowMs);
      for (const command of pass.commands) this.#commit(command, nowMs);
      this.#core.finishPass(pass, true);
      if (pass.commands.length === 0) return;
    }
  }

  /** Sends the current record to every node (periodic metadata refresh). */
  broadcast(): void {
    for (const [id, incarnation] of this.#incarnations) {
      this.#reply(id, incarnation, null, {
        kind: 'metadata',
        state: this.state,
        registered: false,
      });
    }
  }

  #onHeartbeat(message: Message, eligible: boolean, nowMs: number): void {
    const known = this.#incarnations.get(message.from);
    assert(known !== undefined, `unknown node ${message.from}`);
    if (message.fromIncarnation < known) return; // A late message of an old incarnation.
    if (message.fromIncarnation > known) {
      this.#register(message.from, message.fromIncarnation, nowMs);
    }
    this.#eligible.set(message.from, eligible);
    const node = this.#image.node(message.from);
    assert(node !== undefined, 'registered');
    const ineligible = eligible ? [] : [{ topic, partition: 0 }];
    const answer = this.#core.onHeartbeat(
      { nodeId: node.id, brokerEpoch: node.brokerEpoch, ineligible },
      nowMs,
    );
    assert(answer.ok, 'a current incarnation is answered');
    // A fenced node heard again is unfenced (and may lead) at once, as a pass would.
    this.onTick(nowMs);
    this.#reply(message.from, message.fromIncarnation, null, {
      kind: 'metadata',
      state: this.state,
      registered: true,
    });
  }

  #onIsrChange(message: Message, request: IsrChangeRequest, nowMs: number): void {
    const outcome = this.#commit(
      {
        type: 'alter-isr',
        topic,
        partition: 0,
        leaderId: request.leaderId,
        leaderEpoch: request.leaderEpoch,
        partitionEpoch: request.partitionEpoch,
        newIsr: request.newIsr,
      },
      nowMs,
    );
    const result: IsrChangeResult = outcome.ok
      ? { ok: true, state: this.state }
      : { ok: false, code: outcome.code as IsrChangeErrorCode };
    this.#reply(message.from, message.fromIncarnation, message.fromInstance, {
      kind: 'isrChangeResult',
      request,
      result,
    });
  }

  #register(id: NodeId, incarnation: number, nowMs: number): void {
    this.#incarnations.set(id, incarnation);
    const command = { nodeId: id, url: `sim://${id}`, incarnationId: `i${incarnation}` };
    this.#commit({ type: 'register-node', ...command }, nowMs);
  }

  /** Commits and applies one command at once, as the Raft leader would after a quorum. */
  #commit(command: MetadataCommand, nowMs = 0): MetadataResult {
    const before = this.#image.partition(topic, 0);
    this.#index += 1;
    const result = this.#image.apply(command, this.#index);
    this.#core.onApplied(command, result, nowMs);
    const after = this.#image.partition(topic, 0);
    if (after !== undefined && after !== before) {
      const next = toPartitionState(after);
      const previous = this.history.at(-1);
      if (previous !== undefined) {
        assert(next.partitionEpoch > previous.partitionEpoch, 'every commit bumps the version');
        assert(next.leaderEpoch >= previous.leaderEpoch, 'leader epochs never go back');
      }
      this.history.push(next);
      if (previous !== undefined) this.broadcast();
    }
    return result;
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
