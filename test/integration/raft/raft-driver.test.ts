// Goal: RaftDriver keeps etcd's Ready order (persist → send → apply → advance; committed
// entries may apply during the sync, a snapshot only after it), lets only a leader's pure
// append round send before its sync ends, runs one round at a time, ticks from
// the injected clock and stops on a storage failure. Method: a scripted core, a storage whose
// saves we resolve by hand, a recording transport and a manual clock; no real I/O.
import { expect, test } from 'vitest';
import type { Clock } from '../../../src/common/index.ts';
import {
  RaftDriver,
  type DrivenRaftCore,
  type HardState,
  type RaftMessage,
  type RaftStorage,
  type RaftStorageUpdate,
  type RaftTransport,
  type Ready,
} from '../../../src/raft/index.ts';

class ScriptedCore implements DrivenRaftCore {
  readonly script: Ready[] = [];
  readonly events: string[];
  outstanding: Ready | null = null;
  ticks = 0;
  /** What quietTicks() answers (the driver may sleep through all but the last). */
  quiet = 1;
  readonly ticksAtStep: number[] = [];
  constructor(events: string[]) {
    this.events = events;
  }
  tick(): void {
    this.ticks += 1;
  }
  quietTicks(): number {
    return this.quiet;
  }
  step(message: RaftMessage): void {
    this.events.push(`step ${message.type}`);
    this.ticksAtStep.push(this.ticks);
  }
  peerUnreachable(peer: number): void {
    this.events.push(`unreachable ${peer}`);
  }
  hasReady(): boolean {
    return this.outstanding === null && this.script.length > 0;
  }
  ready(): Ready {
    expect(this.outstanding).toBeNull();
    const ready = this.script.shift();
    if (ready === undefined) throw new Error('no ready');
    this.outstanding = ready;
    return ready;
  }
  advance(ready: Ready): void {
    expect(ready).toBe(this.outstanding);
    this.outstanding = null;
    this.events.push('advance');
  }
}

/** Saves wait until the test releases them (or fails them). */
function manualStorage(events: string[]) {
  const waiting: { resolve: () => void; reject: (error: Error) => void }[] = [];
  let persisted: HardState = { term: 1, vote: 1, commit: 0 };
  const storage = {
    save(update: RaftStorageUpdate): Promise<void> {
      events.push('save');
      return new Promise<void>((resolve, reject) => {
        waiting.push({
          resolve: () => {
            if (update.hardState !== null) persisted = update.hardState;
            events.push('saved');
            resolve();
          },
          reject,
        });
      });
    },
    hardState: () => persisted,
  } as unknown as RaftStorage;
  return { storage, waiting };
}

function recordingTransport(events: string[]) {
  let handler: ((message: RaftMessage) => void) | null = null;
  const transport: RaftTransport = {
    send: (message) => events.push(`send ${message.type}`),
    onMessage: (h) => {
      handler = h;
    },
    setPeer: () => undefined,
    close: async () => undefined,
  };
  return { transport, deliver: (message: RaftMessage) => handler?.(message) };
}

function manualClock() {
  let due: (() => void)[] = [];
  const clock: Clock = {
    nowMs: () => 0,
    schedule(_delayMs, run) {
      due.push(run);
      return () => {
        due = due.filter((r) => r !== run);
      };
    },
  };
  const fire = (): void => {
    const now = due;
    due = [];
    for (const run of now) run();
  };
  return { clock, fire };
}

import { ManualClock } from '../../support/broker/manual-clock.ts';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function ready(partial: Partial<Ready>): Ready {
  return {
    hardState: null,
    entries: [],
    snapshot: null,
    messages: [],
    committed: [],
    readStates: [],
    ...partial,
  };
}
const voteResponse: RaftMessage = {
  type: 'vote-response',
  from: 1,
  to: 2,
  term: 2,
  preVote: false,
  granted: true,
};
const append: RaftMessage = {
  type: 'append-request',
  from: 1,
  to: 2,
  term: 1,
  prevLogIndex: 0,
  prevLogTerm: 0,
  entries: [],
  commit: 0,
  context: 0,
};
const entry = { term: 1, index: 1, kind: 'command' as const, data: new Uint8Array(1) };

function setup() {
  const events: string[] = [];
  const core = new ScriptedCore(events);
  const { storage, waiting } = manualStorage(events);
  const { transport, deliver } = recordingTransport(events);
  const { clock, fire } = manualClock();
  const fatal: unknown[] = [];
  const driver = new RaftDriver(
    { tickMs: 50 },
    {
      core,
      storage,
      transport,
      clock,
      apply: () => events.push('apply'),
      onFatal: (error) => fatal.push(error),
    },
  );
  return { events, core, waiting, deliver, fire, fatal, driver };
}

