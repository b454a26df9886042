// Goal: the controller (its shell running ControllerCore) — in-memory sessions from heartbeat
// requests, fencing by timeout and by a refused probe, failover from the ISR, offline
// partitions, restarts, controlled shutdown, preferred leaders, ineligible replicas — acts
// exactly as controller-decisions.ts decides, and only while its node leads the metadata group.
// Method: a MetadataImage behind an in-memory one-node log, a ManualClock, and passes run by
// the test (runPass) after moving the clock; no timers fire on their own, nothing sleeps.
import { expect, test } from 'vitest';
import {
  Controller,
  MetadataImage,
  type MetadataCommand,
  type PartitionImage,
  type ProbeOutcome,
} from '../../../src/broker/index.ts';
import type { MetadataLog, MetadataStatus } from '../../../src/raft/index.ts';
import { ManualClock } from '../../support/broker/manual-clock.ts';
import { MemoryMetadataLog } from '../../support/broker/memory-metadata-log.ts';

const sessionTimeoutMs = 1_000;
const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** The memory log, plus leadership the test controls. */
class LeaderLog implements MetadataLog<MetadataCommand> {
  readonly #log: MemoryMetadataLog<MetadataCommand>;
  readonly #listeners: ((leaderId: number | null, term: number) => void)[] = [];
  constructor(image: MetadataImage) {
    this.#log = new MemoryMetadataLog(1, image);
  }
  start(): Promise<void> {
    return this.#log.start();
  }
  stop(): Promise<void> {
    return this.#log.stop();
  }
  propose(command: MetadataCommand): Promise<{ index: number; result: unknown }> {
    return this.#log.propose(command);
  }
  barrier(): Promise<void> {
    return this.#log.barrier();
  }
  status(): MetadataStatus {
    return this.#log.status();
  }
  /** Applies a command as if another node had proposed it. */
  commit(command: MetadataCommand): unknown {
    return this.#log.commit(command);
  }
  onLeaderChange(listener: (leaderId: number | null, term: number) => void): void {
    this.#listeners.push(listener);
  }
  elect(leaderId: number | null): void {
    for (const listener of this.#listeners) listener(leaderId, 1);
  }
}

function setup(options: { nodes?: number; preferredLeaderIntervalMs?: number } = {}) {
  const clock = new ManualClock();
  const image = new MetadataImage();
  const log = new LeaderLog(image);
  const observersAdded: number[] = [];
  /** What a probe of each node's URL answers ('open' unless set); every probe is recorded. */
  const probeOutcomes = new Map<string, ProbeOutcome | Promise<ProbeOutcome>>();
  const probed: string[] = [];
  const controller = new Controller(
    {
      nodeId: 1,
      sessionTimeoutMs,
      checkIntervalMs: 100,
      preferredLeaderIntervalMs: options.preferredLeaderIntervalMs ?? 0,
      voterIds: [1, 2, 3],
      probeIntervalMs: 200,
      ineligiblePerNodeMax: 4,
    },
    {
      clock,
      image,
      metadata: log,
      membership: {
        setPeerAddress() {},
        addObserver: async (nodeId) => {
          observersAdded.push(nodeId);
        },
      },
      probe: (url) => {
        probed.push(url);
        return Promise.resolve(probeOutcomes.get(url) ?? 'open');
      },
      logger: silentLogger,
    },
  );
  const epochs = new Map<number, number>();
  const register = (id: number, incarnation = 'a'): void => {
    const url = `http://n${id}`;
    const result = log.commit({
      type: 'register-node',
      nodeId: id,
      url,
      incarnationId: incarnation,
    });
    epochs.set(id, (result as { brokerEpoch: number }).brokerEpoch);
  };
  const heartbeat = (id: number, ineligible: { topic: string; partition: number }[] = []) =>
    controller.handleHeartbeat({ nodeId: id, brokerEpoch: epochs.get(id)!, ineligible });
  for (let id = 1; id <= (options.nodes ?? 3); id += 1) register(id);
  const partition = (topic: string, p: number): PartitionImage => image.partition(topic, p)!;
  return {
    clock,
    image,
    log,
    controller,
    register,
    heartbeat,
    epochs,
    partition,
    observersAdded,
    probeOutcomes,
    probed,
  };
}

test('does nothing while its node does not lead the metadata group', async () => {
  const { clock, image, controller } = setup();
  clock.advance(10 * sessionTimeoutMs);
  await controller.runPass();
  expect(controller.isActive).toBe(false);
  expect(image.nodes().map((n) => n.status)).toEqual(['alive', 'alive', 'alive']);
});

test('fences a node after a silent session, not before, and unfences it when it returns', async () => {
  const { clock, image, log, controller, heartbeat } = setup();
  log.elect(1);
  for (let step = 0; step < 4; step += 1) {
    clock.advance(sessionTimeoutMs / 2);
    heartbeat(1);
    heartbeat(2);
    await controller.runPass();
  }
  expect(image.node(3)?.status).toBe('fenced');
  expect(image.node(2)?.status).toBe('alive');
  clock.advance(10);
  heartbeat(3);
  await controller.runPass();
  expect(image.node(3)?.status).toBe('alive');
});

test('a new controller gives every node a fresh session', async () => {
  const { clock, image, log, controller } = setup();
  clock.advance(10 * sessionTimeoutMs); // Silence while nobody led: no one measured it.
  log.elect(1);
  await controller.runPass();
  expect(image.nodes().every((n) => n.status === 'alive')).toBe(true);
  clock.advance(sessionTimeoutMs + 1);
  await controller.runPass();
  expect(image.node(2)?.status).toBe('fenced');
});

test('a fenced leader is replaced by the first live ISR member, with new epochs', async () => {
  const { clock, log, controller, heartbeat, partition } = setup();
  log.commit({
    type: 'create-topic',
    name: 't',
    topicId: 'id-t',
    partitions: [{ replicas: [3, 1, 2] }, { replicas: [1, 2, 3] }],
    configs: {},
  });
  log.elect(1);
  const before = partition('t', 0);
  clock.advance(sessionTimeoutMs + 1);
  heartbeat(1);
  heartbeat(2);
  await controller.runPass();
  const after = partition('t', 0);
  expect(after.leader).toBe(1);
  expect(after.isr).toEqual([1, 2]);
  expect(after.leaderEpoch).toBeGreaterThan(before.leaderEpoch);
  expect(after.partitionEpoch).toBeGreaterThan(before.partitionEpoch);
  // The follower's partition keeps its leader and epoch; node 3 leaves its ISR.
  expect(partition('t', 1)).toMatchObject({ leader: 1, leaderEpoch: 0, isr: [1, 2] });
});

test('no live ISR member: offline with the ISR kept; back when an ISR member returns', async () => {
  const { clock, log, controller, heartbeat, partition } = setup();
  log.commit({
    type: 'create-topic',
    name: 'one',
    topicId: 'id-one',
    partitions: [{ replicas: [2] }],
    configs: {},
  });
  log.elect(1);
  clock.advance(sessionTimeoutMs + 1);
  heartbeat(1);
  heartbeat(3);
  await controller.runPass();
  expect(partition('one', 0)).toMatchObject({ leader: null, isr: [2], leaderEpoch: 1 });
  clock.advance(10);
  heartbeat(2);
  await controller.runPass(); // Unfences node 2 ...
  await controller.runPass(); // ... and then it leads again, in a new epoch.
  expect(partition('one', 0)).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 2 });
});

