// The replication core: the pure decisions of follower-pull replication for one partition —
// leader side (HW, ISR, acks=all, fencing), follower side (leader-epoch truncation, fetch), and
// the controller's choices over partition records. No I/O, timers or clocks: the broker's
// driver passes `nowMs`, reads the log through ReplicaLogView, sends the requests and performs
// the log commands the core returns, in order. DESIGN.md §4, §7; raft-test-anchors.md §2.
//
// How the broker drives it (one partition, one node):
//
// Metadata. On every committed PartitionState (ignore any that is not isNewerState than the
// last one applied):
//   - leader === self, same leaderEpoch as the current LeaderReplica → leader.onPartitionState.
//   - leader === self, new epoch → old role's resign()/highWatermark; then
//     new LeaderReplica(config, log, state, initialHighWatermark, nowMs). Kafka's makeLeader
//     also opens the epoch in the epoch cache at the LEO; the core is correct with or without
//     it (both are simulated). If the log gains that, truncateTo(LEO) must then drop cache
//     entries starting at the LEO too, as LeaderEpochCache.truncateFromEnd does.
//   - self ∈ replicas otherwise → keep or create a FollowerReplica (its HW from the checkpoint
//     or the resigning leader) and call follower.onLeaderChange({leaderId, leaderEpoch}).
//   - not a replica → resign and drop the partition.
//   A restarted node must not act on metadata until the controller has registered its new
//   incarnation (and so fenced the old one); otherwise it could lead an epoch whose tail it lost.
//   It registers fenced and does not lead while fenced (partition-record.ts actionableRecord);
//   the controller unfences it only once no record names it leader (issue 7).
//
// Fetch sessions (fetch-session.ts, KIP-227): the fetcher carries the 'fetch' requests of every
// partition it follows from one leader node in one session; the leader answers only the
// partitions with records, a new HW or an error, and the follower names only changed ones.
//
// Follower loop (the fetcher). After every input, perform the returned ReplicaLogCommands in
// order (truncateTo, truncateFullyAndStartAt, append as follower, checkpoint the HW), then
// `follower.nextRequest(nowMs)` and send what it returns to request.leaderId:
//   - 'epochEndOffset' → leader.onEpochEndOffsetRequest(replicaId, currentLeaderEpoch, epoch);
//     reply { requestId, ...decision } into follower.onEpochEndOffset.
//   - 'fetch' → leader.onFollowerFetch({ replicaId, fetchOffset, lastFetchedEpoch,
//     currentLeaderEpoch }, nowMs); for 'read' the route reads log.read(fetchOffset, maxBytes,
//     maxOffsetExclusive) and replies { requestId, kind: 'records', records, nextOffset,
//     highWatermark, logEndOffset }; other decisions pass through with the requestId.
//   Replies for a replaced FollowerReplica object must be dropped by the driver (request ids
//   restart per object). A node that is not the leader answers FENCED_LEADER_EPOCH,
//   UNKNOWN_LEADER_EPOCH or NOT_LEADER_OR_FOLLOWER by comparing epochs with its metadata.
//   A CRC failure found on read → follower.onLogCorruption(lastGoodOffset); report
//   follower.eligibleForLeadership to the controller (ElectionContext.ineligible).
//
// Leader loop. Produce: admitProduce(acks) → append with leaderEpoch → onAppend(lastOffset,
// nowMs) → acks=1 answers now; acks=all calls awaitHighWatermark({produceId, lastOffset,
// deadlineMs}). After every fetch, append and timer tick: pollIsrChange(nowMs) (send any
// request to the controller as AlterPartition; its answer → onIsrChangeResult(request, result)),
// takeAckOutcomes(nowMs) (answer those produces), checkpoint leader.highWatermark. Consumers:
// onConsumerRead(offset, currentLeaderEpoch) and latestOffset(); serve reads below the HW only.
//
// Log. src/log's PartitionLogApi satisfies ReplicaLogView as it is (checked at compile time in
// test/unit/broker/replication/replica-log.test.ts); PartitionLog.truncateFullyAndStartAt
// serves the command of that name. The HW checkpoint is the broker's to keep.
//
// Controller. onNodeUnavailable / onNodeAvailable on fence, unfence, controlled shutdown and
// re-registration; validateIsrChange for AlterPartition; preferredLeaderElection;
// reassignmentStep until 'done'. Each returns the next PartitionState to commit through Raft.
export {
  replicationErrorCodes,
  isrChangeErrorCodes,
  isRetriable,
  ReplicationError,
  type ReplicationErrorCode,
  type IsrChangeErrorCode,
} from './errors.ts';
export {
  checkPartitionState,
  isNewerState,
  sameMembers,
  type PartitionState,
  type IsrChangeRequest,
} from './partition-state.ts';
export type { EpochEndOffset, ReplicaLogView, ReplicaLogCommand } from './replica-log.ts';
export {
  initialProgress,
  updateProgress,
  maximalIsr,
  nextHighWatermark,
  outOfSyncFollowers,
  mayJoinIsr,
  type FollowerProgress,
  type HighWatermarkInput,
} from './isr.ts';
export {
  LeaderReplica,
  type LeaderReplicaConfig,
  type FollowerFetchRequest,
  type FollowerFetchDecision,
  type EpochErrorCode,
  type EpochEndOffsetDecision,
  type ConsumerReadDecision,
  type AckWaiter,
  type AckOutcome,
  type IsrChangeResult,
} from './leader-replica.ts';
export {
  FollowerReplica,
  type FollowerReplicaConfig,
  type LeaderChange,
  type FollowerRequest,
  type EpochEndOffsetResponse,
  type FetchResponse,
  type FollowerState,
  type FollowerCommands,
} from './follower-replica.ts';
export {
  FetchSession,
  FetchSessionBuilder,
  FetchSessionCache,
  fetchSessionErrorCodes,
  sessionPartitionKey,
  type FetchSessionCacheConfig,
  type FetchSessionErrorCode,
  type OpenSessionResult,
  type SessionFetchRequest,
  type SessionPartition,
  type SessionPartitionFetch,
  type SessionPartitionRef,
} from './fetch-session.ts';
export {
  onNodeUnavailable,
  onNodeAvailable,
  validateIsrChange,
  preferredLeaderElection,
  reassignmentStep,
  type ElectionContext,
  type IsrChangeValidation,
  type ReassignmentStep,
} from './controller-decisions.ts';
