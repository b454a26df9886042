// The classic group protocol's decisions, pure (Kafka's JoinGroup/SyncGroup/Heartbeat/LeaveGroup,
// client-side assignment): the coordinator gathers the members in a join phase, picks a protocol
// every member supports and a leader, gives the leader every member's metadata, and relays the
// leader's assignment to each member in the sync phase. JoinGroup and SyncGroup wait: the caller
// passes a token and gets the reply back, now or from a later call or tick, as ClassicReply.
// Invariant: a member waits in at most one join and one sync; members + pending ids of a group
// never exceed groupMembersMax. The group's offsets and kind live in GroupCoordinatorCore.
import { assert, type Random, randomId } from '../../common/index.ts';
import {
  classicValue,
  newClassicGroup,
  type ClassicGroup,
  type ClassicJoinAnswer,
  type ClassicMember,
  type ClassicProtocol,
  type ClassicReply,
} from './classic-group-state.ts';
import type { GroupCoordinatorCore } from './group-coordinator-core.ts';
import { GroupError } from './group-errors.ts';
import type { GroupRecord } from './group-records.ts';
import type { GroupState } from './group-state.ts';

export interface ClassicGroupConfig {
  /** group.min.session.timeout.ms / group.max.session.timeout.ms: INVALID_SESSION_TIMEOUT. */
  readonly sessionTimeoutMsMin: number;
  readonly sessionTimeoutMsMax: number;
  /** group.initial.rebalance.delay.ms: a rebalance from Empty waits this for more members. */
  readonly initialRebalanceDelayMs: number;
  /** Protocols in one JoinGroup; more answer INVALID_REQUEST. */
  readonly protocolsMax: number;
  /** Bytes of one protocol's metadata or one member's assignment; more: INVALID_REQUEST. */
  readonly metadataBytesMax: number;
}

export const defaultClassicGroupConfig: ClassicGroupConfig = {
  sessionTimeoutMsMin: 6_000,
  sessionTimeoutMsMax: 1_800_000,
  initialRebalanceDelayMs: 3_000,
  protocolsMax: 16,
  metadataBytesMax: 64 * 1024,
};

export interface ClassicJoinRequest {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly protocolType: string;
  readonly protocols: readonly ClassicProtocol[];
  /** JoinGroup v4+: an unknown dynamic member first gets MEMBER_ID_REQUIRED with its id. */
  readonly requireKnownMemberId: boolean;
}

export interface ClassicSyncRequest {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly generationId: number;
  /** SyncGroup v5+: checked against the group's when given. */
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignments: readonly { readonly memberId: string; readonly assignment: Uint8Array }[];
}

export interface ClassicMemberIdentity {
  readonly memberId: string;
  readonly instanceId: string | null;
}

/** Replies to deliver (after appending the records) and the records to append first. */
export interface ClassicOutcome {
  readonly records: GroupRecord[];
  readonly replies: ClassicReply[];
}

type Run = ClassicOutcome & { readonly nowMs: number };

export class ClassicGroupCore {
  readonly #config: ClassicGroupConfig;
  readonly #random: Random;
  readonly #groups: GroupCoordinatorCore;

  constructor(config: ClassicGroupConfig, random: Random, groups: GroupCoordinatorCore) {
    assert(config.sessionTimeoutMsMin > 0, 'sessionTimeoutMsMin must be positive');
    assert(config.sessionTimeoutMsMax >= config.sessionTimeoutMsMin, 'session timeout range');
    assert(config.protocolsMax > 0, 'protocolsMax must be positive');
    this.#config = config;
    this.#random = random;
    this.#groups = groups;
  }

  /**
   * JoinGroup. The reply for `token` comes in this outcome or a later one. Throws (nothing
   * changed): INVALID_SESSION_TIMEOUT, INVALID_REQUEST, INCONSISTENT_GROUP_PROTOCOL,
   * UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED, BROKER_BUSY.
   * Replies with MEMBER_ID_REQUIRED (details.memberId) to a new dynamic member on v4+.
   */
  join(
    groupId: string,
    offsetsPartition: number,
    request: ClassicJoinRequest,
    token: number,
    nowMs: number,
  ): ClassicOutcome {
    this.#checkJoin(request);
    const run: Run = { records: [], replies: [], nowMs };
    const existing = this.#groups.group(groupId);
    const current = existing?.classic ?? null;
    if (current !== null && current.members.size + current.pending.size > 0) {
      this.#checkProtocols(current, request);
    }
    if (request.memberId !== '' && !this.#isKnown(current, request.memberId)) {
      throw new GroupError('UNKNOWN_MEMBER_ID', `${request.memberId} is not in ${groupId}`);
    }
    const state = this.#groups.claimGroup(groupId, offsetsPartition, 'classic', run.records);
    state.classic ??= newClassicGroup(request.protocolType);
    const group = state.classic;
    if (group.members.size + group.pending.size === 0) group.protocolType = request.protocolType;
    if (request.memberId === '') this.#joinUnknown(state, group, request, token, run);
    else this.#joinKnown(state, group, request, token, run);
    return run;
  }

