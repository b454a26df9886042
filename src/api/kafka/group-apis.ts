// The classic consumer-group APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, ListGroups, DescribeGroups): one entry per API file, registered by
// apis.ts. Kept apart from the core APIs so that each side adds lines in its own file.
import type { KafkaApi } from './dispatcher.ts';

export const groupApis: readonly KafkaApi[] = [];
