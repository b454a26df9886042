// Checks the module arrows of DESIGN.md §3 over every relative import of src (type-only ones,
// re-exports and dynamic import() too) and fails on any import cycle between files. The rules:
//   layers    common ← log, raft ← broker ← api; raft and log know nothing of each other.
//   entry     a module is entered through its index.ts, or through its errors.ts catalog,
//             which must itself import only common (so the client can read the broker's codes).
//   api       api/client imports only common, log and api/wire.ts, and everything it reaches
//             stays within clientReach; api/server never imports api/client.
//   cli       src/cli and src/cli.ts import api/client, log (codec types), main.ts (the
//             composition root) and src/cli itself; never broker, raft or the server.
//   streams   src/streams imports only api/client/index.ts, common/index.ts and itself,
//             and nothing else in src imports it.
//   cycles    no file reaches itself through imports, inside a folder or across folders.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const allowed: Record<string, readonly string[]> = {
  common: [],
  log: ['common'],
  raft: ['common'],
  broker: ['common', 'log', 'raft'],
  api: ['common', 'log', 'raft', 'broker'],
};
/** What src/cli and src/cli.ts may import, beside src/cli itself. */
const cliTargets = ['api/client/index.ts', 'log/index.ts', 'main.ts'];
/** What a file in api/client may import outside api/client. */
const clientTargets = ['common/index.ts', 'log/index.ts', 'api/wire.ts'];
/** What src/streams may import, beside src/streams itself. */
const streamsTargets = ['api/client/index.ts', 'common/index.ts'];
/** Every file the client may reach, directly or not (prefixes). */
const clientReach = ['api/client/', 'api/wire.ts', 'api/errors.ts', 'api/murmur2.ts', 'common/'];
const clientReachAlso = ['broker/errors.ts', 'log/'];

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else if (path.endsWith('.ts')) yield path;
  }
}

/** File (relative to src) → the src files it imports (relative to src). */
function importGraph(src: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const pattern = /(?:from\s+|import\s*\(\s*)'(\.[^']+)'/g;
  for (const file of walk(src)) {
    const targets: string[] = [];
    for (const match of readFileSync(file, 'utf8').matchAll(pattern)) {
      targets.push(relative(src, resolve(dirname(file), match[1] ?? '')));
    }
    graph.set(relative(src, file), targets);
  }
  return graph;
}

function topOf(file: string): string {
  return file.split('/')[0] ?? '';
}

/** The layer and entry rules for one import. */
function layerProblem(from: string, to: string, graph: Map<string, string[]>): string | null {
  const [fromTop, toTop] = [topOf(from), topOf(to)];
  if (fromTop === toTop || !(fromTop in allowed) || !(toTop in allowed)) return null;
  if (!(allowed[fromTop] ?? []).includes(toTop)) return `${fromTop} → ${toTop}`;
  const rest = to.slice(toTop.length + 1);
  if (rest === 'index.ts') return null;
  if (rest === 'errors.ts') {
    const leafy = (graph.get(to) ?? []).every((t) => topOf(t) === 'common' || t === to);
    return leafy ? null : `${to} is entered directly, so it may import only common`;
  }
  return `enter ${toTop} through its index.ts, not ${to}`;
}

/** The api/client, api/server and cli rules for one import. */
function folderProblem(from: string, to: string): string | null {
  if (from.startsWith('streams/') && !to.startsWith('streams/') && !streamsTargets.includes(to)) {
    return `streams imports only ${streamsTargets.join(', ')}, not ${to}`;
  }
  if (to.startsWith('streams/') && !from.startsWith('streams/')) {
    return 'nothing in src imports streams (it is a library on top of the client)';
  }
  const isCli = from === 'cli.ts' || from.startsWith('cli/');
  if (isCli && !to.startsWith('cli/') && !cliTargets.includes(to)) {
    return `the cli imports only ${cliTargets.join(', ')}, not ${to}`;
  }
  if (from.startsWith('api/client/') && !to.startsWith('api/client/')) {
    if (!clientTargets.includes(to)) return `the client imports only ${clientTargets.join(', ')}`;
  }
  if (from.startsWith('api/server/') && to.startsWith('api/client/')) {
    return 'the server must not import the client (share shapes through api/wire.ts)';
  }
  return null;
}

/** Files the client reaches that it should not (e.g. through wire.ts or errors.ts). */
function clientReachProblems(graph: Map<string, string[]>): string[] {
  const seen = new Set<string>();
  const stack = ['api/client/index.ts'];
  const problems: string[] = [];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    const ok = [...clientReach, ...clientReachAlso].some((prefix) => file.startsWith(prefix));
    if (!ok) problems.push(`the client reaches ${file}`);
    stack.push(...(graph.get(file) ?? []));
  }
  return problems;
}

/** Every import cycle, one per strongly connected component (Tarjan, iterative). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let next = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    while (work.length > 0) {
      const frame = work[work.length - 1] as [string, number];
      const [node, edge] = frame;
      if (edge === 0) {
        index.set(node, next);
        low.set(node, next);
        next += 1;
        stack.push(node);
        onStack.add(node);
      }
      const targets = (graph.get(node) ?? []).filter((t) => graph.has(t));
      if (edge < targets.length) {
        frame[1] = edge + 1;
        const target = targets[edge] as string;
        if (!index.has(target)) work.push([target, 0]);
        else if (onStack.has(target)) {
          low.set(node, Math.min(low.get(node) ?? 0, index.get(target) ?? 0));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) {
        low.set(parent[0], Math.min(low.get(parent[0]) ?? 0, low.get(node) ?? 0));
      }
      if (low.get(node) !== index.get(node)) continue;
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfLoop = (graph.get(node) ?? []).includes(node);
      if (component.length > 1 || selfLoop) found.push(component.sort());
    }
  }
  return found;
}

/** Every broken rule of the tree below `src`, one line each; empty when all hold. */
export function checkDeps(src: string): { problems: string[]; files: number } {
  const graph = importGraph(src);
  const problems: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const problem = from.startsWith('streams/')
        ? folderProblem(from, to)
        : (layerProblem(from, to, graph) ?? folderProblem(from, to));
      if (problem !== null) problems.push(`src/${from}: ${problem}`);
    }
  }
  if (graph.has('api/client/index.ts')) problems.push(...clientReachProblems(graph));
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${cycle.join(' ↔ ')}`);
  return { problems, files: graph.size };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { problems, files } = checkDeps(resolve(import.meta.dirname, '..', 'src'));
  if (problems.length > 0) {
    console.error(`check-deps: ${problems.length} problem(s):\n${problems.join('\n')}`);
    process.exit(1);
  }
  console.log(`check-deps: module arrows ok, no import cycles (${files} files)`);
}
