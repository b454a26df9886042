// Goal: the quorum arithmetic equals a naive definition (etcd quorum/quick_test). Method:
// fast-check over voter sets, match indexes and vote sets, against brute force.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { quorumValue, voteOutcome } from '../../../src/raft/core/quorum.ts';

const seed = Number(process.env['RAFT_PROP_SEED'] ?? 7);

test('quorumValue is the largest index a majority has reached', () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 50 }), { minLength: 1, maxLength: 9 }), (matches) => {
      const voters = matches.map((_, i) => i + 1);
      const value = quorumValue(voters, (id) => matches[id - 1] ?? 0);
      const naive = Math.max(
        ...[0, ...matches].filter((v) => matches.filter((m) => m >= v).length * 2 > matches.length),
      );
      expect(value).toBe(naive);
    }),
    { seed, numRuns: 2000 },
  );
});

test('voteOutcome counts each voter once and ignores non-voters', () => {
  const vote = fc.constantFrom('yes', 'no', 'none');
  fc.assert(
    fc.property(fc.array(vote, { minLength: 1, maxLength: 9 }), (votes) => {
      const voters = votes.map((_, i) => i + 1);
      const granted = new Set([...voters.filter((id) => votes[id - 1] === 'yes'), 99]);
      const rejected = new Set(voters.filter((id) => votes[id - 1] === 'no'));
      const yes = granted.size - 1; // Node 99 is not a voter.
      const lost = voters.length - rejected.size < Math.floor(voters.length / 2) + 1;
      const outcome = voteOutcome(voters, granted, rejected);
      expect(outcome).toBe(yes * 2 > voters.length ? 'won' : lost ? 'lost' : 'pending');
    }),
    { seed, numRuns: 2000 },
  );
});
