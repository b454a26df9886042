// Majority arithmetic over a voter list (pure). Votes are a set of ids, so a duplicated vote
// response never counts twice; the commit index is the largest index a majority has.
import type { Index, RaftNodeId } from '../types.ts';

export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The largest value that at least a majority of voters have reached (missing counts as 0). */
export function quorumValue(
  voters: readonly RaftNodeId[],
  valueOf: (id: RaftNodeId) => number,
): Index {
  const values = voters.map(valueOf).sort((a, b) => b - a);
  return values[majority(voters.length) - 1] ?? 0;
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

/** Counts granted and rejected votes among voters only; each voter counts once. */
export function voteOutcome(
  voters: readonly RaftNodeId[],
  granted: ReadonlySet<RaftNodeId>,
  rejected: ReadonlySet<RaftNodeId>,
): VoteOutcome {
  const need = majority(voters.length);
  let yes = 0;
  let no = 0;
  for (const id of voters) {
    if (granted.has(id)) yes += 1;
    else if (rejected.has(id)) no += 1;
  }
  if (yes >= need) return 'won';
  if (no > voters.length - need) return 'lost';
  return 'pending';
}
