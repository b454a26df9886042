// One local replica of a partition: its log, its role from the metadata image, and on the
// leader the high watermark. Invariant: the HW never exceeds the durable end of this log nor
// the end offset any other ISR member reported, and it never goes backwards while leader.
// Replication (follower fetch, ISR changes) feeds `onFollowerEndOffset`; on one node the ISR
// is the leader alone and the HW follows each durable append.
import {
  batchSize,
  compressionFromAttributes,
  scanBatches,
  type BatchHeader,
  type Compression,
  type LogReadResult,
  type PartitionLogApi,
} from '../log/index.ts';
import { BrokerError } from './errors.ts';
import type { PartitionImage } from './metadata-image.ts';
import type { TopicConfig } from './topic-config.ts';

export type ReplicaRole =
  | { readonly kind: 'leader'; readonly leaderEpoch: number; readonly isr: readonly number[] }
  | { readonly kind: 'follower'; readonly leaderEpoch: number; readonly leader: number | null }
  | { readonly kind: 'closed' };

export interface AppendResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly recordCount: number;
}

export interface PartitionOffsets {
  readonly logStartOffset: number;
  readonly highWatermark: number;
  readonly logEndOffset: number;
}

export class Partition {
  readonly topic: string;
  readonly partition: number;
  readonly topicId: string;
  readonly log: PartitionLogApi;
  #role: ReplicaRole;
  #config: TopicConfig;
  #highWatermark: number;
  /** End offset of this log covered by resolved (durable per flush policy) appends. */
  #durableEndOffset: number;
  /** End offsets other replicas reported (follower fetches); read only for ISR members. */
  readonly #followerEndOffsets = new Map<number, number>();
  readonly #nodeId: number;

  constructor(
    identity: { topic: string; partition: number; topicId: string; nodeId: number },
    log: PartitionLogApi,
    config: TopicConfig,
  ) {
    this.topic = identity.topic;
    this.partition = identity.partition;
    this.topicId = identity.topicId;
    this.#nodeId = identity.nodeId;
    this.log = log;
    this.#config = config;
    this.#role = { kind: 'closed' };
    this.#durableEndOffset = log.logEndOffset;
    this.#highWatermark = log.logStartOffset;
  }

  get key(): string {
    return `${this.topic}-${this.partition}`;
  }
  get role(): ReplicaRole {
    return this.#role;
  }
  get config(): TopicConfig {
    return this.#config;
  }
  get highWatermark(): number {
    return this.#highWatermark;
  }
  offsets(): PartitionOffsets {
    return {
      logStartOffset: this.log.logStartOffset,
      highWatermark: this.#highWatermark,
      logEndOffset: this.log.logEndOffset,
    };
  }

  setConfig(config: TopicConfig): void {
    this.#config = config;
  }

  /**
   * Takes the role the image gives this node. A leader whose ISR is itself alone owns every
   * byte of its recovered log, so its HW starts at its log end; with other ISR members the HW
   * is held where it is until they report (the replication layer refines this on election).
   * Returns true when the HW moved.
   */
  applyImage(image: PartitionImage): boolean {
    const before = this.#highWatermark;
    if (image.leader === this.#nodeId) {
      this.#role = { kind: 'leader', leaderEpoch: image.leaderEpoch, isr: image.isr };
      for (const id of this.#followerEndOffsets.keys()) {
        if (!image.isr.includes(id)) this.#followerEndOffsets.delete(id);
      }
      this.#durableEndOffset = Math.max(this.#durableEndOffset, this.#highWatermark);
      if (image.isr.length === 1 && image.isr[0] === this.#nodeId) {
        this.#durableEndOffset = this.log.logEndOffset;
      }
      this.#maybeAdvanceHighWatermark();
    } else {
      this.#role = { kind: 'follower', leaderEpoch: image.leaderEpoch, leader: image.leader };
    }
    return this.#highWatermark !== before;
  }

  close(): void {
    this.#role = { kind: 'closed' };
  }

  /** The replication layer reports a follower's log end offset; returns true if the HW moved. */
  onFollowerEndOffset(replicaId: number, logEndOffset: number): boolean {
    const before = this.#highWatermark;
    // Only ISR members count toward the HW; keeping no others bounds the map by the ISR.
    if (this.#role.kind !== 'leader' || !this.#role.isr.includes(replicaId)) return false;
    this.#followerEndOffsets.set(replicaId, logEndOffset);
    this.#maybeAdvanceHighWatermark();
    return this.#highWatermark !== before;
  }

  /**
   * Validates client batches against the topic rules without decompressing them.
   * Codes: CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, INVALID_RECORD.
   */
  validateBatches(bytes: Uint8Array): { batches: readonly BatchHeader[]; recordCount: number } {
    // Framing and CRC first: a length field claiming more bytes than were sent is corruption,
    // not an oversize batch.
    const scan = scanBatches(bytes);
    if (!scan.ok)
      throw new BrokerError('CORRUPT_MESSAGE', scan.error.message, { cause: scan.error });
    for (const header of scan.batches) {
      if (batchSize(header) > this.#config.maxMessageBytes) {
        throw new BrokerError(
          'MESSAGE_TOO_LARGE',
          `a batch of ${batchSize(header)} bytes exceeds max.message.bytes ` +
            `${this.#config.maxMessageBytes} of topic ${this.topic}`,
        );
      }
    }
    if (scan.batches.length === 0) throw new BrokerError('INVALID_RECORD', 'no record batch');
    const wanted = this.#config.compressionType;
    for (const header of scan.batches) {
      if (header.recordCount === 0) throw new BrokerError('INVALID_RECORD', 'an empty batch');
      if (wanted === 'producer') continue;
      const codec = compressionFromAttributes(header.attributes);
      if (codec !== kafkaCodecName(wanted)) {
        throw new BrokerError(
          'INVALID_RECORD',
          `topic ${this.topic} has compression.type=${wanted}; the broker does not recompress`,
        );
      }
    }
    return { batches: scan.batches, recordCount: scan.recordCount };
  }

  /**
   * Appends batches that passed validateBatches; resolves once durable per the flush policy.
   * Throws the log's LogError (LOG_CLOSED, LOG_BUSY, LOG_STORAGE_ERROR, ...).
   */
  async appendAsLeader(
    bytes: Uint8Array,
    leaderEpoch: number,
    recordCount: number,
  ): Promise<AppendResult> {
    const result = await this.log.appendAsLeader(bytes, leaderEpoch);
    this.#durableEndOffset = Math.max(this.#durableEndOffset, result.lastOffset + 1);
    this.#maybeAdvanceHighWatermark();
    return { baseOffset: result.baseOffset, lastOffset: result.lastOffset, recordCount };
  }

  /** Whole batches from `offset`, never at or above the HW. */
  read(offset: number, maxBytes: number): Promise<LogReadResult> {
    return this.log.read(offset, maxBytes, this.#highWatermark);
  }

  #maybeAdvanceHighWatermark(): void {
    if (this.#role.kind !== 'leader') return;
    let candidate = this.#durableEndOffset;
    for (const id of this.#role.isr) {
      if (id === this.#nodeId) continue;
      candidate = Math.min(candidate, this.#followerEndOffsets.get(id) ?? this.#highWatermark);
    }
    if (candidate > this.#highWatermark) this.#highWatermark = candidate;
  }
}

/** compression.type names Kafka's codecs as the codec itself, except 'uncompressed'. */
function kafkaCodecName(type: Exclude<TopicConfig['compressionType'], 'producer'>): Compression {
  return type === 'uncompressed' ? 'none' : type;
}
