// Goal: LevelRaftStorage behaves like an array model of the Raft log under any sequence of
// appends (with conflicting suffixes), compactions, snapshots that replace the log, and
// reopens. Method: fast-check commands against real LevelDB in a tmpdir; the seed is printed
// and fast-check shrinks a failure to a minimal sequence.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { LevelRaftStorage, type Entry, type Snapshot } from '../../../src/raft/index.ts';

type Step =
  | {
      readonly kind: 'append';
      readonly back: number;
      readonly count: number;
      readonly bump: number;
    }
  | { readonly kind: 'compact'; readonly back: number }
  | { readonly kind: 'install'; readonly ahead: number; readonly bump: number }
  | { readonly kind: 'reopen' };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      back: fc.nat(6),
      count: fc.integer({ min: 1, max: 8 }),
      bump: fc.nat(2),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), back: fc.nat(6) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('install' as const),
      ahead: fc.integer({ min: -4, max: 5 }),
      bump: fc.nat(1),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

/** The model: the snapshot point and the entries after it. */
interface Model {
  snapshot: { index: number; term: number };
  entries: Entry[];
}

const membership = { voters: [1], observers: [] };
const lastIndex = (model: Model): number => model.snapshot.index + model.entries.length;
function termAt(model: Model, index: number): number | null {
  if (index === model.snapshot.index) return model.snapshot.term;
  return model.entries[index - model.snapshot.index - 1]?.term ?? null;
}

async function apply(storage: LevelRaftStorage, model: Model, step: Step): Promise<void> {
  const first = model.snapshot.index + 1;
  const last = lastIndex(model);
  if (step.kind === 'append') {
    const start = Math.max(first, last + 1 - step.back);
    const term = (termAt(model, start - 1) ?? 0) + step.bump + (start === 1 ? 1 : 0);
    const entries = Array.from({ length: step.count }, (_, i) => ({
      term,
      index: start + i,
      kind: 'command' as const,
      data: Uint8Array.of(start + i, term),
    }));
    await storage.save({ hardState: { term, vote: 1, commit: 0 }, snapshot: null, entries });
    model.entries = [...model.entries.slice(0, start - first), ...entries];
  } else if (step.kind === 'compact') {
    const index = last - step.back;
    if (index < first) return;
    const term = termAt(model, index) ?? 0;
    const snapshot: Snapshot = { meta: { index, term, membership }, data: Uint8Array.of(index) };
    await storage.save({ hardState: null, snapshot, entries: [] });
    model.entries = model.entries.slice(index - model.snapshot.index);
    model.snapshot = { index, term };
  } else if (step.kind === 'install') {
    // A leader's snapshot with a term newer than our whole log, inside it or past its end:
    // it disagrees with the log at its index, so the log is replaced.
    const index = last + step.ahead;
    const term = (termAt(model, last) ?? 0) + 1 + step.bump;
    if (index <= model.snapshot.index) return;
    const snapshot: Snapshot = { meta: { index, term, membership }, data: Uint8Array.of(term) };
    await storage.save({ hardState: { term, vote: null, commit: index }, snapshot, entries: [] });
    model.entries = [];
    model.snapshot = { index, term };
  }
}

async function check(storage: LevelRaftStorage, model: Model): Promise<void> {
  const first = model.snapshot.index + 1;
  const last = lastIndex(model);
  expect([storage.firstIndex(), storage.lastIndex()]).toEqual([first, last]);
  for (let index = Math.max(1, first - 2); index <= last + 2; index += 1) {
    expect(storage.term(index), `term(${index})`).toBe(
      index < model.snapshot.index ? null : termAt(model, index),
    );
  }
  expect(await storage.entries(first, last + 1)).toEqual(model.entries);
  expect(storage.snapshot()?.meta.index ?? 0).toBe(model.snapshot.index);
}

test('LevelRaftStorage matches an array model across appends, snapshots and reopens', async () => {
  const seed = Number(process.env['RILL_SEED'] ?? Date.now() % 2 ** 31);
  console.log(`level-raft-storage property seed=${seed} (replay with RILL_SEED=${seed})`);
  await fc.assert(
    fc.asyncProperty(fc.array(stepArbitrary, { minLength: 1, maxLength: 30 }), async (steps) => {
      const directory = mkdtempSync(join(tmpdir(), 'rill-raft-prop-'));
      let storage = new LevelRaftStorage({ directory, cachedEntryCountMax: 4 });
      try {
        await storage.open();
        const model: Model = { snapshot: { index: 0, term: 0 }, entries: [] };
        for (const step of steps) {
          if (step.kind === 'reopen') {
            await storage.close();
            storage = new LevelRaftStorage({ directory, cachedEntryCountMax: 4 });
            await storage.open();
          } else {
            await apply(storage, model, step);
          }
          await check(storage, model);
        }
      } finally {
        await storage.close();
        rmSync(directory, { recursive: true, force: true });
      }
    }),
    { seed, numRuns: 40 },
  );
});
