// The simulator's wire: every message between nodes, the controller and clients, as data.
// Requests carry the sender's incarnation and replica instance; replies echo them, so a reply
// addressed to a crashed incarnation or a replaced replica object is dropped, as a closed HTTP
// connection would drop it.
import type { NodeId } from '../../../src/common/index.ts';
import type {
  EpochEndOffsetResponse,
  FetchResponse,
  FollowerRequest,
  IsrChangeRequest,
  IsrChangeResult,
  PartitionState,
  ReplicationErrorCode,
} from '../../../src/broker/replication/index.ts';
import type { SimRecord, SimStamp } from './memory-replica-log.ts';

/** Codes of the producer-state guard (src/broker/producer-state.ts) a produce may get. */
export type ProducerRefusalCode =
  'OUT_OF_ORDER_SEQUENCE_NUMBER' | 'INVALID_PRODUCER_EPOCH' | 'UNKNOWN_PRODUCER_ID';

export type SimBatch = readonly SimRecord[];
export type Acks = 1 | 'all';

export type Payload =
  | { readonly kind: 'heartbeat'; readonly eligible: boolean }
  | { readonly kind: 'metadata'; readonly state: PartitionState; readonly registered: boolean }
  | { readonly kind: 'isrChange'; readonly request: IsrChangeRequest }
  | {
      readonly kind: 'isrChangeResult';
      readonly request: IsrChangeRequest;
      readonly result: IsrChangeResult;
    }
  | { readonly kind: 'followerRequest'; readonly request: FollowerRequest }
  | { readonly kind: 'epochEndOffsetResponse'; readonly response: EpochEndOffsetResponse }
  | { readonly kind: 'fetchResponse'; readonly response: FetchResponse<SimBatch> }
  | {
      readonly kind: 'produce';
      readonly produceId: number;
      readonly value: string;
      readonly acks: Acks;
      /** An idempotent producer's stamp: checked by the leader's producer state. */
      readonly producer?: SimStamp;
    }
  | {
      readonly kind: 'produceResponse';
      readonly produceId: number;
      readonly result:
        | { ok: true; offset: number; leaderEpoch: number }
        | { ok: false; code: ReplicationErrorCode | ProducerRefusalCode };
    }
  | { readonly kind: 'consumerFetch'; readonly offset: number; readonly knownEpoch: number | null }
  | {
      readonly kind: 'consumerFetchResponse';
      readonly offset: number;
      readonly result:
        | { ok: true; records: SimBatch; highWatermark: number; leaderEpoch: number }
        | { ok: false; code: ReplicationErrorCode };
    };

export interface Message {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's incarnation (nodes) — replies are addressed to it. */
  readonly fromIncarnation: number;
  /** For replies: the incarnation and replica instance that asked; null for requests. */
  readonly toIncarnation: number | null;
  readonly toInstance: number | null;
  readonly fromInstance: number | null;
  readonly payload: Payload;
}
