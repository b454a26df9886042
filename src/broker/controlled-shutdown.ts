// Controlled shutdown (Kafka's): before a node stops, it asks the controller to fence it for
// good (`controlled-shutdown`, committed through Raft from any node), so the controller moves
// every partition it leads to another ISR member; the node waits, bounded, until its local
// image shows it leads none that could move, then stops. Clients see one clean leader change
// instead of a session timeout's worth of errors. A timeout or failure only costs that: the node
// stops anyway.
import type { Clock } from '../common/index.ts';
import type { MetadataLog } from '../raft/index.ts';
import type { BrokerLogger } from './broker-logger.ts';
import type { MetadataCommand } from './metadata-command.ts';
import type { MetadataImage } from './metadata-image.ts';

export interface ControlledShutdownDeps {
  readonly clock: Clock;
  readonly image: MetadataImage;
  /** The forwarding log: proposes on the controller from any node. */
  readonly metadata: MetadataLog<MetadataCommand>;
  readonly logger: BrokerLogger;
}

/**
 * Partitions `nodeId` leads in the local image that another ISR member could take over (alive,
 * not shutting down itself). The others stay with it until it exits: no one can serve them.
 */
export function movablePartitionCount(image: MetadataImage, nodeId: number): number {
  const canLead = (id: number): boolean => {
    const node = image.node(id);
    return id !== nodeId && node?.status === 'alive' && !node.shuttingDown;
  };
  let count = 0;
  for (const topic of image.topics()) {
    for (const p of topic.partitions) if (p.leader === nodeId && p.isr.some(canLead)) count += 1;
  }
  return count;
}

/**
 * Resolves true once the node leads no partition another replica could lead, false when `timeoutMs` passed first or the
 * request could not be committed. Never rejects: stopping must go on.
 */
export async function controlledShutdown(
  nodeId: number,
  brokerEpoch: number,
  timeoutMs: number,
  deps: ControlledShutdownDeps,
): Promise<boolean> {
  const { clock, image, metadata, logger } = deps;
  let finish: (moved: boolean) => void = () => {};
  const finished = new Promise<boolean>((resolve) => {
    finish = resolve;
  });
  // One deadline for the whole request: without a quorum the proposal alone could outlast it.
  const cancelTimeout = clock.schedule(timeoutMs, () => finish(false));
  const check = (): void => {
    if (movablePartitionCount(image, nodeId) === 0) finish(true);
  };
  let stopListening = (): void => {};
  metadata.propose({ type: 'controlled-shutdown', nodeId, brokerEpoch }).then(
    () => {
      stopListening = image.onApplied(check);
      check();
    },
    (error: unknown) => {
      logger.warn({ err: error }, 'controlled shutdown not committed; stopping anyway');
      finish(false);
    },
  );
  const moved = await finished;
  cancelTimeout();
  stopListening();
  logger.info({ moved, stillLeading: movablePartitionCount(image, nodeId) }, 'shutdown ready');
  return moved;
}