  #checkJoin(request: ClassicJoinRequest): void {
    const { sessionTimeoutMsMin: min, sessionTimeoutMsMax: max } = this.#config;
    const session = request.sessionTimeoutMs;
    if (!Number.isSafeInteger(session) || session < min || session > max) {
      throw new GroupError('INVALID_SESSION_TIMEOUT', `sessionTimeoutMs must be ${min}-${max}`);
    }
    if (request.protocolType === '' || request.protocols.length === 0) {
      throw new GroupError('INCONSISTENT_GROUP_PROTOCOL', 'a join names a protocol type and one');
    }
    if (request.protocols.length > this.#config.protocolsMax) {
      throw new GroupError('INVALID_REQUEST', `at most ${this.#config.protocolsMax} protocols`, {
        limit: 'protocolsMax',
      });
    }
    for (const protocol of request.protocols) {
      if (protocol.metadata.length > this.#config.metadataBytesMax) {
        throw new GroupError('INVALID_REQUEST', `protocol metadata exceeds the limit`, {
          limit: 'metadataBytesMax',
        });
      }
    }
  }

  #checkProtocols(group: ClassicGroup, request: ClassicJoinRequest): void {
    const others = [...group.members.values()].filter((m) => m.memberId !== request.memberId);
    const supported = request.protocols.some((p) =>
      others.every((m) => m.protocols.some((q) => q.name === p.name)),
    );
    if (request.protocolType !== group.protocolType || !supported) {
      throw new GroupError(
        'INCONSISTENT_GROUP_PROTOCOL',
        `the group's members use protocol type ${group.protocolType} and other protocols`,
      );
    }
  }

  #isKnown(group: ClassicGroup | null, memberId: string): boolean {
    return group !== null && (group.members.has(memberId) || group.pending.has(memberId));
  }

  #joinUnknown(
    state: GroupState,
    group: ClassicGroup,
    request: ClassicJoinRequest,
    token: number,
    run: Run,
  ): void {
    const holder = request.instanceId === null ? undefined : this.#byInstance(group, request);
    if (holder !== undefined) {
      this.#replaceStatic(state, group, holder, request, token, run);
      return;
    }
    this.#checkRoom(state, group);
    const prefix = request.instanceId ?? request.clientId;
    const memberId = `${prefix}-${this.#newId(group)}`;
    if (request.instanceId === null && request.requireKnownMemberId) {
      // KIP-394: the id comes back first, so a member that never rejoins costs one pending id.
      group.pending.set(memberId, run.nowMs + request.sessionTimeoutMs);
      run.replies.push({
        token,
        kind: 'error',
        error: new GroupError('MEMBER_ID_REQUIRED', 'rejoin with this member id', { memberId }),
      });
      return;
    }
    this.#addMember(state, group, memberId, request, token, run);
  }

  #joinKnown(
    state: GroupState,
    group: ClassicGroup,
    request: ClassicJoinRequest,
    token: number,
    run: Run,
  ): void {
    const { memberId, instanceId } = request;
    if (group.pending.delete(memberId)) {
      this.#addMember(state, group, memberId, request, token, run);
      return;
    }
    const member = this.#member(group, { memberId, instanceId });
    const changed = !sameProtocols(member.protocols, request.protocols);
    updateMember(member, request, this.#rebalanceTimeout(request), run.nowMs);
    if (group.state === 'PreparingRebalance') {
      this.#park(member, 'join', token, run);
      this.#maybeCompleteJoin(state, group, run);
    } else if (
      !changed &&
      (group.state === 'CompletingRebalance' ||
        (group.state === 'Stable' && group.leaderId !== memberId))
    ) {
      run.replies.push({ token, kind: 'join', answer: this.#joinAnswer(group, member) });
    } else {
      this.#park(member, 'join', token, run);
      this.#prepareRebalance(state, group, run);
    }
  }

  #replaceStatic(
    state: GroupState,
    group: ClassicGroup,
    old: ClassicMember,
    request: ClassicJoinRequest,
    token: number,
    run: Run,
  ): void {
    const memberId = `${request.instanceId ?? ''}-${this.#newId(group)}`;
    const fenced = (): GroupError =>
      new GroupError('FENCED_INSTANCE_ID', `${old.instanceId ?? ''} rejoined as ${memberId}`);
    if (old.joinToken !== null)
      run.replies.push({ token: old.joinToken, kind: 'error', error: fenced() });
    if (old.syncToken !== null)
      run.replies.push({ token: old.syncToken, kind: 'error', error: fenced() });
    group.members.delete(old.memberId);
    const member: ClassicMember = { ...old, memberId, joinToken: null, syncToken: null };
    const changed = !sameProtocols(old.protocols, request.protocols);
    updateMember(member, request, this.#rebalanceTimeout(request), run.nowMs);
    group.members.set(memberId, member);
    const wasLeader = group.leaderId === old.memberId;
    if (wasLeader) group.leaderId = memberId;
    if (group.state === 'Stable' && !changed) {
      // KIP-345: a static member's restart keeps its assignment and causes no rebalance. A
      // restarted leader is told the old leader id (as Kafka answers), so it acts as a
      // follower: a stable group would not pass on an assignment it made.
      this.#persist(state, group, run);
      const answer = this.#joinAnswer(group, member);
      const asFollower = wasLeader ? { ...answer, leaderId: old.memberId, members: [] } : answer;
      run.replies.push({ token, kind: 'join', answer: asFollower });
      return;
    }
    this.#park(member, 'join', token, run);
    if (group.state === 'PreparingRebalance') this.#maybeCompleteJoin(state, group, run);
    else this.#prepareRebalance(state, group, run);
  }

  #byInstance(group: ClassicGroup, who: ClassicMemberIdentity): ClassicMember | undefined {
    for (const member of group.members.values()) {
      if (member.instanceId === who.instanceId) return member;
    }
    return undefined;
  }

  #checkRoom(state: GroupState, group: ClassicGroup): void {
    const max = this.#groups.config.groupMembersMax;
    if (group.members.size + group.pending.size >= max) {
      throw new GroupError('GROUP_MAX_SIZE_REACHED', `group ${state.groupId} has ${max} members`, {
        limit: 'groupMembersMax',
      });
    }
  }

  #newId(group: ClassicGroup): string {
    for (;;) {
      const id = randomId(this.#random);
      if (![...group.members.keys(), ...group.pending.keys()].some((m) => m.endsWith(id))) {
        return id;
      }
    }
  }

  #rebalanceTimeout(request: ClassicJoinRequest): number {
    const max = this.#groups.config.rebalanceTimeoutMsMax;
    const asked = request.rebalanceTimeoutMs > 0 ? request.rebalanceTimeoutMs : max;
    return Math.min(asked, max);
  }

  #addMember(
    state: GroupState,
    group: ClassicGroup,
    memberId: string,
    request: ClassicJoinRequest,
    token: number,
    run: Run,
  ): void {
    group.joinSeq += 1;
    const member: ClassicMember = {
      memberId,
      instanceId: request.instanceId,
      clientId: request.clientId,
      clientHost: request.clientHost,
      sessionTimeoutMs: request.sessionTimeoutMs,
      rebalanceTimeoutMs: this.#rebalanceTimeout(request),
      protocols: request.protocols,
      assignment: new Uint8Array(),
      lastHeartbeatMs: run.nowMs,
      joinToken: token,
      syncToken: null,
      joinedSeq: group.joinSeq,
    };
    group.members.set(memberId, member);
    if (group.state === 'PreparingRebalance') {
      if (group.initialDelayEndMs !== null) {
        const delay = this.#config.initialRebalanceDelayMs;
        group.deadlineMs = Math.min(run.nowMs + delay, group.initialDelayEndMs);
      }
      this.#maybeCompleteJoin(state, group, run);
    } else {
      this.#prepareRebalance(state, group, run);
    }
  }

  /** Parks a join or sync; a request it replaces is told REBALANCE_IN_PROGRESS. */
  #park(member: ClassicMember, kind: 'join' | 'sync', token: number, run: Run): void {
    const old = kind === 'join' ? member.joinToken : member.syncToken;
    if (old !== null && old !== token) {
      const error = new GroupError('REBALANCE_IN_PROGRESS', 'a newer request replaced this one');
      run.replies.push({ token: old, kind: 'error', error });
    }
    if (kind === 'join') member.joinToken = token;
    else member.syncToken = token;
  }

  #prepareRebalance(state: GroupState, group: ClassicGroup, run: Run): void {
    if (group.state === 'CompletingRebalance') {
      for (const member of group.members.values()) this.#failSync(member, run);
    }
    const rebalanceMs = Math.max(
      0,
      ...[...group.members.values()].map((m) => m.rebalanceTimeoutMs),
    );
    if (group.state === 'Empty' && this.#config.initialRebalanceDelayMs > 0) {
      group.initialDelayEndMs = run.nowMs + rebalanceMs;
      group.deadlineMs = Math.min(
        run.nowMs + this.#config.initialRebalanceDelayMs,
        group.initialDelayEndMs,
      );
    } else {
      group.initialDelayEndMs = null;
      group.deadlineMs = run.nowMs + rebalanceMs;
    }
    group.state = 'PreparingRebalance';
    this.#maybeCompleteJoin(state, group, run);
  }

  #failSync(member: ClassicMember, run: Run): void {
    if (member.syncToken === null) return;
    const error = new GroupError('REBALANCE_IN_PROGRESS', 'the group is rebalancing: rejoin');
    run.replies.push({ token: member.syncToken, kind: 'error', error });
    member.syncToken = null;
  }

  /** Ends the join phase once every member (and pending id) has joined, or at the deadline. */
  #maybeCompleteJoin(state: GroupState, group: ClassicGroup, run: Run, expired = false): void {
    if (group.state !== 'PreparingRebalance') return;
    if (!expired) {
      if (group.initialDelayEndMs !== null || group.pending.size > 0) return;
      for (const member of group.members.values()) if (member.joinToken === null) return;
    }
    for (const member of [...group.members.values()]) {
      // Kafka: dynamic members that did not rejoin are gone; static ones keep their place.
      if (member.joinToken === null && member.instanceId === null) {
        group.members.delete(member.memberId);
      }
    }
    group.generationId += 1;
    group.initialDelayEndMs = null;
    if (group.members.size === 0) {
      group.state = 'Empty';
      group.protocolName = null;
      group.leaderId = null;
      this.#persist(state, group, run);
      this.#forgetIfEmpty(state, run);
      return;
    }
    group.protocolName = selectProtocol(group);
    group.leaderId = this.#chooseLeader(group);
    group.state = 'CompletingRebalance';
    group.deadlineMs =
      run.nowMs + Math.max(...[...group.members.values()].map((m) => m.rebalanceTimeoutMs));
    for (const member of group.members.values()) {
      member.assignment = new Uint8Array();
      if (member.joinToken === null) continue;
      run.replies.push({
        token: member.joinToken,
        kind: 'join',
        answer: this.#joinAnswer(group, member),
      });
      member.joinToken = null;
      member.lastHeartbeatMs = run.nowMs;
    }
  }

  #chooseLeader(group: ClassicGroup): string {
    const leader = group.leaderId === null ? undefined : group.members.get(group.leaderId);
    if (leader !== undefined && leader.joinToken !== null) return leader.memberId;
    const joined = [...group.members.values()].sort((a, b) => a.joinedSeq - b.joinedSeq);
    const first = joined.find((m) => m.joinToken !== null) ?? joined[0];
    assert(first !== undefined, 'a leader among the members');
    return first.memberId;
  }

  #joinAnswer(group: ClassicGroup, member: ClassicMember): ClassicJoinAnswer {
    const name = group.protocolName;
    assert(name !== null && group.leaderId !== null, 'a join answer needs a generation');
    const members =
      member.memberId !== group.leaderId
        ? []
        : [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            instanceId: m.instanceId,
            metadata: m.protocols.find((p) => p.name === name)?.metadata ?? new Uint8Array(),
          }));
    return {
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: name,
      leaderId: group.leaderId,
      memberId: member.memberId,
      members,
    };
  }

  /**
   * SyncGroup. Throws: UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION,
   * INCONSISTENT_GROUP_PROTOCOL, REBALANCE_IN_PROGRESS, INVALID_REQUEST.
   */
  sync(groupId: string, request: ClassicSyncRequest, token: number, nowMs: number): ClassicOutcome {
    const run: Run = { records: [], replies: [], nowMs };
    const { state, group, member } = this.#checkGeneration(groupId, request, request.generationId);
    if (
      (request.protocolType !== null && request.protocolType !== group.protocolType) ||
      (request.protocolName !== null && request.protocolName !== group.protocolName)
    ) {
      throw new GroupError('INCONSISTENT_GROUP_PROTOCOL', 'not the protocol of this generation');
    }
    if (group.state === 'PreparingRebalance') {
      throw new GroupError('REBALANCE_IN_PROGRESS', 'the group is rebalancing: rejoin');
    }
    member.lastHeartbeatMs = nowMs;
    if (group.state === 'Stable') {
      run.replies.push({ token, kind: 'sync', answer: this.#syncAnswer(group, member) });
      return run;
    }
    if (member.memberId === group.leaderId) {
      for (const entry of request.assignments) {
        if (entry.assignment.length > this.#config.metadataBytesMax) {
          throw new GroupError('INVALID_REQUEST', 'an assignment exceeds the limit', {
            limit: 'metadataBytesMax',
          });
        }
      }
    }
    this.#park(member, 'sync', token, run);
    if (member.memberId !== group.leaderId) return run;
    const given = new Map(request.assignments.map((a) => [a.memberId, a.assignment]));
    for (const m of group.members.values())
      m.assignment = given.get(m.memberId) ?? new Uint8Array();
    group.state = 'Stable';
    this.#persist(state, group, run);
    for (const m of group.members.values()) {
      if (m.syncToken === null) continue;
      run.replies.push({ token: m.syncToken, kind: 'sync', answer: this.#syncAnswer(group, m) });
      m.syncToken = null;
    }
    return run;
  }

  #syncAnswer(group: ClassicGroup, member: ClassicMember) {
    assert(group.protocolName !== null, 'a sync answer needs a generation');
    return {
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      assignment: member.assignment,
    };
  }

  /** The group, its member and a matching generation, or the code to answer. */
  #checkGeneration(
    groupId: string,
    who: ClassicMemberIdentity,
    generationId: number,
  ): { state: GroupState; group: ClassicGroup; member: ClassicMember } {
    const state = this.#groups.group(groupId);
    const group = state?.classic ?? null;
    if (state === undefined || group === null || group.state === 'Empty') {
      throw new GroupError('UNKNOWN_MEMBER_ID', `group ${groupId} has no classic members`);
    }
    const member = this.#member(group, who);
    if (generationId !== group.generationId) {
      throw new GroupError(
        'ILLEGAL_GENERATION',
        `generation ${generationId} is not ${group.generationId}`,
      );
    }
    return { state, group, member };
  }

  /** The member, or UNKNOWN_MEMBER_ID; FENCED_INSTANCE_ID when its instance id is not its. */
  #member(group: ClassicGroup, who: ClassicMemberIdentity): ClassicMember {
    if (who.instanceId !== null) {
      const holder = this.#byInstance(group, who);
      if (holder !== undefined && holder.memberId !== who.memberId) {
        throw new GroupError('FENCED_INSTANCE_ID', `${who.instanceId} is held by another member`);
      }
    }
    const member = group.members.get(who.memberId);
    if (member === undefined) {
      throw new GroupError('UNKNOWN_MEMBER_ID', `member ${who.memberId} is not in the group`);
    }
    return member;
  }

  /**
   * Heartbeat: REBALANCE_IN_PROGRESS during a join phase (rejoin), else NONE. Throws:
   * UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, ILLEGAL_GENERATION.
   */
  heartbeat(
    groupId: string,
    who: ClassicMemberIdentity,
    generationId: number,
    nowMs: number,
  ): 'NONE' | 'REBALANCE_IN_PROGRESS' {
    const { group, member } = this.#checkGeneration(groupId, who, generationId);
    member.lastHeartbeatMs = nowMs;
    return group.state === 'PreparingRebalance' ? 'REBALANCE_IN_PROGRESS' : 'NONE';
  }

  /**
   * LeaveGroup (v3+: a batch). Per member: null (left), UNKNOWN_MEMBER_ID or
   * FENCED_INSTANCE_ID; a static member may be named by its instance id alone.
   */
  leave(
    groupId: string,
    members: readonly ClassicMemberIdentity[],
    nowMs: number,
  ): ClassicOutcome & { answer: (GroupError | null)[] } {
    const run: Run = { records: [], replies: [], nowMs };
    const state = this.#groups.group(groupId);
    const group = state?.classic ?? null;
    const answer = members.map((who): GroupError | null => {
      if (group === null) return new GroupError('UNKNOWN_MEMBER_ID', `no group ${groupId}`);
      try {
        const found = this.#leaving(group, who);
        if (found === 'pending') return null;
        this.#removeMember(group, found, run, 'UNKNOWN_MEMBER_ID');
        return null;
      } catch (error) {
        if (error instanceof GroupError) return error;
        throw error;
      }
    });
    if (state !== undefined && group !== null) this.#afterRemoval(state, group, run);
    return { ...run, answer };
  }

  #leaving(group: ClassicGroup, who: ClassicMemberIdentity): ClassicMember | 'pending' {
    if (who.instanceId !== null) {
      const holder = this.#byInstance(group, who);
      if (holder === undefined) {
        throw new GroupError('UNKNOWN_MEMBER_ID', `no member holds ${who.instanceId}`);
      }
      if (who.memberId !== '' && holder.memberId !== who.memberId) {
        throw new GroupError('FENCED_INSTANCE_ID', `${who.instanceId} is held by another member`);
      }
      return holder;
    }
    if (group.pending.delete(who.memberId)) return 'pending';
    const member = group.members.get(who.memberId);
    if (member === undefined) {
      throw new GroupError('UNKNOWN_MEMBER_ID', `member ${who.memberId} is not in the group`);
    }
    return member;
  }

  #removeMember(
    group: ClassicGroup,
    member: ClassicMember,
    run: Run,
    code: 'UNKNOWN_MEMBER_ID',
  ): void {
    group.members.delete(member.memberId);
    for (const token of [member.joinToken, member.syncToken]) {
      if (token === null) continue;
      const error = new GroupError(code, `member ${member.memberId} was removed`);
      run.replies.push({ token, kind: 'error', error });
    }
  }

  /** After members went: a new rebalance, or the end of the current join phase. */
  #afterRemoval(state: GroupState, group: ClassicGroup, run: Run): void {
    if (group.state === 'Stable' || group.state === 'CompletingRebalance') {
      this.#prepareRebalance(state, group, run);
    } else if (group.state === 'PreparingRebalance') {
      this.#maybeCompleteJoin(state, group, run);
    }
  }

  /**
   * Before a commit from a classic member. Throws: UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID,
   * ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS. A commit with generation < 0 and no member id
   * (a consumer without group membership) passes only while the group has no members.
   */
  checkCommit(groupId: string, who: ClassicMemberIdentity, generationId: number): void {
    const group = this.#groups.group(groupId)?.classic ?? null;
    const empty = group === null || group.members.size === 0;
    if (generationId < 0 && who.memberId === '' && empty) return;
    if (group === null) {
      throw new GroupError('UNKNOWN_MEMBER_ID', `group ${groupId} has no classic members`);
    }
    if (group.state === 'CompletingRebalance') {
      throw new GroupError('REBALANCE_IN_PROGRESS', 'the group is between join and sync');
    }
    this.#member(group, who);
    if (generationId !== group.generationId) {
      throw new GroupError(
        'ILLEGAL_GENERATION',
        `generation ${generationId} is not ${group.generationId}`,
      );
    }
  }

  /** Session expiry, pending ids, and the ends of join and sync phases. */
  tick(nowMs: number): ClassicOutcome {
    const run: Run = { records: [], replies: [], nowMs };
    for (const state of [...this.#groups.groups()]) {
      const group = state.classic;
      if (group === null) continue;
      for (const [id, until] of [...group.pending]) if (nowMs >= until) group.pending.delete(id);
      let lost = false;
      for (const member of [...group.members.values()]) {
        const waiting = member.joinToken !== null || member.syncToken !== null;
        if (!waiting && nowMs - member.lastHeartbeatMs > member.sessionTimeoutMs) {
          this.#removeMember(group, member, run, 'UNKNOWN_MEMBER_ID');
          lost = true;
        }
      }
      if (group.state === 'CompletingRebalance' && nowMs >= group.deadlineMs) {
        // The leader's assignment never came: members that did not sync are gone (Kafka).
        for (const member of [...group.members.values()]) {
          if (member.syncToken === null)
            this.#removeMember(group, member, run, 'UNKNOWN_MEMBER_ID');
        }
        lost = true;
      }
      if (lost) this.#afterRemoval(state, group, run);
      if (group.state === 'PreparingRebalance') {
        this.#maybeCompleteJoin(state, group, run, nowMs >= group.deadlineMs);
      }
      if (group.state === 'Empty' && group.pending.size === 0) this.#forgetIfEmpty(state, run);
    }
    return run;
  }

  /** After a load: sessions restart now. */
  finishLoad(offsetsPartition: number, nowMs: number): void {
    for (const state of this.#groups.groups()) {
      if (state.offsetsPartition !== offsetsPartition || state.classic === null) continue;
      for (const member of state.classic.members.values()) member.lastHeartbeatMs = nowMs;
    }
  }

  /** Every parked token of a partition's groups (the shell fails them when it unloads). */
  parkedTokens(offsetsPartition: number): number[] {
    const tokens: number[] = [];
    for (const state of this.#groups.groups()) {
      if (state.offsetsPartition !== offsetsPartition || state.classic === null) continue;
      for (const m of state.classic.members.values()) {
        if (m.joinToken !== null) tokens.push(m.joinToken);
        if (m.syncToken !== null) tokens.push(m.syncToken);
      }
    }
    return tokens;
  }

  #persist(state: GroupState, group: ClassicGroup, run: Run): void {
    const value = classicValue(group);
    const json = JSON.stringify(value);
    if (json === group.persisted) return;
    group.persisted = json;
    run.records.push({ type: 'classic', group: state.groupId, value });
  }

  #forgetIfEmpty(state: GroupState, run: Run): void {
    this.#groups.forgetIfEmpty(state, run.records);
  }

  /** Every group's members + pending ids are within groupMembersMax; parked tokens unique. */
  checkInvariants(): void {
    const tokens = new Set<number>();
    for (const state of this.#groups.groups()) {
      const group = state.classic;
      if (group === null) continue;
      assert(state.protocol === 'classic', `${state.groupId}: classic members in a consumer group`);
      const size = group.members.size + group.pending.size;
      assert(size <= this.#groups.config.groupMembersMax, `${state.groupId}: too many members`);
      for (const m of group.members.values()) {
        for (const token of [m.joinToken, m.syncToken]) {
          if (token === null) continue;
          assert(!tokens.has(token), `token ${token} parked twice`);
          tokens.add(token);
        }
        assert(m.joinToken === null || group.state === 'PreparingRebalance', 'join parked late');
        assert(m.syncToken === null || group.state === 'CompletingRebalance', 'sync parked late');
      }
      const leads = group.leaderId === null || group.members.has(group.leaderId);
      assert(group.state === 'PreparingRebalance' || leads, `${state.groupId}: leader gone`);
    }
  }
}