test('a vote is sent only after the hard state is durable; committed entries apply meanwhile', async () => {
  const { events, core, waiting, driver } = setup();
  core.script.push(
    ready({
      hardState: { term: 2, vote: 2, commit: 1 },
      messages: [voteResponse],
      committed: [entry],
    }),
  );
  driver.start();
  await flush();
  expect(events).toEqual(['save', 'apply']);
  waiting.shift()?.resolve();
  await flush();
  expect(events).toEqual(['save', 'apply', 'saved', 'send vote-response', 'advance']);
});

test('a snapshot is applied only once it is durable and the messages are sent', async () => {
  const { events, core, waiting, driver } = setup();
  const snapshot = {
    meta: { index: 5, term: 1, membership: { voters: [1, 2], observers: [] } },
    data: Uint8Array.of(1),
  };
  const response: RaftMessage = {
    type: 'snapshot-response',
    from: 1,
    to: 2,
    term: 1,
    matchIndex: 5,
    success: true,
  };
  core.script.push(ready({ snapshot, messages: [response] }));
  driver.start();
  await flush();
  expect(events).toEqual(['save']);
  waiting.shift()?.resolve();
  await flush();
  expect(events).toEqual(['save', 'saved', 'send snapshot-response', 'apply', 'advance']);
});

test('a leader round of appends only sends while its own sync is in flight', async () => {
  const { events, core, waiting, driver } = setup();
  core.script.push(ready({ entries: [entry], messages: [append] }));
  driver.start();
  await flush();
  expect(events).toEqual(['send append-request', 'save', 'apply']);
  waiting.shift()?.resolve();
  await flush();
  expect(events).toEqual(['send append-request', 'save', 'apply', 'saved', 'advance']);
});

test('one round at a time; messages stepped during a sync go into the next round', async () => {
  const { events, core, waiting, deliver, driver } = setup();
  core.script.push(ready({ entries: [entry] }), ready({ entries: [{ ...entry, index: 2 }] }));
  driver.start();
  await flush();
  deliver(voteResponse);
  driver.kick();
  await flush();
  expect(events).toEqual(['save', 'apply', 'step vote-response']);
  waiting.shift()?.resolve();
  await flush();
  expect(events).toEqual([
    'save',
    'apply',
    'step vote-response',
    'saved',
    'advance',
    'save',
    'apply',
  ]);
  waiting.shift()?.resolve();
  await flush();
  expect(driver.counters).toMatchObject({ rounds: 2, persistedEntries: 2 });
});

test('ticks come from the injected clock and stop with the driver', async () => {
  const { core, fire, driver } = setup();
  driver.start();
  fire();
  fire();
  expect(core.ticks).toBe(2);
  await driver.stop();
  fire();
  expect(core.ticks).toBe(2);
});

test('an idle core is not woken for ticks that only count; they arrive before the next message', () => {
  const events: string[] = [];
  const core = new ScriptedCore(events);
  const { storage } = manualStorage(events);
  const { transport, deliver } = recordingTransport(events);
  const clock = new ManualClock();
  core.quiet = 5;
  const driver = new RaftDriver(
    { tickMs: 50 },
    { core, storage, transport, clock, apply: () => undefined, onFatal: () => undefined },
  );
  driver.start();
  expect(clock.pendingTimers).toBe(1);
  clock.advance(249);
  expect(core.ticks).toBe(0);
  clock.advance(1);
  expect(core.ticks).toBe(5);
  // A message 120 ms later first gets the two ticks that passed (the third may act: it waits).
  clock.advance(120);
  core.quiet = 3; // What a real core answers then, the message having changed nothing.
  deliver(voteResponse);
  expect(core.ticksAtStep).toEqual([7]);
  clock.advance(130);
  expect(core.ticks).toBe(10);
  // The core now wants every tick (a leader with a heartbeat due): the driver wakes each one.
  core.quiet = 1;
  driver.kick();
  clock.advance(50);
  expect(core.ticks).toBe(11);
  clock.advance(50);
  expect(core.ticks).toBe(12);
  void driver.stop();
  expect(clock.pendingTimers).toBe(0);
});

test('a failed save stops the driver and reports the error; nothing is sent', async () => {
  const { events, core, waiting, fatal, driver } = setup();
  core.script.push(ready({ hardState: { term: 3, vote: 3, commit: 0 }, messages: [voteResponse] }));
  driver.start();
  await flush();
  waiting.shift()?.reject(new Error('disk full'));
  await flush();
  expect(fatal).toEqual([new Error('disk full')]);
  expect(events).toEqual(['save', 'apply']);
  expect(driver.isRunning).toBe(false);
});