test('unclean.leader.election.enable lets a live out-of-sync replica lead', async () => {
  const { clock, log, controller, heartbeat, partition } = setup();
  log.commit({
    type: 'create-topic',
    name: 'u',
    topicId: 'id-u',
    partitions: [{ replicas: [2, 3] }],
    configs: { 'unclean.leader.election.enable': 'true' },
  });
  const p = partition('u', 0);
  log.commit({
    type: 'change-partition',
    topic: 'u',
    partition: 0,
    expectedPartitionEpoch: p.partitionEpoch,
    leader: 2,
    leaderEpoch: p.leaderEpoch,
    replicas: [2, 3],
    isr: [2],
  });
  log.elect(1);
  clock.advance(sessionTimeoutMs + 1);
  heartbeat(1);
  heartbeat(3);
  await controller.runPass();
  expect(partition('u', 0)).toMatchObject({ leader: 3, isr: [3] });
});

test('a new incarnation of a leader hands its partitions to the ISR and leaves it', async () => {
  const { log, controller, register, partition } = setup();
  log.commit({
    type: 'create-topic',
    name: 'r',
    topicId: 'id-r',
    partitions: [{ replicas: [2, 3, 1] }],
    configs: {},
  });
  log.elect(1);
  register(2, 'b'); // Node 2 restarted within its session: never fenced.
  await controller.runPass();
  expect(partition('r', 0)).toMatchObject({ leader: 3, isr: [3, 1], leaderEpoch: 1 });
});

