// Goal: producer ids in the metadata image (issue 9) — blocks never overlap whoever proposes
// them, ids and names survive a metadata snapshot (a controller failover restores from one),
// a name's epoch bumps and fences, a forged id or future epoch is unknown, and the names are
// bounded by producerNamesMax (the one started longest ago is dropped); blocks need no
// reclaiming: the image keeps one counter for them, whatever number were allocated, and ids
// running out (2^53) is a refusal, not a wrap.
// Method: commands applied to MetadataImage directly, as every node applies the log.
import { describe, expect, test } from 'vitest';
import { MetadataImage } from '../../../src/broker/index.ts';
import { producerIdLimits } from '../../../src/broker/producer-id-image.ts';

describe('producer ids in the metadata image', () => {
  test('blocks are consecutive and disjoint; the result names the first id', () => {
    const image = new MetadataImage();
    const a = image.apply({ type: 'allocate-producer-ids', nodeId: 1, count: 1000 }, 1);
    const b = image.apply({ type: 'allocate-producer-ids', nodeId: 2, count: 1000 }, 2);
    expect(a).toEqual({ ok: true, producerId: 0 });
    expect(b).toEqual({ ok: true, producerId: 1000 });
    const bad = image.apply({ type: 'allocate-producer-ids', nodeId: 2, count: 1001 }, 3);
    expect(bad).toMatchObject({ ok: false, code: 'INVALID_COMMAND' });
    expect(image.producerIds.nextProducerId).toBe(2000);
  });

  test('a name bumps its epoch; the old epoch is fenced, a future one unknown', () => {
    const image = new MetadataImage();
    image.apply({ type: 'allocate-producer-ids', nodeId: 1, count: 10 }, 1);
    const first = image.apply({ type: 'init-producer', name: 'p' }, 2);
    const second = image.apply({ type: 'init-producer', name: 'p' }, 3);
    expect(first).toEqual({ ok: true, producerId: 10, producerEpoch: 0 });
    expect(second).toEqual({ ok: true, producerId: 10, producerEpoch: 1 });
    const ids = image.producerIds;
    expect(ids.verdict(10, 1).kind).toBe('current');
    expect(ids.verdict(10, 0).kind).toBe('fenced');
    expect(ids.verdict(10, 2).kind).toBe('unknown');
    // An anonymous id's epoch is its producer's own (KIP-360 bump): the partition orders it.
    expect(ids.verdict(3, 0).kind).toBe('current');
    expect(ids.verdict(3, 1).kind).toBe('current');
    expect(ids.verdict(11, 0).kind).toBe('unknown'); // never issued
  });

  test('ids and names survive a snapshot restore (a new controller continues after them)', () => {
    const image = new MetadataImage();
    image.apply({ type: 'init-cluster', clusterId: 'c' }, 1);
    image.apply({ type: 'allocate-producer-ids', nodeId: 1, count: 5 }, 2);
    image.apply({ type: 'init-producer', name: 'p' }, 3);
    image.apply({ type: 'init-producer', name: 'p' }, 4);
    const restored = new MetadataImage();
    restored.restore(image.snapshot());
    expect(restored.producerIds.nextProducerId).toBe(6);
    expect(restored.apply({ type: 'init-producer', name: 'p' }, 5)).toEqual({
      ok: true,
      producerId: 5,
      producerEpoch: 2,
    });
    expect(restored.apply({ type: 'allocate-producer-ids', nodeId: 3, count: 5 }, 6)).toEqual({
      ok: true,
      producerId: 6,
    });
    restored.checkInvariants();
  });

  test('a snapshot from before producer ids restores to none issued', () => {
    const image = new MetadataImage();
    const old = JSON.parse(new TextDecoder().decode(image.snapshot()));
    delete old.producerIds;
    image.restore(new TextEncoder().encode(JSON.stringify(old)));
    expect(image.producerIds.nextProducerId).toBe(0);
  });

  test('names are bounded: the one started longest ago is dropped', () => {
    const image = new MetadataImage();
    let index = 1;
    for (let i = 0; i < producerIdLimits.producerNamesMax; i += 1) {
      image.apply({ type: 'init-producer', name: `n${i}` }, index++);
    }
    image.apply({ type: 'init-producer', name: 'n0' }, index++); // n0 is now the newest
    image.apply({ type: 'init-producer', name: 'extra' }, index++);
    expect(image.producerIds.namedCount).toBe(producerIdLimits.producerNamesMax);
    expect(image.producerIds.named('n1')).toBeUndefined();
    expect(image.producerIds.named('n0')?.producerEpoch).toBe(1);
    const long = 'x'.repeat(producerIdLimits.producerNameCharsMax + 1);
    expect(image.apply({ type: 'init-producer', name: long }, index++)).toMatchObject({
      ok: false,
    });
    image.checkInvariants();
  });

  test('allocated blocks cost the image nothing: one counter; exhaustion is refused', () => {
    const image = new MetadataImage();
    const producerIds = () => JSON.parse(new TextDecoder().decode(image.snapshot())).producerIds;
    image.apply({ type: 'allocate-producer-ids', nodeId: 1, count: 1000 }, 1);
    expect(producerIds()).toEqual({ nextProducerId: 1000, names: [] });
    for (let i = 0; i < 10_000; i += 1) {
      image.apply({ type: 'allocate-producer-ids', nodeId: i % 3, count: 1000 }, i + 2);
    }
    expect(image.producerIds.nextProducerId).toBe(10_001_000);
    // Whatever the number of blocks, the image holds the next id and the (bounded) names.
    expect(producerIds()).toEqual({ nextProducerId: 10_001_000, names: [] });
    const full = new MetadataImage();
    full.restore(
      new TextEncoder().encode(
        JSON.stringify({
          ...JSON.parse(new TextDecoder().decode(full.snapshot())),
          producerIds: { nextProducerId: producerIdLimits.producerIdMax - 10, names: [] },
        }),
      ),
    );
    const refused = full.apply({ type: 'allocate-producer-ids', nodeId: 1, count: 11 }, 1);
    expect(refused).toMatchObject({ ok: false, code: 'INVALID_COMMAND' });
    expect(full.apply({ type: 'allocate-producer-ids', nodeId: 1, count: 10 }, 2)).toEqual({
      ok: true,
      producerId: producerIdLimits.producerIdMax - 10,
    });
    expect(full.apply({ type: 'init-producer', name: 'late' }, 3)).toMatchObject({ ok: false });
    full.checkInvariants();
  });
});
