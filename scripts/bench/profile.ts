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
}

/** Top-10 self time of the broker's .cpuprofile: samples × their time deltas, per function. */
export async function summarizeProfile(dir: string) {
  const name = (await readdir(dir)).find((file) => file.endsWith('.cpuprofile'));
  if (name === undefined) return [];
  const profile = JSON.parse(await readFile(join(dir, name), 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, number>();
  let busyUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)?.callFrame;
    const delta = profile.timeDeltas[i] ?? 0;
    if (frame === undefined) return;
    if (frame.functionName === '(idle)') {
      idleUs += delta;
      return;
    }
    const file = frame.url.replace(/^.*\/(src|node_modules)\//, '$1/');
    const where = file === '' ? '' : ` ${file}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
    busyUs += delta;
  });
  const top = [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, 10);
  const percent = (us: number): number => round((100 * us) / busyUs, 1);
  log(
    `broker CPU profile: ${round(busyUs / 1e6, 1)} s busy, ${round(idleUs / 1e6, 1)} s idle; ` +
      'top 10 self time (% of busy):',
  );
  for (const [fn, us] of top) {
    log(
      `  ${String(percent(us)).padStart(5)}%  ${String(round(us / 1000, 0)).padStart(6)} ms  ${fn}`,
    );
  }
  return {
    busyMs: round(busyUs / 1000, 0),
    idleMs: round(idleUs / 1000, 0),
    top: top.map(([fn, us]) => ({
      function: fn,
      selfMs: round(us / 1000, 0),
      percent: percent(us),
    })),
  };
}
