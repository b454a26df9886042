// A consumer group in the chaos run (issue 10: at-least-once for committed group offsets):
// members of one group, each its own RillClient, consume the chaos topic from the earliest
// offset and commit automatically after their handler finishes (Rill's client commits only
// what a handler completed). Every delivery is recorded. After the faults, the members close
// (committing), and a fresh member of the same group reads from the committed offsets until the
// group has committed the end of every partition: if a commit ever ran ahead of processing, the
// records between are never delivered, and checkAtLeastOnce (checker.ts) names them.
import { RillClient, type GroupConsumer } from '../../../src/api/client/index.ts';
import type { Delivery } from './checker.ts';

export interface GroupWorkloadOptions {
  readonly bootstrapUrls: readonly string[];
  readonly topic: string;
  readonly groupId: string;
  readonly members: number;
  readonly nowMs: () => number;
}

/** Bound of the deliveries one run records. */
export const deliveriesMax = 2_000_000;

export class GroupWorkload {
  readonly deliveries: Delivery[] = [];
  readonly #options: GroupWorkloadOptions;
  readonly #clients: RillClient[] = [];
  readonly #runs: Promise<void>[] = [];
  readonly #members: GroupConsumer[] = [];

  constructor(options: GroupWorkloadOptions) {
    this.#options = options;
  }

  start(): void {
    for (let i = 0; i < this.#options.members; i += 1) this.#startMember(`member-${i}`);
  }

  /** Closes every member (each commits what its handler finished) and waits for them. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.#members.map((member) => member.close()));
    await Promise.allSettled(this.#runs);
    this.#members.length = 0;
    this.#runs.length = 0;
  }

  /**
   * A fresh member reads from the group's committed offsets until the group has committed
   * `ends` (partition → end offset) on every partition, or the deadline passes; false then.
   */
  async drain(ends: ReadonlyMap<number, number>, deadlineMs: number): Promise<boolean> {
    const member = this.#startMember('drain');
    const admin = (this.#clients[this.#clients.length - 1] as RillClient).admin();
    const until = performance.now() + deadlineMs;
    let done = false;
    while (!done && performance.now() < until) {
      try {
        const committed = await admin.fetchOffsets(this.#options.groupId, this.#options.topic);
        const at = new Map(committed.map((c) => [c.partition, c.offset]));
        done = [...ends].every(([p, end]) => end === 0 || (at.get(p) ?? -1) >= end);
      } catch {
        // The coordinator may be moving: ask again.
      }
      if (!done) await pause(200);
    }
    await member.close();
    await Promise.allSettled(this.#runs);
    return done;
  }

  async close(): Promise<void> {
    await this.stop();
    await Promise.allSettled(this.#clients.map((client) => client.close()));
  }

  #startMember(name: string) {
    const client = new RillClient({ bootstrapUrls: this.#options.bootstrapUrls });
    this.#clients.push(client);
    const member = client.consumer({
      groupId: this.#options.groupId,
      autoOffsetReset: 'earliest',
      autoCommit: true,
      autoCommitIntervalMs: 300,
      heartbeatIntervalMs: 500,
    });
    member.subscribe([this.#options.topic]);
    this.#members.push(member);
    const run = member.run({
      eachMessage: (record) => {
        if (this.deliveries.length >= deliveriesMax) throw new Error('deliveriesMax reached');
        const value = record.value === null ? '' : Buffer.from(record.value).toString('utf8');
        this.deliveries.push({
          member: name,
          partition: `p${record.partition}`,
          offset: record.offset,
          value,
          atMs: this.#options.nowMs(),
        });
      },
    });
    // A member that fails is visible as missing deliveries; its error is kept for the log.
    this.#runs.push(run.catch((error: unknown) => console.log(`${name}: ${String(error)}`)));
    return member;
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
