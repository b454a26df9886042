// Goal: RaftMetadataLog keeps the MetadataLog contract: propose resolves with apply()'s result,
// a restart restores the snapshot and replays the log into an equal image, the bounds answer
// RAFT_BUSY, and a node that is not the leader answers RAFT_NOT_LEADER. Method: real LevelDB in
// a tmpdir and the real driver on a real clock; one-voter groups elect themselves.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { SeededRandom } from '../../../src/common/index.ts';
import {
  HttpRaftTransport,
  LevelRaftStorage,
  RaftMetadataLog,
  httpRaftTransportConfig,
  raftMetadataLogDefaults,
  type RaftMetadataLogConfig,
  type StateMachine,
} from '../../../src/raft/index.ts';
import { until } from '../../support/poll.ts';
import { realClock } from '../../support/real-clock.ts';

/** Appends every command; apply returns the running total. */
class SumStateMachine implements StateMachine<number> {
  values: number[] = [];
  restoreCount = 0;
  apply(command: number): unknown {
    this.values.push(command);
    return this.values.reduce((a, b) => a + b, 0);
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.values));
  }
  restore(snapshot: Uint8Array): void {
    this.restoreCount += 1;
    this.values = JSON.parse(new TextDecoder().decode(snapshot)) as number[];
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setup(overrides: Partial<RaftMetadataLogConfig> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'rill-raft-log-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const config: RaftMetadataLogConfig = {
    ...raftMetadataLogDefaults,
    nodeId: 1,
    voters: new Map([[1, 'http://127.0.0.1:9']]),
    observers: new Map(),
    tickMs: 5,
    ...overrides,
  };
  const open = (stateMachine: SumStateMachine): RaftMetadataLog<number> => {
    const log = new RaftMetadataLog<number>(config, {
      stateMachine,
      clock: realClock,
      random: new SeededRandom(7),
      storage: new LevelRaftStorage({ directory: dataDir, cachedEntryCountMax: 1_024 }),
      transport: new HttpRaftTransport(httpRaftTransportConfig(config, null), {
        clock: realClock,
      }),
    });
    cleanups.push(() => log.stop());
    return log;
  };
  return { open };
}

test('propose resolves with the result of apply; a restart restores snapshot and log', async () => {
  const { open } = setup({ snapshotEntryCount: 10 });
  const machine = new SumStateMachine();
  const log = open(machine);
  const leaders: (number | null)[] = [];
  log.onLeaderChange((leaderId) => leaders.push(leaderId));
  await log.start();
  await until('a leader', () => log.status().role === 'leader');
  expect(leaders).toEqual([1]);
  const first = await log.propose(5);
  expect(first.result).toBe(5);
  const rest = await Promise.all(Array.from({ length: 34 }, (_, i) => log.propose(i)));
  expect(rest.at(-1)?.result).toBe(5 + (33 * 34) / 2);
  expect(rest.map((r) => r.index)).toEqual(rest.map((_, i) => first.index + 1 + i));
  await log.barrier();
  const appliedIndex = log.status().appliedIndex;
  await log.stop();
  await expect(log.propose(1)).rejects.toMatchObject({ code: 'RAFT_STOPPED' });

  const restored = new SumStateMachine();
  const again = open(restored);
  await again.start();
  await until('the replay', () => again.status().appliedIndex >= appliedIndex);
  expect(restored.values).toEqual(machine.values);
  expect(restored.restoreCount).toBe(1); // 36 entries with a snapshot every 10: start restored one.
});

test('past pendingProposalCountMax a proposal is refused with RAFT_BUSY, retriable', async () => {
  const { open } = setup({ pendingProposalCountMax: 2 });
  const log = open(new SumStateMachine());
  await log.start();
  await until('a leader', () => log.status().role === 'leader');
  const accepted = [log.propose(1), log.propose(2)];
  await expect(log.propose(3)).rejects.toMatchObject({ code: 'RAFT_BUSY', retriable: true });
  expect((await Promise.all(accepted)).map((r) => r.result)).toEqual([1, 3]);
});

test('a follower refuses proposals with RAFT_NOT_LEADER and cannot serve a read barrier', async () => {
  // Two unreachable peers: node 1 never wins an election.
  const voters = new Map([
    [1, 'http://127.0.0.1:9'],
    [2, 'http://127.0.0.1:9'],
    [3, 'http://127.0.0.1:9'],
  ]);
  const { open } = setup({ voters });
  const log = open(new SumStateMachine());
  await log.start();
  await expect(log.propose(1)).rejects.toMatchObject({ code: 'RAFT_NOT_LEADER', retriable: true });
  await expect(log.barrier()).rejects.toMatchObject({ code: 'RAFT_NOT_LEADER' });
  expect(log.status()).toMatchObject({ nodeId: 1, leaderId: null, voters: [1, 2, 3] });
});

test('a membership change resolves once applied; adding an observer keeps the voters', async () => {
  const { open } = setup();
  const log = open(new SumStateMachine());
  await log.start();
  await until('a leader', () => log.status().role === 'leader');
  await log.propose(1); // Ongaro's fix: a change waits for an entry of the leader's term.
  const added = await log.changeMembership(
    { type: 'add-observer', nodeId: 2 },
    'http://127.0.0.1:9',
  );
  expect(added.index).toBeGreaterThan(1);
  expect(log.status().voters).toEqual([1]);
  // The leader's view of the observer it cannot reach: nothing matched, never heard from.
  expect(log.status().followers).toEqual([{ nodeId: 2, matchIndex: 0, lastContactMs: null }]);
  await expect(
    log.changeMembership({ type: 'add-observer', nodeId: 2 }, null),
  ).rejects.toMatchObject({
    code: 'RAFT_INVALID_CONFIG_CHANGE',
  });
  await log.changeMembership({ type: 'remove-observer', nodeId: 2 }, null);
  expect((await log.propose(2)).result).toBe(3);
});