function updateMember(
  member: ClassicMember,
  request: ClassicJoinRequest,
  rebalanceTimeoutMs: number,
  nowMs: number,
): void {
  member.protocols = request.protocols;
  member.sessionTimeoutMs = request.sessionTimeoutMs;
  member.rebalanceTimeoutMs = rebalanceTimeoutMs;
  member.clientId = request.clientId;
  member.clientHost = request.clientHost;
  member.lastHeartbeatMs = nowMs;
}

function sameProtocols(a: readonly ClassicProtocol[], b: readonly ClassicProtocol[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((p, i) => {
    const q = b[i];
    return q !== undefined && p.name === q.name && sameBytes(p.metadata, q.metadata);
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

/** Kafka's vote: each member names its first choice among the protocols all support. */
function selectProtocol(group: ClassicGroup): string {
  const members = [...group.members.values()].sort((a, b) => a.joinedSeq - b.joinedSeq);
  const first = members[0];
  assert(first !== undefined, 'a protocol needs members');
  const candidates = first.protocols
    .map((p) => p.name)
    .filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)));
  const votes = new Map<string, number>();
  for (const member of members) {
    const choice = member.protocols.find((p) => candidates.includes(p.name));
    if (choice !== undefined) votes.set(choice.name, (votes.get(choice.name) ?? 0) + 1);
  }
  let best = candidates[0] ?? first.protocols[0]?.name ?? '';
  for (const name of candidates) if ((votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name;
  return best;
}
