// The typed commands of the metadata log (DESIGN.md §5) and their byte form. A command is a
// plain JSON value proposed by one node and applied by every node's MetadataImage in log order;
// anything decided by a clock or a random draw (ids, replica placement) is decided by the
// proposer and carried in the command, so apply stays deterministic. Liveness is no record:
// heartbeats are requests the controller answers from memory (controller-core.ts); only state
// changes (register, fence, unfence, controlled shutdown) are. A `node-heartbeat` record left
// in a log by an older version is accepted and ignored.

/** One partition's replica set, leader first; computed by the proposer (replica-placement.ts). */
export interface PartitionAssignment {
  readonly replicas: readonly number[];
}

export type MetadataCommand =
  | { readonly type: 'init-cluster'; readonly clusterId: string }
  | {
      readonly type: 'register-node';
      readonly nodeId: number;
      readonly url: string;
      /**
       * Random per process start: a restarted node registers again and gets a new epoch, fenced
       * until the controller has moved its old incarnation's leadership away (issue 7).
       */
      readonly incarnationId: string;
    }
  | { readonly type: 'fence-node'; readonly nodeId: number; readonly brokerEpoch: number }
  | { readonly type: 'unfence-node'; readonly nodeId: number; readonly brokerEpoch: number }
  /** The node is stopping: fenced, and never unfenced by heartbeats of this incarnation. */
  | { readonly type: 'controlled-shutdown'; readonly nodeId: number; readonly brokerEpoch: number }
  | {
      readonly type: 'create-topic';
      readonly name: string;
      readonly topicId: string;
      readonly partitions: readonly PartitionAssignment[];
      readonly configs: Readonly<Record<string, string>>;
    }
  | { readonly type: 'delete-topic'; readonly name: string }
  | {
      readonly type: 'change-partition';
      readonly topic: string;
      readonly partition: number;
      /** Compare-and-set: applied only if the partition's epoch is still this one. */
      readonly expectedPartitionEpoch: number;
      readonly leader: number | null;
      readonly leaderEpoch: number;
      readonly replicas: readonly number[];
      readonly isr: readonly number[];
    }
  | {
      /**
       * A partition leader's ISR change (Kafka's AlterPartition), validated at apply time by
       * validateIsrChange against the committed record: leader and leaderEpoch must be the
       * current ones (else FENCED_LEADER_EPOCH), partitionEpoch the current one (compare-and-set,
       * else INVALID_UPDATE_VERSION), newIsr must hold the leader and only replicas
       * (INVALID_REQUEST), and members added must be alive (INELIGIBLE_REPLICA).
       */
      readonly type: 'alter-isr';
      readonly topic: string;
      readonly partition: number;
      readonly leaderId: number;
      readonly leaderEpoch: number;
      readonly partitionEpoch: number;
      readonly newIsr: readonly number[];
    }
  | {
      /**
       * Starts (or, with null, ends) moving a partition to `targetReplicas`; the controller
       * then steps it through reassignmentStep with change-partition commands.
       */
      readonly type: 'reassign-partition';
      readonly topic: string;
      readonly partition: number;
      readonly targetReplicas: readonly number[] | null;
    }
  | {
      /**
       * A block of `count` producer ids for `nodeId` to hand out (Kafka's AllocateProducerIds).
       * Apply takes them from the image's next id, so blocks never overlap, whichever node
       * proposed or led; the result carries the first id.
       */
      readonly type: 'allocate-producer-ids';
      readonly nodeId: number;
      readonly count: number;
    }
  | {
      /**
       * A named producer (Kafka's transactionalId) starts: a known name gets its epoch bumped,
       * fencing the instance before it; a new one gets a fresh id at epoch 0. The result carries
       * the id and epoch. Names are bounded by producerNamesMax (the oldest started is dropped).
       */
      readonly type: 'init-producer';
      readonly name: string;
    }
  | {
      readonly type: 'set-topic-config';
      readonly topic: string;
      /** A null value removes the override, so the default applies again. */
      readonly configs: Readonly<Record<string, string | null>>;
    };

export type MetadataCommandType = MetadataCommand['type'];

/** The type of the heartbeat record older versions wrote: applied as a no-op. */
export const retiredHeartbeatType = 'node-heartbeat';

/** Why apply refused a command. Each is a Kafka name except INVALID_COMMAND (a malformed
 * command, which only a bug or a hand-crafted log can produce) and UNKNOWN_NODE. */
export type MetadataRejectCode =
  | 'INVALID_COMMAND'
  | 'UNKNOWN_NODE'
  | 'STALE_BROKER_EPOCH'
  | 'INVALID_UPDATE_VERSION'
  | 'FENCED_LEADER_EPOCH'
  | 'INVALID_REQUEST'
  | 'INELIGIBLE_REPLICA'
  | 'UNKNOWN_TOPIC_OR_PARTITION'
  | 'TOPIC_ALREADY_EXISTS'
  | 'INVALID_TOPIC_EXCEPTION'
  | 'INVALID_PARTITIONS'
  | 'INVALID_REPLICATION_FACTOR'
  | 'INVALID_CONFIG';

export type MetadataResult =
  | {
      readonly ok: true;
      readonly brokerEpoch?: number;
      readonly partitionEpoch?: number;
      /** allocate-producer-ids: the block's first id; init-producer: the producer's id. */
      readonly producerId?: number;
      readonly producerEpoch?: number;
    }
  | { readonly ok: false; readonly code: MetadataRejectCode; readonly message: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeMetadataCommand(command: MetadataCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/** Decodes bytes from the log. The result is unchecked: MetadataImage.apply validates it. */
export function decodeMetadataCommand(bytes: Uint8Array): MetadataCommand {
  return JSON.parse(decoder.decode(bytes)) as MetadataCommand;
}
