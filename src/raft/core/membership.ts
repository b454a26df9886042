// Membership arithmetic for single-server changes (Ongaro's thesis §4.1): a config entry carries
// one ConfigChange as JSON, and the membership after it is the previous one with that change.
// Voters and observers are disjoint, sorted ascending and without duplicates.
import { assert } from '../../common/index.ts';
import type { ConfigChange, Membership, RaftNodeId } from '../types.ts';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function encodeConfigChange(change: ConfigChange): Uint8Array {
  return textEncoder.encode(JSON.stringify(change));
}

export function decodeConfigChange(data: Uint8Array): ConfigChange {
  const parsed = JSON.parse(textDecoder.decode(data)) as ConfigChange;
  assert(typeof parsed.nodeId === 'number', 'config entry without a node id');
  return parsed;
}

export function isVoter(membership: Membership, id: RaftNodeId): boolean {
  return membership.voters.includes(id);
}

export function isMember(membership: Membership, id: RaftNodeId): boolean {
  return membership.voters.includes(id) || membership.observers.includes(id);
}

/** Every node the leader replicates to: voters then observers. */
export function members(membership: Membership): RaftNodeId[] {
  return [...membership.voters, ...membership.observers];
}

/** Why the change does not fit, or null when it does. */
export function configChangeProblem(membership: Membership, change: ConfigChange): string | null {
  const { nodeId } = change;
  const voter = membership.voters.includes(nodeId);
  const observer = membership.observers.includes(nodeId);
  switch (change.type) {
    case 'add-voter':
    case 'add-observer':
      return voter || observer ? `node ${nodeId} is already a member` : null;
    case 'remove-voter':
      if (!voter) return `node ${nodeId} is not a voter`;
      return membership.voters.length === 1 ? 'cannot remove the last voter' : null;
    case 'promote-observer':
    case 'remove-observer':
      return observer ? null : `node ${nodeId} is not an observer`;
  }
}

export function applyConfigChange(membership: Membership, change: ConfigChange): Membership {
  const problem = configChangeProblem(membership, change);
  assert(problem === null, `config entry does not apply: ${problem}`);
  const without = (ids: readonly RaftNodeId[]) => ids.filter((id) => id !== change.nodeId);
  const sorted = (ids: RaftNodeId[]) => ids.sort((a, b) => a - b);
  switch (change.type) {
    case 'add-voter':
      return {
        voters: sorted([...membership.voters, change.nodeId]),
        observers: membership.observers,
      };
    case 'remove-voter':
      return { voters: without(membership.voters), observers: membership.observers };
    case 'add-observer':
      return {
        voters: membership.voters,
        observers: sorted([...membership.observers, change.nodeId]),
      };
    case 'promote-observer':
      return {
        voters: sorted([...membership.voters, change.nodeId]),
        observers: without(membership.observers),
      };
    case 'remove-observer':
      return { voters: membership.voters, observers: without(membership.observers) };
  }
}

export function assertValidMembership(membership: Membership): void {
  assert(membership.voters.length > 0, 'membership without voters');
  const all = members(membership);
  assert(new Set(all).size === all.length, 'a node is listed twice in the membership');
}