test('issue 7: a new incarnation is fenced until no record names it leader', async () => {
  const { clock, image, log, controller, register, heartbeat, partition } = setup();
  log.commit({
    type: 'create-topic',
    name: 'r',
    topicId: 'id-r',
    partitions: [{ replicas: [2, 3, 1] }],
    configs: {},
  });
  log.commit({
    type: 'create-topic',
    name: 's',
    topicId: 'id-s',
    partitions: [{ replicas: [2] }],
    configs: {},
  });
  log.elect(1);
  clock.advance(10);
  register(2, 'b');
  // Fenced from its registration on: the records still name it leader of epochs it held.
  expect(image.node(2)).toMatchObject({ status: 'fenced' });
  expect(partition('r', 0)).toMatchObject({ leader: 2, leaderEpoch: 0 });
  clock.advance(10);
  expect(heartbeat(2)).toEqual({ ok: true, fenced: true, shuttingDown: false });
  const applied: string[] = [];
  image.onApplied((command) => {
    if (command.type === 'unfence-node') applied.push(`unfence ${command.nodeId}`);
    if (command.type === 'change-partition') {
      applied.push(`${command.topic}/${command.partition} leader ${command.leader}`);
    }
  });
  // One pass moves the leadership away; the pass after it (run at once) unfences the node,
  // and the next elects it where only it can lead, in an epoch after its registration.
  await controller.runPass();
  expect(applied).toEqual(['r/0 leader 3', 's/0 leader null', 'unfence 2', 's/0 leader 2']);
  expect(image.node(2)).toMatchObject({ status: 'alive' });
  expect(partition('r', 0)).toMatchObject({ leader: 3, isr: [3, 1], leaderEpoch: 1 });
  expect(partition('s', 0)).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 2 });
});

test('controlled shutdown moves leadership at once and heartbeats do not undo it', async () => {
  const { clock, image, log, controller, heartbeat, epochs, partition } = setup();
  log.commit({
    type: 'create-topic',
    name: 's',
    topicId: 'id-s',
    partitions: [{ replicas: [2, 1, 3] }],
    configs: {},
  });
  log.elect(1);
  log.commit({ type: 'controlled-shutdown', nodeId: 2, brokerEpoch: epochs.get(2)! });
  await controller.runPass();
  expect(partition('s', 0)).toMatchObject({ leader: 1, isr: [1, 3] });
  clock.advance(10);
  heartbeat(2);
  await controller.runPass();
  expect(image.node(2)).toMatchObject({ status: 'fenced', shuttingDown: true });
});

test('preferred-leader election moves leadership back on its timer', async () => {
  const { clock, log, controller, heartbeat, partition } = setup({
    preferredLeaderIntervalMs: 5_000,
  });
  log.commit({
    type: 'create-topic',
    name: 'p',
    topicId: 'id-p',
    partitions: [{ replicas: [2, 1, 3] }],
    configs: {},
  });
  const p = partition('p', 0);
  log.commit({
    type: 'change-partition',
    topic: 'p',
    partition: 0,
    expectedPartitionEpoch: p.partitionEpoch,
    leader: 1,
    leaderEpoch: p.leaderEpoch + 1,
    replicas: [2, 1, 3],
    isr: [2, 1, 3],
  });
  log.elect(1);
  const beat = (): void => [1, 2, 3].forEach((id) => heartbeat(id));
  clock.advance(500);
  beat();
  await controller.runPass();
  expect(partition('p', 0).leader).toBe(1); // Not due yet.
  for (let i = 0; i < 10; i += 1) {
    clock.advance(500);
    beat();
    await controller.runPass();
  }
  expect(partition('p', 0)).toMatchObject({ leader: 2, leaderEpoch: 2 });
});

