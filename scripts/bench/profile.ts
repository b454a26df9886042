// `npm run bench -- --profile`: the single-node broker runs under `node --cpu-prof`; this reads
// the .cpuprofile it writes on exit and prints the top-10 functions by self time (samples ×
// their time deltas), with busy and idle totals.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { round } from './stats.ts';

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** Top-10 self time of the broker's .cpuprofile: samples × their time deltas, per function. */
export async function summarizeProfile(dir: string) {
  const name = (await readdir(dir)).find((file) => file.endsWith('.cpuprofile'));
  if (name === undefined) return [];
  return summarizeProfileFile(join(dir, name), 10);
}

/**
 * Top-`count` self time of one .cpuprofile, by function and by file, with busy/idle totals.
 * `window` keeps only the samples taken between `fromEndMs` and `toEndMs` before the profile's
 * end (the process exit), e.g. an idle window without the start-up.
 */
export async function summarizeProfileFile(
  path: string,
  count: number,
  window?: { readonly fromEndMs: number; readonly toEndMs: number },
) {
  const profile = JSON.parse(await readFile(path, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
    endTime: number;
    startTime: number;
  };
  let atUs = profile.startTime;
  const inWindow = profile.timeDeltas.map((delta) => {
    atUs += delta;
    if (window === undefined) return true;
    const beforeEndMs = (profile.endTime - atUs) / 1000;
    return beforeEndMs <= window.fromEndMs && beforeEndMs >= window.toEndMs;
  });
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  /** The chain of the first `depth` user frames under (root), as the entry point of a sample. */
  const entryOf = (id: number, depth: number): string => {
    const chain: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame !== undefined && frame.functionName !== '(root)')
        chain.push(frame.functionName || '(anonymous)');
    }
    return chain.reverse().slice(0, depth).join(' > ');
  };
  const selfUs = new Map<string, number>();
  const fileUs = new Map<string, number>();
  const entryUs = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const delta = profile.timeDeltas[i] ?? 0;
    if (frame === undefined || inWindow[i] !== true) return;
    if (frame.functionName === '(idle)') {
      idleUs += delta;
      return;
    }
    const file = frame.url.replace(/^.*\/(src|node_modules)\//, '$1/');
    const where = file === '' ? '' : ` ${file}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
    const module =
      file === ''
        ? `(${frame.functionName})`
        : file.replace(/^(node_modules\/(@[^/]+\/)?[^/]+).*$/, '$1');
    fileUs.set(module, (fileUs.get(module) ?? 0) + delta);
    const entry = entryOf(id, 3);
    entryUs.set(entry, (entryUs.get(entry) ?? 0) + delta);
    busyUs += delta;
  });
  const percent = (us: number): number => round((100 * us) / busyUs, 1);
  const rank = (table: Map<string, number>) =>
    [...table].sort((a, b) => b[1] - a[1]).slice(0, count);
  log(
    `CPU profile ${path}: ${round(busyUs / 1e6, 2)} s busy, ${round(idleUs / 1e6, 1)} s idle; ` +
      `top ${count} self time (% of busy):`,
  );
  const print = ([name, us]: [string, number]): void =>
    log(
      `  ${String(percent(us)).padStart(5)}%  ${String(round(us / 1000, 0)).padStart(6)} ms  ${name}`,
    );
  rank(selfUs).forEach(print);
  log('  by file or package:');
  rank(fileUs).forEach(print);
  log('  by entry point (inclusive):');
  rank(entryUs).forEach(print);
  return {
    busyMs: round(busyUs / 1000, 0),
    idleMs: round(idleUs / 1000, 0),
    top: rank(selfUs).map(([fn, us]) => ({
      function: fn,
      selfMs: round(us / 1000, 0),
      percent: percent(us),
    })),
  };
}
