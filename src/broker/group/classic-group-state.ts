// The classic (JoinGroup/SyncGroup) protocol's view of one group, held on the GroupState beside
// its offsets, and the record that persists it: [1, "c", group] → ClassicGroupValue, written
// when a generation's assignment is in place (SyncGroup from the leader) and when the group
// empties, as Kafka writes its GroupMetadataValue. Byte fields are base64 in the JSON.
import type { GroupError } from './group-errors.ts';

/** Kafka's group states for the classic protocol. */
export type ClassicStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

export interface ClassicProtocol {
  readonly name: string;
  readonly metadata: Uint8Array;
}

export interface ClassicMember {
  readonly memberId: string;
  readonly instanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** In the member's order of preference. */
  protocols: readonly ClassicProtocol[];
  /** What the leader gave it for the current generation (empty until then). */
  assignment: Uint8Array;
  lastHeartbeatMs: number;
  /** The JoinGroup waiting for the join phase to end (the shell's token), or null. */
  joinToken: number | null;
  /** The SyncGroup waiting for the leader's assignment, or null. */
  syncToken: number | null;
  /** Order of arrival: the first joined member leads when the leader is gone. */
  joinedSeq: number;
}

export interface ClassicGroup {
  state: ClassicStateName;
  protocolType: string;
  /** The protocol chosen for the current generation (null while Empty). */
  protocolName: string | null;
  generationId: number;
  leaderId: string | null;
  readonly members: Map<string, ClassicMember>;
  /** Ids handed out with MEMBER_ID_REQUIRED, to the time they are forgotten. Counted with the
   *  members against groupMembersMax. */
  readonly pending: Map<string, number>;
  /** When the join phase (PreparingRebalance) or sync phase (CompletingRebalance) ends. */
  deadlineMs: number;
  /** A rebalance from Empty waits initialRebalanceDelayMs for more members (Kafka's
   *  group.initial.rebalance.delay.ms), extended per join up to this time; null otherwise. */
  initialDelayEndMs: number | null;
  joinSeq: number;
  /** The classic record last appended (JSON), to append only changes. */
  persisted: string | null;
}

export interface ClassicMemberValue {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  /** The chosen protocol's metadata (base64). */
  readonly metadata: string;
  readonly assignment: string;
}

export interface ClassicGroupValue {
  readonly protocolType: string;
  readonly protocolName: string | null;
  readonly generationId: number;
  readonly leaderId: string | null;
  readonly members: readonly ClassicMemberValue[];
}

export interface ClassicJoinAnswer {
  readonly generationId: number;
  readonly protocolType: string;
  readonly protocolName: string;
  readonly leaderId: string;
  readonly memberId: string;
  /** Every member with its metadata for the chosen protocol: for the leader only. */
  readonly members: readonly {
    readonly memberId: string;
    readonly instanceId: string | null;
    readonly metadata: Uint8Array;
  }[];
}

export interface ClassicSyncAnswer {
  readonly protocolType: string;
  readonly protocolName: string;
  readonly assignment: Uint8Array;
}

/** The answer to a parked (or immediate) JoinGroup or SyncGroup, by the shell's token. */
export type ClassicReply =
  | { readonly token: number; readonly kind: 'join'; readonly answer: ClassicJoinAnswer }
  | { readonly token: number; readonly kind: 'sync'; readonly answer: ClassicSyncAnswer }
  | { readonly token: number; readonly kind: 'error'; readonly error: GroupError };

export function newClassicGroup(protocolType: string): ClassicGroup {
  return {
    state: 'Empty',
    protocolType,
    protocolName: null,
    generationId: 0,
    leaderId: null,
    members: new Map(),
    pending: new Map(),
    deadlineMs: 0,
    initialDelayEndMs: null,
    joinSeq: 0,
    persisted: null,
  };
}

export function classicValue(group: ClassicGroup): ClassicGroupValue {
  const name = group.protocolName;
  return {
    protocolType: group.protocolType,
    protocolName: name,
    generationId: group.generationId,
    leaderId: group.leaderId,
    members: [...group.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      sessionTimeoutMs: m.sessionTimeoutMs,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      metadata: toBase64(m.protocols.find((p) => p.name === name)?.metadata ?? new Uint8Array()),
      assignment: toBase64(m.assignment),
    })),
  };
}

/** A replayed group: Stable with its members, or Empty (sessions restart at finishLoad). */
export function classicFromValue(value: ClassicGroupValue): ClassicGroup {
  const group = newClassicGroup(value.protocolType);
  group.generationId = value.generationId;
  const name = value.protocolName;
  if (value.members.length === 0 || name === null) return group;
  group.state = 'Stable';
  group.protocolName = name;
  group.leaderId = value.leaderId;
  for (const m of value.members) {
    group.joinSeq += 1;
    group.members.set(m.memberId, {
      memberId: m.memberId,
      instanceId: m.instanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      sessionTimeoutMs: m.sessionTimeoutMs,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      protocols: [{ name, metadata: fromBase64(m.metadata) }],
      assignment: fromBase64(m.assignment),
      lastHeartbeatMs: 0,
      joinToken: null,
      syncToken: null,
      joinedSeq: group.joinSeq,
    });
  }
  return group;
}

export function isClassicGroupValue(v: unknown): v is ClassicGroupValue {
  if (v === null || typeof v !== 'object') return false;
  const g = v as Record<string, unknown>;
  return (
    typeof g.protocolType === 'string' &&
    (g.protocolName === null || typeof g.protocolName === 'string') &&
    Number.isSafeInteger(g.generationId) &&
    (g.leaderId === null || typeof g.leaderId === 'string') &&
    Array.isArray(g.members) &&
    g.members.every(isClassicMemberValue)
  );
}

function isClassicMemberValue(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  const m = v as Record<string, unknown>;
  return (
    typeof m.memberId === 'string' &&
    (m.instanceId === null || typeof m.instanceId === 'string') &&
    typeof m.clientId === 'string' &&
    typeof m.clientHost === 'string' &&
    Number.isSafeInteger(m.sessionTimeoutMs) &&
    Number.isSafeInteger(m.rebalanceTimeoutMs) &&
    typeof m.metadata === 'string' &&
    typeof m.assignment === 'string'
  );
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return new Uint8Array(); // Not base64: written by hand; the member gets an empty value.
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