test('nodes outside the voters are added as observers once', async () => {
  const { log, controller, register, observersAdded } = setup();
  log.elect(1);
  register(7);
  await controller.runPass();
  await controller.runPass();
  expect(observersAdded).toEqual([7]);
});

test('a deposed controller stops acting', async () => {
  const { clock, image, log, controller } = setup();
  log.elect(1);
  log.elect(2);
  clock.advance(10 * sessionTimeoutMs);
  await controller.runPass();
  expect(image.nodes().every((n) => n.status === 'alive')).toBe(true);
});

test('a reassignment adds, waits for the ISR, moves the leader, drops, and ends', async () => {
  const { log, controller, register, partition } = setup();
  register(4);
  log.commit({
    type: 'create-topic',
    name: 'm',
    topicId: 'id-m',
    partitions: [{ replicas: [1, 2, 3] }],
    configs: {},
  });
  log.elect(1);
  log.commit({ type: 'reassign-partition', topic: 'm', partition: 0, targetReplicas: [4, 2] });
  await controller.runPass();
  expect(partition('m', 0)).toMatchObject({ replicas: [4, 2, 1, 3], isr: [1, 2, 3], leader: 1 });
  await controller.runPass();
  expect(partition('m', 0).replicas).toEqual([4, 2, 1, 3]); // Waits: 4 is not in the ISR yet.
  const caughtUp = partition('m', 0);
  // The leader reports node 4 caught up (what the data plane sends as AlterPartition).
  expect(
    log.commit({
      type: 'alter-isr',
      topic: 'm',
      partition: 0,
      leaderId: 1,
      leaderEpoch: caughtUp.leaderEpoch,
      partitionEpoch: caughtUp.partitionEpoch,
      newIsr: [1, 2, 3, 4],
    }),
  ).toMatchObject({ ok: true });
  await controller.runPass(); // Moves the leader into the target ...
  expect(partition('m', 0)).toMatchObject({ leader: 4, leaderEpoch: caughtUp.leaderEpoch + 1 });
  await controller.runPass(); // ... drops the old replicas ...
  expect(partition('m', 0)).toMatchObject({ replicas: [4, 2], isr: [2, 4], leader: 4 });
  await controller.runPass(); // ... and ends the reassignment.
  expect(partition('m', 0).targetReplicas).toBeUndefined();
});

test('controlled shutdown leaves a partition no one else can lead with its node', async () => {
  const { log, controller, epochs, partition } = setup();
  log.commit({
    type: 'create-topic',
    name: 'solo',
    topicId: 'id-solo',
    partitions: [{ replicas: [2] }],
    configs: {},
  });
  log.elect(1);
  log.commit({ type: 'controlled-shutdown', nodeId: 2, brokerEpoch: epochs.get(2)! });
  await controller.runPass();
  expect(partition('solo', 0)).toMatchObject({ leader: 2, leaderEpoch: 0 });
});

