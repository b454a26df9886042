// Goal: the metadata state machine applies every command deterministically, refuses bad ones
// with a typed result instead of throwing, and snapshots and restores exactly.
// Method: apply command sequences to fresh images; compare results, state and snapshots.
import { describe, expect, test } from 'vitest';
import {
  MetadataImage,
  type MetadataCommand,
  type MetadataResult,
} from '../../../src/broker/index.ts';

function imageWith(commands: readonly MetadataCommand[]): {
  image: MetadataImage;
  results: MetadataResult[];
} {
  const image = new MetadataImage();
  const results = commands.map((command, i) => image.apply(command, i + 1));
  image.checkInvariants();
  return { image, results };
}

const register = (nodeId: number, incarnationId = `inc-${nodeId}`): MetadataCommand => ({
  type: 'register-node',
  nodeId,
  url: `http://127.0.0.1:${9090 + nodeId}`,
  incarnationId,
});

const createTopic = (name: string, replicas: number[][]): MetadataCommand => ({
  type: 'create-topic',
  name,
  topicId: `id-${name}`,
  partitions: replicas.map((r) => ({ replicas: r })),
  configs: {},
});

describe('nodes', () => {
  test('registration assigns the log index as broker epoch; re-registration a new one', () => {
    const { image, results } = imageWith([register(1), register(2), register(1, 'again')]);
    expect(results[0]).toEqual({ ok: true, brokerEpoch: 1 });
    expect(results[2]).toEqual({ ok: true, brokerEpoch: 3 });
    expect(image.node(1)?.brokerEpoch).toBe(3);
    expect(image.nodes().map((n) => n.id)).toEqual([1, 2]);
  });

  test('a retried registration of the same incarnation keeps its epoch', () => {
    const { results } = imageWith([register(1), register(1)]);
    expect(results[1]).toEqual({ ok: true, brokerEpoch: 1 });
  });

  test('fencing checks the broker epoch; old heartbeat records change nothing', () => {
    // Heartbeats left the log; a record an older version wrote is accepted and ignored.
    const retired = (nodeId: number, brokerEpoch: number): MetadataCommand =>
      ({ type: 'node-heartbeat', nodeId, brokerEpoch, wallMs: 1234 }) as unknown as MetadataCommand;
    const { image, results } = imageWith([
      register(1),
      retired(1, 1),
      retired(1, 7),
      { type: 'fence-node', nodeId: 1, brokerEpoch: 0 },
      { type: 'fence-node', nodeId: 1, brokerEpoch: 1 },
      retired(9, 1),
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual([
      'ok',
      'ok',
      'ok',
      'STALE_BROKER_EPOCH',
      'ok',
      'ok',
    ]);
    expect(image.node(1)).toEqual({
      id: 1,
      url: expect.any(String),
      brokerEpoch: 1,
      incarnationId: expect.any(String),
      status: 'fenced',
      shuttingDown: false,
    });
    expect(image.node(9)).toBeUndefined();
  });

  test('the first init-cluster wins', () => {
    const { image } = imageWith([
      { type: 'init-cluster', clusterId: 'a' },
      { type: 'init-cluster', clusterId: 'b' },
    ]);
    expect(image.clusterId).toBe('a');
  });
});

describe('topics', () => {
  test('create-topic makes the first replica leader and every replica in-sync', () => {
    const { image, results } = imageWith([
      register(1),
      register(2),
      createTopic('t', [
        [2, 1],
        [1, 2],
      ]),
    ]);
    expect(results[2]).toEqual({ ok: true });
    expect(image.partition('t', 0)).toEqual({
      partition: 0,
      replicas: [2, 1],
      leader: 2,
      leaderEpoch: 0,
      isr: [2, 1],
      partitionEpoch: 0,
    });
    expect(image.topic('t')?.config.minInsyncReplicas).toBe(1);
  });

  test.each([
    ['duplicate name', createTopic('a', [[1]]), 'TOPIC_ALREADY_EXISTS'],
    ['bad name', createTopic('a/b', [[1]]), 'INVALID_TOPIC_EXCEPTION'],
    ['dot-dot', createTopic('..', [[1]]), 'INVALID_TOPIC_EXCEPTION'],
    ['no partitions', createTopic('b', []), 'INVALID_PARTITIONS'],
    ['unknown node', createTopic('b', [[5]]), 'INVALID_REPLICATION_FACTOR'],
    ['repeated replica', createTopic('b', [[1, 1]]), 'INVALID_REPLICATION_FACTOR'],
    ['uneven replication', createTopic('b', [[1], [1, 2]]), 'INVALID_REPLICATION_FACTOR'],
    [
      'bad config',
      { ...createTopic('b', [[1]]), configs: { 'retention.ms': 'soon' } } as MetadataCommand,
      'INVALID_CONFIG',
    ],
    [
      'unknown config',
      { ...createTopic('b', [[1]]), configs: { 'no.such': '1' } } as MetadataCommand,
      'INVALID_CONFIG',
    ],
  ])('create-topic refuses: %s', (_name, command, code) => {
    const { results } = imageWith([register(1), register(2), createTopic('a', [[1]]), command]);
    expect(results[3]).toMatchObject({ ok: false, code });
  });

  test('delete-topic removes it; a second delete is refused', () => {
    const { image, results } = imageWith([
      register(1),
      createTopic('t', [[1]]),
      { type: 'delete-topic', name: 't' },
      { type: 'delete-topic', name: 't' },
    ]);
    expect(image.topic('t')).toBeUndefined();
    expect(results[3]).toMatchObject({ ok: false, code: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  test('set-topic-config merges, removes with null, and validates the result', () => {
    const { image, results } = imageWith([
      register(1),
      { ...createTopic('t', [[1]]), configs: { 'retention.ms': '1000' } } as MetadataCommand,
      { type: 'set-topic-config', topic: 't', configs: { 'segment.bytes': '4096' } },
      { type: 'set-topic-config', topic: 't', configs: { 'retention.ms': null } },
      { type: 'set-topic-config', topic: 't', configs: { 'log.flush': 'sometimes' } },
    ]);
    expect(results[4]).toMatchObject({ ok: false, code: 'INVALID_CONFIG' });
    expect(image.topic('t')?.configs).toEqual({ 'segment.bytes': '4096' });
    expect(image.topic('t')?.config.segmentBytes).toBe(4096);
  });
});

describe('change-partition', () => {
  const base = [register(1), register(2), register(3), createTopic('t', [[1, 2, 3]])];
  const change = (over: Partial<Extract<MetadataCommand, { type: 'change-partition' }>>) =>
    ({
      type: 'change-partition',
      topic: 't',
      partition: 0,
      expectedPartitionEpoch: 0,
      leader: 2,
      leaderEpoch: 1,
      replicas: [1, 2, 3],
      isr: [2, 3],
      ...over,
    }) as MetadataCommand;

  test('applies with the right partition epoch and bumps it', () => {
    const { image, results } = imageWith([...base, change({})]);
    expect(results[4]).toEqual({ ok: true });
    expect(image.partition('t', 0)).toMatchObject({ leader: 2, leaderEpoch: 1, partitionEpoch: 1 });
  });

  test.each([
    ['stale partition epoch', change({ expectedPartitionEpoch: 5 }), 'INVALID_UPDATE_VERSION'],
    ['isr outside replicas', change({ isr: [2, 4] }), 'INVALID_COMMAND'],
    ['leader outside replicas', change({ leader: 7 }), 'INVALID_COMMAND'],
    ['leader outside the isr', change({ leader: 1, isr: [2, 3] }), 'INVALID_COMMAND'],
    ['empty isr', change({ leader: null, isr: [] }), 'INVALID_COMMAND'],
    ['new leader, same epoch', change({ leaderEpoch: 0 }), 'INVALID_COMMAND'],
    ['unknown partition', change({ partition: 3 }), 'UNKNOWN_TOPIC_OR_PARTITION'],
  ])('refuses: %s', (_name, command, code) => {
    const { image, results } = imageWith([...base, command]);
    expect(results[4]).toMatchObject({ ok: false, code });
    expect(image.partition('t', 0)?.partitionEpoch).toBe(0);
  });
});

describe('hostile commands', () => {
  test.each([
    null,
    42,
    'x',
    {},
    { type: 'no-such-command' },
    { type: 'register-node', nodeId: -1, url: 'u', incarnationId: 'i' },
    { type: 'register-node', nodeId: 1, url: 5, incarnationId: 'i' },
    { type: 'create-topic', name: 't', topicId: 'i', partitions: 'many', configs: {} },
    { type: 'create-topic', name: 't', topicId: 'i', partitions: [null], configs: {} },
    { type: 'create-topic', name: 't', topicId: 'i', partitions: [{ replicas: [1] }], configs: 1 },
    { type: 'change-partition', topic: {}, partition: 'a' },
    { type: 'set-topic-config', topic: 't', configs: [1] },
    { type: 'delete-topic', name: ['t'] },
  ])('%j is refused without throwing', (command) => {
    const image = new MetadataImage();
    image.apply(register(1), 1);
    const result = image.apply(command as unknown as MetadataCommand, 2);
    expect(result.ok).toBe(false);
    image.checkInvariants();
  });
});

describe('snapshots', () => {
  test('restore reproduces the state; replay after it matches a full replay', () => {
    const commands: MetadataCommand[] = [
      { type: 'init-cluster', clusterId: 'c' },
      register(1),
      register(2),
      createTopic('a', [[1, 2]]),
      { ...createTopic('b', [[2], [1]]), configs: { 'retention.ms': '5' } } as MetadataCommand,
      { type: 'delete-topic', name: 'a' },
    ];
    const later: MetadataCommand[] = [
      createTopic('c', [[1]]),
      { type: 'fence-node', nodeId: 2, brokerEpoch: 3 },
    ];
    const full = imageWith([...commands, ...later]).image;
    const restored = new MetadataImage();
    restored.restore(imageWith(commands).image.snapshot());
    later.forEach((command, i) => restored.apply(command, commands.length + i + 1));
    restored.checkInvariants();
    expect(new TextDecoder().decode(restored.snapshot())).toBe(
      new TextDecoder().decode(full.snapshot()),
    );
    expect(restored.topic('b')?.config.retentionMs).toBe(5);
  });

  test('apply refuses to go backwards in the log', () => {
    const image = new MetadataImage();
    image.apply(register(1), 5);
    expect(() => image.apply(register(2), 5)).toThrow(/applied after/);
  });
});
