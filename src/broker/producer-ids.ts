// Hands out producer ids on any node (POST /v1/producers, Kafka's InitProducerId): anonymous
// producers take the next id of this node's block, a block of blockSize ids committed through
// the metadata log (allocate-producer-ids) when the current one is spent; a named producer is
// one init-producer record, which bumps its epoch (fencing the previous instance) or gives it a
// new id. Ids are unique across nodes and controller failovers because the image assigns them.
import { assert } from '../common/index.ts';
import type { MetadataCommand, MetadataResult } from './metadata-command.ts';
import { producerIdLimits } from './producer-id-image.ts';

export interface ProducerIdentity {
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface ProducerIdsConfig {
  readonly nodeId: number;
  /** Ids per block (≤ producerIdLimits.blockSizeMax). */
  readonly blockSize: number;
}

export interface ProducerIdsDeps {
  /** Proposes through the metadata log; resolves once applied here. Throws mapped errors. */
  propose(command: MetadataCommand): Promise<{ index: number; result: MetadataResult }>;
}

export class ProducerIds {
  readonly #config: ProducerIdsConfig;
  readonly #deps: ProducerIdsDeps;
  #next = 0;
  #end = 0;
  /** The one block request in flight: concurrent callers share it. */
  #refill: Promise<void> | null = null;

  constructor(config: ProducerIdsConfig, deps: ProducerIdsDeps) {
    assert(
      Number.isInteger(config.blockSize) &&
        config.blockSize > 0 &&
        config.blockSize <= producerIdLimits.blockSizeMax,
      'blockSize in [1, blockSizeMax]',
    );
    this.#config = config;
    this.#deps = deps;
  }

  /**
   * A new producer identity: a fresh id at epoch 0, or for a name its next epoch.
   * Codes (the metadata log's, mapped): NOT_CONTROLLER, REQUEST_TIMED_OUT, BROKER_BUSY.
   */
  async init(name: string | null): Promise<ProducerIdentity> {
    if (name !== null) return this.#initNamed(name);
    while (this.#next >= this.#end) {
      this.#refill ??= this.#allocateBlock().finally(() => {
        this.#refill = null;
      });
      await this.#refill;
    }
    const producerId = this.#next;
    this.#next += 1;
    return { producerId, producerEpoch: 0 };
  }

  async #allocateBlock(): Promise<void> {
    const { nodeId, blockSize } = this.#config;
    const { result } = await this.#deps.propose({
      type: 'allocate-producer-ids',
      nodeId,
      count: blockSize,
    });
    assert(result.ok && result.producerId !== undefined, 'a well-formed block is allocated');
    this.#next = result.producerId;
    this.#end = result.producerId + blockSize;
  }

  async #initNamed(name: string): Promise<ProducerIdentity> {
    const { result } = await this.#deps.propose({ type: 'init-producer', name });
    // The route checked the name; ids cannot run out (2^53).
    assert(result.ok, `init-producer refused: ${result.ok ? '' : result.message}`);
    const { producerId, producerEpoch } = result;
    assert(producerId !== undefined && producerEpoch !== undefined, 'init-producer answers');
    return { producerId, producerEpoch };
  }
}