test('heartbeats are answered from memory and append nothing to the log', async () => {
  const { clock, log, controller, heartbeat, epochs } = setup();
  expect(heartbeat(2)).toMatchObject({ ok: false, code: 'NOT_CONTROLLER' });
  log.elect(1);
  await controller.runPass();
  const before = log.status().commitIndex;
  for (let step = 0; step < 20; step += 1) {
    clock.advance(sessionTimeoutMs / 3);
    for (const id of [1, 2, 3]) {
      expect(heartbeat(id)).toEqual({ ok: true, fenced: false, shuttingDown: false });
    }
    await controller.runPass();
  }
  expect(log.status().commitIndex).toBe(before); // An idle cluster appends nothing.
  const stale = { nodeId: 2, brokerEpoch: epochs.get(2)! + 100, ineligible: [] };
  expect(controller.handleHeartbeat(stale)).toMatchObject({ code: 'STALE_BROKER_EPOCH' });
  const unknown = { nodeId: 9, brokerEpoch: 1, ineligible: [] };
  expect(controller.handleHeartbeat(unknown)).toMatchObject({ code: 'UNKNOWN_NODE' });
  const many = Array.from({ length: 5 }, (_, partition) => ({ topic: 't', partition }));
  expect(heartbeat(2, many)).toMatchObject({ code: 'INVALID_REQUEST' });
});

test('a refused probe fences at once and moves leadership in the same pass', async () => {
  const { clock, image, log, controller, partition, probeOutcomes, probed } = setup();
  log.commit({
    type: 'create-topic',
    name: 'f',
    topicId: 'id-f',
    partitions: [{ replicas: [2, 1, 3] }],
    configs: {},
  });
  log.elect(1);
  await controller.runPass();
  expect(probed.sort()).toEqual(['http://n2', 'http://n3']); // A new controller probes all.
  probeOutcomes.set('http://n2', 'refused');
  clock.advance(300); // Past the probe interval of the takeover probe.
  controller.reportUnreachable(2);
  await until(() => image.node(2)?.status === 'fenced');
  await controller.runPass();
  expect(partition('f', 0)).toMatchObject({ leader: 1, isr: [1, 3], leaderEpoch: 1 });
});

test('an open or timed-out probe fences nothing; reports are rate-limited', async () => {
  const { clock, image, log, controller, probeOutcomes, probed } = setup();
  log.elect(1);
  await controller.runPass();
  probed.length = 0;
  probeOutcomes.set('http://n3', 'timeout');
  clock.advance(300);
  controller.reportUnreachable(2);
  controller.reportUnreachable(2);
  controller.reportUnreachable(3);
  controller.reportUnreachable(1); // Itself: never probed.
  await controller.runPass();
  await controller.runPass();
  expect(probed.sort()).toEqual(['http://n2', 'http://n3']);
  expect(image.nodes().map((n) => n.status)).toEqual(['alive', 'alive', 'alive']);
});

test('a probe refused by an old incarnation does not fence the new one', async () => {
  const { clock, image, log, controller, register, probeOutcomes } = setup();
  log.elect(1);
  await controller.runPass();
  let release: (outcome: ProbeOutcome) => void = () => {};
  const slow = new Promise<ProbeOutcome>((resolve) => {
    release = resolve;
  });
  probeOutcomes.set('http://n2', slow);
  clock.advance(300);
  controller.reportUnreachable(2);
  register(2, 'b'); // The node restarted between the report and the probe's answer.
  release('refused');
  await slow;
  await until(() => true);
  await controller.runPass();
  await controller.runPass();
  expect(image.node(2)?.status).toBe('alive');
});

test('replicas reported ineligible are not elected; eligible ones are', async () => {
  const { clock, log, controller, heartbeat, partition } = setup();
  log.commit({
    type: 'create-topic',
    name: 'e',
    topicId: 'id-e',
    partitions: [{ replicas: [3, 2, 1] }, { replicas: [3, 2, 1] }],
    configs: {},
  });
  log.elect(1);
  clock.advance(sessionTimeoutMs + 1);
  expect(heartbeat(2, [{ topic: 'e', partition: 0 }])).toMatchObject({ ok: true });
  heartbeat(1);
  await controller.runPass(); // Node 3 is fenced: its partitions need a new leader.
  expect(partition('e', 0).leader).toBe(1); // Node 2 said it may not lead e-0.
  expect(partition('e', 1).leader).toBe(2);
});

/** Lets probes (resolved promises) and the passes they kick run. */
async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !predicate(); i += 1) await new Promise((r) => setImmediate(r));
  expect(predicate()).toBe(true);
}
