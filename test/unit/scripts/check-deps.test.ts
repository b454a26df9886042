// Goal: scripts/check-deps.ts fails on what issue 7 names: an import cycle inside a folder or
// across folders, the server importing the client, the cli importing broker internals, a
// module entered past its index.ts, an errors.ts catalog that is not a leaf; and passes the
// real tree and a tree that keeps the rules.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { checkDeps } from '../../../scripts/check-deps.ts';

let dir: string | null = null;

afterEach(() => {
  if (dir !== null) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

/** A src tree of `files` (path → the relative imports it makes). */
function tree(files: Record<string, string[]>): string {
  dir = mkdtempSync(join(tmpdir(), 'check-deps-'));
  for (const [path, imports] of Object.entries(files)) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    const lines = imports.map((target, i) => `import { x${i} } from '${target}';`);
    writeFileSync(file, `${lines.join('\n')}\nexport const x = 1;\n`);
  }
  return dir;
}

const base: Record<string, string[]> = {
  'common/index.ts': [],
  'broker/index.ts': ['./broker.ts'],
  'broker/broker.ts': ['../common/index.ts', './errors.ts'],
  'broker/errors.ts': ['../common/index.ts'],
  'api/errors.ts': ['../broker/errors.ts'],
  'api/wire.ts': ['./errors.ts'],
  'api/client/index.ts': ['./producer.ts'],
  'api/client/producer.ts': ['../wire.ts', '../../common/index.ts'],
  'api/server/server.ts': ['../../broker/index.ts', '../wire.ts', './routes/a.ts'],
  'api/server/routes/a.ts': ['../route-context.ts'],
  'api/server/route-context.ts': ['../../broker/index.ts'],
  'main.ts': ['./api/server/server.ts', './broker/index.ts'],
  'cli/broker-command.ts': ['../main.ts', '../api/client/index.ts'],
};

test('the real tree and a tree that keeps the rules pass', () => {
  expect(checkDeps(resolve(import.meta.dirname, '../../../src')).problems).toEqual([]);
  expect(checkDeps(tree(base)).problems).toEqual([]);
});

test('an import cycle inside a folder fails, type-only or not', () => {
  const src = tree({ ...base, 'api/server/routes/a.ts': ['../server.ts'] });
  expect(checkDeps(src).problems).toEqual([
    'import cycle: api/server/routes/a.ts ↔ api/server/server.ts',
  ]);
});

test('an import cycle across folders fails', () => {
  const src = tree({
    ...base,
    'common/index.ts': ['./a.ts'],
    'common/a.ts': ['./b/c.ts'],
    'common/b/c.ts': ['../a.ts'],
  });
  expect(checkDeps(src).problems).toEqual(['import cycle: common/a.ts ↔ common/b/c.ts']);
});

test('the server importing the client fails', () => {
  const src = tree({ ...base, 'api/server/routes/a.ts': ['../../client/index.ts'] });
  expect(checkDeps(src).problems.join('\n')).toContain('the server must not import the client');
});

test('the cli importing broker internals fails; the composition root is allowed', () => {
  const src = tree({ ...base, 'cli/broker-command.ts': ['../main.ts', '../broker/index.ts'] });
  expect(checkDeps(src).problems.join('\n')).toContain('the cli imports only');
});

test('the client reaching the broker through a non-leaf errors.ts fails twice over', () => {
  const src = tree({ ...base, 'broker/errors.ts': ['./broker.ts'] });
  const problems = checkDeps(src).problems.join('\n');
  expect(problems).toContain('broker/errors.ts is entered directly, so it may import only common');
  expect(problems).toContain('the client reaches broker/broker.ts');
});

test('entering a module past its index.ts, or against the layers, fails', () => {
  const src = tree({
    ...base,
    'api/server/server.ts': ['../../broker/broker.ts', './routes/a.ts'],
    'broker/broker.ts': ['../common/index.ts', '../api/wire.ts'],
  });
  const problems = checkDeps(src).problems.join('\n');
  expect(problems).toContain('enter broker through its index.ts, not broker/broker.ts');
  expect(problems).toContain('src/broker/broker.ts: broker → api');
});

test('streams imports only the client and common, and nothing imports streams', () => {
  const ok = {
    ...base,
    'streams/index.ts': ['./dsl.ts', '../api/client/index.ts', '../common/index.ts'],
    'streams/dsl.ts': [],
  };
  expect(checkDeps(tree(ok)).problems).toEqual([]);
  const deep = tree({ ...ok, 'streams/dsl.ts': ['../api/client/producer.ts'] });
  expect(checkDeps(deep).problems).toEqual([
    'src/streams/dsl.ts: streams imports only api/client/index.ts, common/index.ts, ' +
      'not api/client/producer.ts',
  ]);
  const upward = tree({ ...ok, 'broker/broker.ts': ['../common/index.ts', '../streams/index.ts'] });
  expect(checkDeps(upward).problems).toEqual([
    'src/broker/broker.ts: nothing in src imports streams (it is a library on top of the client)',
  ]);
});
