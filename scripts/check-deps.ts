// Checks the module arrows of DESIGN.md §3: api → broker → {raft, log} → common. A module is
// entered only through its index.ts; raft and log know nothing of each other or of brokers.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const allowed: Record<string, readonly string[]> = {
  common: [],
  log: ['common'],
  raft: ['common'],
  broker: ['common', 'log', 'raft'],
  api: ['common', 'log', 'raft', 'broker'],
};

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else if (path.endsWith('.ts')) yield path;
  }
}

const problems: string[] = [];
for (const file of walk(join(root, 'src'))) {
  const from = relative(join(root, 'src'), file).split('/')[0] ?? '';
  const source = readFileSync(file, 'utf8');
  for (const match of source.matchAll(/from\s+'(\.[^']+)'/g)) {
    const target = relative(join(root, 'src'), resolve(dirname(file), match[1] ?? ''));
    const [to, ...rest] = target.split('/');
    if (to === undefined || to === from || !(from in allowed)) continue;
    if (!(to in allowed)) continue; // main.ts, cli.ts
    if (!(allowed[from] ?? []).includes(to))
      problems.push(`${relative(root, file)}: ${from} → ${to}`);
    else if (rest.join('/') !== 'index.ts') {
      problems.push(`${relative(root, file)}: enter ${to} through its index.ts, not ${target}`);
    }
  }
}
if (problems.length > 0) {
  console.error(`check-deps: ${problems.length} forbidden import(s):\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('check-deps: module arrows ok');
