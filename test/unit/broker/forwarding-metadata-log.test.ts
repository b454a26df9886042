// Goal: proposals work from any node — local on the leader, forwarded elsewhere, retried on the
// leader a redirect names, bounded by the deadline, and resolved only once this node applied
// the committed index; a forwarded proposal whose outcome is unknown is not retried.
// Method: a fake ControllerChannel that answers from a script, a ManualClock, an AppliedIndex
// source the test advances, and a follower-shaped local log.
import { expect, test } from 'vitest';
import {
  ForwardingMetadataLog,
  answerForwardedProposal,
  type ControllerChannel,
  type ForwardedAnswer,
} from '../../../src/broker/index.ts';
import { notLeaderError, type MetadataLog, type MetadataStatus } from '../../../src/raft/index.ts';
import { ManualClock } from '../../support/broker/manual-clock.ts';

type Command = { readonly n: number };

class FollowerLog implements MetadataLog<Command> {
  leaderId: number | null = 2;
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async propose(): Promise<{ index: number; result: unknown }> {
    throw notLeaderError(this.leaderId);
  }
  async barrier(): Promise<void> {}
  status(): MetadataStatus {
    return {
      nodeId: 1,
      role: 'follower',
      term: 1,
      leaderId: this.leaderId,
      commitIndex: 0,
      appliedIndex: 0,
      voters: [1, 2, 3],
    };
  }
  onLeaderChange(): void {}
}

class Applied {
  appliedIndex = 0;
  readonly #listeners: (() => void)[] = [];
  onApplied(listener: () => void): () => void {
    this.#listeners.push(listener);
    return () => {};
  }
  onRestored(): () => void {
    return () => {};
  }
  advanceTo(index: number): void {
    this.appliedIndex = index;
    for (const listener of this.#listeners) listener();
  }
}

function setup(answers: ((url: string) => ForwardedAnswer | Error)[]) {
  const clock = new ManualClock();
  const local = new FollowerLog();
  const applied = new Applied();
  const sentTo: string[] = [];
  const channel: ControllerChannel = {
    async propose(url) {
      sentTo.push(url);
      const next = answers.shift();
      if (next === undefined) throw new Error('no scripted answer');
      const answer = next(url);
      if (answer instanceof Error) throw answer;
      return answer;
    },
    async close() {},
  };
  const log = new ForwardingMetadataLog<Command>(
    {
      nodeId: 1,
      voterUrls: new Map([
        [1, 'http://n1'],
        [2, 'http://n2'],
        [3, 'http://n3'],
      ]),
      proposeTimeoutMs: 1_000,
      retryBackoffMs: 100,
      applyWaitersMax: 4,
    },
    { local, channel, clock, applied },
  );
  return { clock, local, applied, sentTo, log };
}

/** Lets pending promise callbacks run (the channel answers asynchronously). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
}

test('forwards to the leader and resolves once this node applied the index', async () => {
  const { applied, sentTo, log } = setup([() => ({ ok: true, index: 7, result: 'done' })]);
  let outcome: unknown = null;
  void log.propose({ n: 1 }).then((value) => (outcome = value));
  await settle();
  expect(sentTo).toEqual(['http://n2']);
  expect(outcome).toBeNull(); // Committed on the controller, not yet applied here.
  applied.advanceTo(7);
  await settle();
  expect(outcome).toEqual({ index: 7, result: 'done' });
});

test('follows the leader a redirect names', async () => {
  const { applied, sentTo, log } = setup([
    () => ({ ok: false, code: 'RAFT_NOT_LEADER', message: 'moved', leaderId: 3 }),
    () => ({ ok: true, index: 1, result: null }),
  ]);
  applied.advanceTo(5);
  await expect(log.propose({ n: 1 })).resolves.toEqual({ index: 1, result: null });
  expect(sentTo).toEqual(['http://n2', 'http://n3']);
});

test('a refused connection is retried after backoff; the deadline bounds the retries', async () => {
  const refused = (): Error => Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
  const { clock, sentTo, log } = setup(Array.from({ length: 50 }, () => refused));
  let failure: unknown = null;
  void log.propose({ n: 1 }).catch((error: unknown) => (failure = error));
  for (let i = 0; i < 15; i += 1) {
    await settle();
    clock.advance(100);
  }
  await settle();
  expect(sentTo.length).toBeGreaterThan(3);
  expect(sentTo.length).toBeLessThanOrEqual(11);
  expect(failure).toMatchObject({ code: 'RAFT_NOT_LEADER' });
});

test('a lost answer is not retried: the outcome is unknown', async () => {
  const reset = (): Error => Object.assign(new Error('closed'), { code: 'UND_ERR_SOCKET' });
  const { sentTo, log } = setup([reset, reset]);
  await expect(log.propose({ n: 1 })).rejects.toMatchObject({ code: 'RAFT_TIMEOUT' });
  expect(sentTo).toHaveLength(1);
});

test('the serving side answers a follower with 421 and the leader hint', async () => {
  const local = new FollowerLog();
  local.leaderId = 3;
  const answer = await answerForwardedProposal(local, { command: { n: 1 } });
  expect(answer).toEqual({
    status: 421,
    body: { error: { code: 'RAFT_NOT_LEADER', message: expect.any(String), leaderId: 3 } },
  });
  expect((await answerForwardedProposal(local, { nope: 1 })).status).toBe(400);
});
