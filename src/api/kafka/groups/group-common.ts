// What the group APIs share: the Kafka code of a coordinator failure, the group id check, the
// coordinator's advertised host and port (the node's one port also speaks Kafka), and the
// named bounds on the arrays of group requests.
import { TypedError } from '../../../common/index.ts';
import { GroupError } from '../../../broker/index.ts';
import { isApiErrorCode } from '../../errors.ts';
import { groupIdMax } from '../../server/routes/group-input.ts';
import { kafkaCodeByRillCode, kafkaErrorCode } from '../error-codes.ts';

/** Groups named in one request (OffsetFetch v8, DescribeGroups, FindCoordinator v4). */
export const groupsPerRequestMax = 1_000;
/** Members named in one request (SyncGroup assignments, LeaveGroup v3+). */
export const membersPerRequestMax = 10_000;
/** Protocols in one JoinGroup (the core's protocolsMax is lower and answers INVALID_REQUEST). */
export const protocolsPerJoinMax = 256;
/** Topics in one request, and partitions of one topic. */
export const topicsPerRequestMax = 10_000;
export const partitionsPerTopicMax = 100_000;

/** The Kafka error code of a failure from the group coordinator; a bug is UNKNOWN_SERVER_ERROR. */
export function groupErrorCode(error: unknown): number {
  if (error instanceof TypedError && isApiErrorCode(error.code)) {
    return kafkaCodeByRillCode[error.code];
  }
  return kafkaErrorCode.UNKNOWN_SERVER_ERROR;
}

/** INVALID_GROUP_ID for an empty or over-long group id (Rill's HTTP bound, groupIdMax). */
export function checkGroupId(group: string): void {
  if (group.length === 0 || group.length > groupIdMax) {
    throw new GroupError('INVALID_GROUP_ID', `a group id is 1-${groupIdMax} characters`);
  }
}

/** Kafka's client host form, "/address". */
export function clientHostOf(remoteAddress: string): string {
  return remoteAddress.startsWith('/') ? remoteAddress : `/${remoteAddress}`;
}
