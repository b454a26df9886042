// Goal: the `alter-isr` metadata command (Kafka's AlterPartition) is validated at apply time
// against the committed partition record: leader epoch, partition-epoch compare-and-set, ISR
// shape and liveness; and `controlled-shutdown` fences a node for the rest of its incarnation.
// Method: a MetadataImage applied by hand, as every node applies the committed log.
import { expect, test } from 'vitest';
import { MetadataImage, type MetadataCommand } from '../../../src/broker/index.ts';

function setup() {
  const image = new MetadataImage();
  let index = 0;
  const apply = (command: MetadataCommand) => image.apply(command, ++index);
  const epochs: number[] = [];
  for (const id of [1, 2, 3]) {
    const result = apply({
      type: 'register-node',
      nodeId: id,
      url: `http://n${id}`,
      incarnationId: 'a',
    });
    epochs[id] = (result as { brokerEpoch: number }).brokerEpoch;
  }
  apply({
    type: 'create-topic',
    name: 't',
    topicId: 'x',
    partitions: [{ replicas: [1, 2, 3] }],
    configs: {},
  });
  return { image, apply, epochs };
}

const shrink = {
  type: 'alter-isr',
  topic: 't',
  partition: 0,
  leaderId: 1,
  leaderEpoch: 0,
} as const;

test('a valid ISR change bumps only the partition epoch and returns it', () => {
  const { image, apply } = setup();
  expect(apply({ ...shrink, partitionEpoch: 0, newIsr: [1, 2] })).toEqual({
    ok: true,
    partitionEpoch: 1,
  });
  expect(image.partition('t', 0)).toMatchObject({
    leader: 1,
    leaderEpoch: 0,
    isr: [1, 2],
    partitionEpoch: 1,
  });
  image.checkInvariants();
});

test('a stale partition epoch loses the compare-and-set', () => {
  const { image, apply } = setup();
  apply({ ...shrink, partitionEpoch: 0, newIsr: [1, 2] });
  expect(apply({ ...shrink, partitionEpoch: 0, newIsr: [1, 3] })).toMatchObject({
    ok: false,
    code: 'INVALID_UPDATE_VERSION',
  });
  expect(image.partition('t', 0)?.isr).toEqual([1, 2]);
});

test('a deposed leader is fenced; a malformed ISR is refused; a fenced member is ineligible', () => {
  const { apply, epochs } = setup();
  expect(apply({ ...shrink, leaderEpoch: 1, partitionEpoch: 0, newIsr: [1] })).toMatchObject({
    code: 'FENCED_LEADER_EPOCH',
  });
  expect(apply({ ...shrink, leaderId: 2, partitionEpoch: 0, newIsr: [2] })).toMatchObject({
    code: 'FENCED_LEADER_EPOCH',
  });
  expect(apply({ ...shrink, partitionEpoch: 0, newIsr: [2, 3] })).toMatchObject({
    code: 'INVALID_REQUEST',
  });
  apply({ ...shrink, partitionEpoch: 0, newIsr: [1, 2] });
  apply({ type: 'fence-node', nodeId: 3, brokerEpoch: epochs[3]! });
  expect(apply({ ...shrink, partitionEpoch: 1, newIsr: [1, 2, 3] })).toMatchObject({
    code: 'INELIGIBLE_REPLICA',
  });
});

test('controlled shutdown fences until the node registers a new incarnation', () => {
  const { image, apply, epochs } = setup();
  apply({ type: 'controlled-shutdown', nodeId: 2, brokerEpoch: epochs[2]! });
  expect(image.node(2)).toMatchObject({ status: 'fenced', shuttingDown: true });
  expect(apply({ type: 'unfence-node', nodeId: 2, brokerEpoch: epochs[2]! })).toMatchObject({
    ok: false,
  });
  const registered = apply({
    type: 'register-node',
    nodeId: 2,
    url: 'http://n2',
    incarnationId: 'b',
  });
  // The new incarnation registers fenced (issue 7) until the controller unfences it.
  expect(image.node(2)).toMatchObject({ status: 'fenced', shuttingDown: false });
  const brokerEpoch = (registered as { brokerEpoch: number }).brokerEpoch;
  expect(apply({ type: 'unfence-node', nodeId: 2, brokerEpoch })).toEqual({ ok: true });
  expect(image.node(2)).toMatchObject({ status: 'alive', shuttingDown: false });
  const restored = new MetadataImage();
  restored.restore(image.snapshot());
  expect(restored.node(2)).toEqual(image.node(2));
});
