// Goal: whatever the metadata log holds, apply never throws, the image keeps its invariants,
// two nodes applying the same log agree, and snapshot + replay equals a full replay.
// Method: fast-check sequences mixing well-formed commands over a few ids with garbage; the
// seed is printed so a failure replays with `seed` in fc.assert's parameters.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { MetadataImage, type MetadataCommand } from '../../../src/broker/index.ts';

const nodeId = fc.integer({ min: 1, max: 4 });
const topicName = fc.constantFrom('a', 'b', 'c', '..', 'x/y');
const replicas = fc.uniqueArray(nodeId, { minLength: 1, maxLength: 3 });

const command: fc.Arbitrary<MetadataCommand> = fc.oneof(
  fc.record({ type: fc.constant('init-cluster'), clusterId: fc.string({ maxLength: 8 }) }),
  fc.record({
    type: fc.constant('register-node'),
    nodeId,
    url: fc.constant('http://n'),
    incarnationId: fc.constantFrom('i1', 'i2'),
  }),
  fc.record({
    // node-heartbeat: a retired record an old log may still hold (applied as a no-op).
    type: fc.constantFrom('node-heartbeat', 'fence-node', 'unfence-node') as fc.Arbitrary<
      'fence-node' | 'unfence-node'
    >,
    nodeId,
    brokerEpoch: fc.integer({ min: 0, max: 30 }),
    wallMs: fc.nat(),
  }),
  fc.record({
    type: fc.constant('create-topic'),
    name: topicName,
    topicId: fc.constantFrom('t1', 't2'),
    partitions: fc.array(fc.record({ replicas }), { maxLength: 3 }),
    configs: fc.dictionary(
      fc.constantFrom('retention.ms', 'segment.bytes', 'log.flush', 'bogus'),
      fc.constantFrom('1000', '4096', 'never', 'x'),
    ),
  }),
  fc.record({ type: fc.constant('delete-topic'), name: topicName }),
  fc.record({
    type: fc.constant('change-partition'),
    topic: topicName,
    partition: fc.integer({ min: 0, max: 3 }),
    expectedPartitionEpoch: fc.integer({ min: 0, max: 3 }),
    leader: fc.option(nodeId, { nil: null }),
    leaderEpoch: fc.integer({ min: 0, max: 5 }),
    replicas,
    isr: fc.uniqueArray(nodeId, { maxLength: 3 }),
  }),
  fc.record({
    type: fc.constant('set-topic-config'),
    topic: topicName,
    configs: fc.dictionary(
      fc.constantFrom('retention.ms', 'min.insync.replicas'),
      fc.option(fc.constantFrom('5', '-3', 'y'), { nil: null }),
    ),
  }),
  fc.anything().map((value) => value as MetadataCommand),
) as fc.Arbitrary<MetadataCommand>;

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

test('apply is total and deterministic; snapshot + replay equals replay', () => {
  const seed = Date.now() ^ (Math.random() * 0x7fffffff);
  console.log(`metadata-image property seed=${seed}`);
  fc.assert(
    fc.property(fc.array(command, { maxLength: 60 }), fc.nat(), (commands, cutSeed) => {
      const first = new MetadataImage();
      const second = new MetadataImage();
      const cut = commands.length === 0 ? 0 : cutSeed % (commands.length + 1);
      const prefix = new MetadataImage();
      commands.forEach((c, i) => {
        const a = first.apply(c, i + 1);
        const b = second.apply(structuredClone(c), i + 1);
        expect(b).toEqual(a);
        first.checkInvariants();
        if (i < cut) prefix.apply(c, i + 1);
      });
      const restored = new MetadataImage();
      restored.restore(prefix.snapshot());
      commands.slice(cut).forEach((c, i) => restored.apply(c, cut + i + 1));
      restored.checkInvariants();
      expect(text(restored.snapshot())).toBe(text(first.snapshot()));
      expect(text(second.snapshot())).toBe(text(first.snapshot()));
    }),
    { seed, numRuns: 300 },
  );
});
