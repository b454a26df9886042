// The classic consumer-group APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, ListGroups, DescribeGroups): one entry per API file, registered by
// apis.ts. Kept apart from the core APIs so that each side adds lines in its own file.
import type { KafkaApi } from './dispatcher.ts';
import { consumerGroupHeartbeatApi } from './groups/consumer-group-heartbeat.ts';
import { describeGroupsApi } from './groups/describe-groups.ts';
import { findCoordinatorApi } from './groups/find-coordinator.ts';
import { heartbeatApi } from './groups/heartbeat.ts';
import { joinGroupApi } from './groups/join-group.ts';
import { leaveGroupApi } from './groups/leave-group.ts';
import { listGroupsApi } from './groups/list-groups.ts';
import { offsetCommitApi } from './groups/offset-commit.ts';
import { offsetFetchApi } from './groups/offset-fetch.ts';
import { syncGroupApi } from './groups/sync-group.ts';

export const groupApis: readonly KafkaApi[] = [
  offsetCommitApi,
  offsetFetchApi,
  findCoordinatorApi,
  joinGroupApi,
  heartbeatApi,
  leaveGroupApi,
  syncGroupApi,
  describeGroupsApi,
  listGroupsApi,
  consumerGroupHeartbeatApi,
];
