// The simulated world a broker's production RaftMetadataLog runs in: SimTimers, the Clock twin
// on the simulator's virtual time (timers run at the simulator's ticks, in (due, seq) order,
// and die with the process that set them), and SimRaftTransport, the RaftTransport twin that
// puts messages on the simulated network and hands deliveries to the driver.
import type { Clock } from '../../../src/common/index.ts';
import type { RaftMessage, RaftNodeId, RaftTransport } from '../../../src/raft/index.ts';

/** One process's life: its timers and its ports stop when it dies. */
export interface Life {
  alive: boolean;
}

interface Timer {
  readonly atMs: number;
  readonly seq: number;
  readonly life: Life;
  readonly run: () => void;
  cancelled: boolean;
}

export class SimTimers {
  readonly #nowMs: () => number;
  #timers: Timer[] = [];
  #seq = 0;

  constructor(nowMs: () => number) {
    this.#nowMs = nowMs;
  }

  /** A Clock for one process: its timers never run once `life` ended. */
  clock(life: Life): Clock {
    return {
      nowMs: () => this.#nowMs(),
      schedule: (delayMs, run) => {
        const timer = {
          atMs: this.#nowMs() + Math.max(0, delayMs),
          seq: this.#seq++,
          life,
          run,
          cancelled: false,
        };
        this.#timers.push(timer);
        return () => {
          timer.cancelled = true;
        };
      },
    };
  }

  /** Runs every live timer due at `nowMs`, earliest first; ones they set run at a later call. */
  runDue(nowMs: number): void {
    const due: Timer[] = [];
    const rest: Timer[] = [];
    for (const timer of this.#timers) {
      if (timer.cancelled || !timer.life.alive) continue;
      (timer.atMs <= nowMs ? due : rest).push(timer);
    }
    this.#timers = rest;
    due.sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    for (const timer of due) {
      if (!timer.cancelled && timer.life.alive) timer.run();
    }
  }
}

export class SimRaftTransport implements RaftTransport {
  readonly #life: Life;
  readonly #send: (message: RaftMessage) => void;
  #handler: ((message: RaftMessage) => void) | null = null;

  constructor(life: Life, send: (message: RaftMessage) => void) {
    this.#life = life;
    this.#send = send;
  }

  send(message: RaftMessage): void {
    if (this.#life.alive) this.#send(message);
  }

  onMessage(handler: (message: RaftMessage) => void): void {
    this.#handler = handler;
  }

  /** A message the network delivered to this node. */
  deliver(message: RaftMessage): void {
    if (this.#life.alive) this.#handler?.(message);
  }

  /** The simulated network routes by node id: addresses mean nothing here. */
  setPeer(_nodeId: RaftNodeId, _url: string): void {}

  close(): Promise<void> {
    this.#life.alive = false;
    return Promise.resolve();
  }
}
