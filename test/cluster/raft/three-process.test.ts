// Goal: the Raft shell survives a real crash. Three scripts/raft-node.ts processes on loopback
// elect a leader; we commit entries, kill -9 the leader, and check that a new leader is elected,
// that nothing committed is lost, and that the old leader rejoins and catches up by snapshot
// (the log was compacted past its end while it was down). Method: real processes, real fsync,
// polling with deadlines; every process is killed in afterAll.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import {
  RaftNodeProcess,
  waitForLeader,
  type RaftNodeState,
} from '../../support/raft/raft-node-process.ts';
import { freePorts } from '../../support/child-process.ts';
import { pollUntil } from '../../support/poll.ts';

const directory = mkdtempSync(join(tmpdir(), 'rill-raft-3p-'));
const nodes: RaftNodeProcess[] = [];

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.kill()));
  rmSync(directory, { recursive: true, force: true });
});

/**
 * Commits every key. A proposal refused by a deposed leader (a loaded machine can stall a
 * process past an election timeout) is retried on the new leader: a put is idempotent.
 */
async function proposeAll(
  leader: RaftNodeProcess,
  keys: readonly string[],
): Promise<RaftNodeProcess> {
  let current = leader;
  for (const key of keys) {
    await pollUntil(`a commit of ${key}`, 20_000, async () => {
      try {
        return await current.post('/test/propose', { key, value: `value-of-${key}` });
      } catch (error) {
        current = await waitForLeader(nodes, 20_000);
        throw error;
      }
    });
  }
  return current;
}

function missingKeys(state: RaftNodeState, keys: readonly string[]): string[] {
  return keys.filter((key) => state.values[key] !== `value-of-${key}`);
}

test('kill -9 the leader: a new one is elected, nothing committed is lost, the old one catches up', async () => {
  const ports = await freePorts(3);
  const voters = ports.map((port, i) => `${i + 1}@127.0.0.1:${port}`).join(',');
  for (const [i, port] of ports.entries()) {
    nodes.push(
      new RaftNodeProcess({
        nodeId: i + 1,
        port,
        voters,
        dataDir: join(directory, `node-${i + 1}`),
        // Fast ticks keep elections short; a low threshold makes the leader compact often;
        // every raft request carries the cluster secret.
        extraArgs: ['--tick-ms', '20', '--snapshot-entries', '40', '--secret', 'three-process'],
      }),
    );
  }
  await Promise.all(nodes.map((node) => node.start()));

  const sequential = Array.from({ length: 24 }, (_, i) => `before-${i}`);
  const firstLeader = await proposeAll(await waitForLeader(nodes, 20_000), sequential);
  const firstTerm = (await firstLeader.get<RaftNodeState>('/v1/raft')).term;

  // kill -9 with proposals in flight: those acknowledged before the kill must survive.
  const acknowledged: string[] = [];
  const inflight = Array.from({ length: 8 }, async (_, i) => {
    const key = `inflight-${i}`;
    try {
      await firstLeader.post('/test/propose', { key, value: `value-of-${key}` });
      acknowledged.push(key);
    } catch {
      // Cut off by the kill: its outcome is unknown, and the test makes no claim about it.
    }
  });
  await pollUntil('a first in-flight acknowledgement', 10_000, async () =>
    acknowledged.length > 0 ? true : undefined,
  );
  await firstLeader.kill();
  await Promise.all(inflight);
  const before = [...sequential, ...acknowledged];
  const secondLeader = await waitForLeader(nodes, 20_000);
  expect(secondLeader).not.toBe(firstLeader);
  const secondStatus = await secondLeader.get<RaftNodeState>('/v1/raft');
  expect(secondStatus.term).toBeGreaterThan(firstTerm);
  // Leader completeness: every entry acknowledged by the old leader is in the new one's image.
  await pollUntil('the new leader to apply every acknowledged entry', 10_000, async () => {
    const state = await secondLeader.get<RaftNodeState>('/test/state');
    return missingKeys(state, before).length === 0 ? state : undefined;
  });

  // 100 more entries: the leader snapshots every 40, so its log starts far past the old one's.
  const after = Array.from({ length: 100 }, (_, i) => `after-${i}`);
  const leader = await proposeAll(secondLeader, after);
  const all = [...before, ...after];

  await firstLeader.start();
  const caughtUp = await pollUntil('the old leader to catch up', 20_000, async () => {
    const state = await firstLeader.get<RaftNodeState>('/test/state');
    return missingKeys(state, all).length === 0 ? state : undefined;
  });
  // It restored the leader's snapshot: its ≤ 34 entries were below its own snapshot threshold.
  expect(caughtUp.restoreCount).toBeGreaterThanOrEqual(1);
  expect(caughtUp.leaderId).not.toBeNull();

  // State machine safety: all three hold the same image once they applied the same index.
  const leaderState = await leader.get<RaftNodeState>('/test/state');
  // Beyond the acknowledged keys, only in-flight puts cut off by the kill may have committed.
  const unacknowledged = Object.keys(leaderState.values).filter((key) => !all.includes(key));
  expect(unacknowledged.every((key) => key.startsWith('inflight-'))).toBe(true);
  for (const node of nodes) {
    const state = await pollUntil(
      `node ${node.options.nodeId} at ${leaderState.appliedIndex}`,
      10_000,
      async () => {
        const seen = await node.get<RaftNodeState>('/test/state');
        return seen.appliedIndex >= leaderState.appliedIndex ? seen : undefined;
      },
    );
    expect(missingKeys(state, all)).toEqual([]);
    expect(state.values).toEqual(leaderState.values);
  }
});
