// The simulated network: every message is deep-copied at send (cloneMessage, so sender and
// receiver never alias), then dropped, duplicated or delayed (random delays reorder), and only
// delivered if sender and receiver sit in the same partition group at both ends of the trip.
import type { SeededRandom } from '../../../src/common/index.ts';
import type { RaftMessage, RaftNodeId } from '../../../src/raft/index.ts';
import { cloneMessage } from './clone-message.ts';
import { EventQueue } from './event-queue.ts';

export interface NetworkProfile {
  dropProbability: number;
  duplicateProbability: number;
  delayTicksMin: number;
  delayTicksMax: number;
}

export class SimNetwork {
  readonly queue = new EventQueue<RaftMessage>();
  profile: NetworkProfile;
  readonly #random: SeededRandom;
  /** node → partition group; nodes in different groups cannot talk. */
  readonly #group = new Map<RaftNodeId, number>();
  /** Directed cuts `from>to` of an asymmetric partition (R62): the reverse path still works. */
  readonly #oneWay = new Set<string>();
  sentCount = 0;

  constructor(random: SeededRandom, profile: NetworkProfile) {
    this.#random = random;
    this.profile = profile;
  }

  send(message: RaftMessage, now: number): void {
    this.sentCount += 1;
    if (!this.canTalk(message.from, message.to)) return;
    if (this.#random.chance(this.profile.dropProbability)) return;
    const copies = this.#random.chance(this.profile.duplicateProbability) ? 2 : 1;
    for (let i = 0; i < copies; i += 1) {
      const { delayTicksMin: min, delayTicksMax: max } = this.profile;
      const delay = min + this.#random.int(max - min + 1);
      this.queue.push(now + delay, cloneMessage(message));
    }
  }

  canTalk(from: RaftNodeId, to: RaftNodeId): boolean {
    if (this.#oneWay.has(`${from}>${to}`)) return false;
    return (this.#group.get(from) ?? 0) === (this.#group.get(to) ?? 0);
  }

  /** Cuts every link out of one random node (or into it), leaving the reverse direction up. */
  partitionOneWay(ids: readonly RaftNodeId[]): void {
    this.heal();
    const node = ids[this.#random.int(ids.length)];
    const outbound = this.#random.chance(0.5);
    for (const other of ids) {
      if (other !== node) this.#oneWay.add(outbound ? `${node}>${other}` : `${other}>${node}`);
    }
  }

  /** Splits the nodes into two random groups (an isolated node when `isolate`). */
  partition(ids: readonly RaftNodeId[], isolate: boolean): void {
    this.heal();
    if (isolate) {
      const lonely = ids[this.#random.int(ids.length)];
      if (lonely !== undefined) this.#group.set(lonely, 1);
      return;
    }
    for (const id of ids) this.#group.set(id, this.#random.int(2));
  }

  heal(): void {
    this.#group.clear();
    this.#oneWay.clear();
  }

  get partitioned(): boolean {
    return this.#group.size > 0 || this.#oneWay.size > 0;
  }
}
