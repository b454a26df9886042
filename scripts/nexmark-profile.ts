// `npm run nexmark -- … --cpu-prof DIR`: profiles each query's measured window (all tasks
// running → caught up) in the streams process through node:inspector, and the broker (started
// with --cpu-prof) over the same windows: both profiles stamp samples with the monotonic clock
// that process.hrtime reads. Prints the top frames of each, by self time and by file.
import { Session } from 'node:inspector/promises';
import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { summarizeProfileFile } from './bench/profile.ts';

/** A window of the monotonic clock, in µs (the unit of a .cpuprofile's time stamps). */
export interface ClockWindow {
  readonly name: string;
  readonly fromUs: number;
  readonly toUs: number;
}

const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Profiles this process from start() to stop(), and writes `DIR/<name>-app.cpuprofile`. */
export class WindowProfiler {
  readonly #session = new Session();
  readonly #dir: string;
  #fromUs = 0;

  constructor(dir: string) {
    this.#dir = dir;
    this.#session.connect();
  }

  async start(): Promise<void> {
    await this.#session.post('Profiler.enable');
    await this.#session.post('Profiler.setSamplingInterval', { interval: 500 });
    await this.#session.post('Profiler.start');
    await this.#session.post('HeapProfiler.startSampling', {
      samplingInterval: 16_384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    this.#fromUs = nowUs();
  }

  async stop(name: string): Promise<ClockWindow> {
    const toUs = nowUs();
    const { profile } = await this.#session.post('Profiler.stop');
    const heap = await this.#session.post('HeapProfiler.stopSampling');
    const path = join(this.#dir, `${name}-app.cpuprofile`);
    await writeFile(path, JSON.stringify(profile));
    await writeFile(join(this.#dir, `${name}-app.heapprofile`), JSON.stringify(heap.profile));
    console.log(`--- ${name}: streams process (measured window) ---`);
    await summarizeProfileFile(path, 15);
    return { name, fromUs: this.#fromUs, toUs };
  }
}

/** The node arguments that make the broker write its profile into `DIR/broker`. */
export const brokerProfileArgs = (dir: string): string[] => [
  '--cpu-prof',
  '--cpu-prof-dir',
  join(dir, 'broker'),
  '--cpu-prof-interval',
  '500',
];

/** After the broker exited: its profile's top frames within each query's window. */
export async function summarizeBroker(dir: string, windows: readonly ClockWindow[]) {
  const brokerDir = join(dir, 'broker');
  const file = (await readdir(brokerDir)).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) return;
  const path = join(brokerDir, file);
  const { endTime } = JSON.parse(await readFile(path, 'utf8')) as { endTime: number };
  for (const w of windows) {
    console.log(`--- ${w.name}: broker (same window) ---`);
    await summarizeProfileFile(path, 15, {
      fromEndMs: (endTime - w.fromUs) / 1000,
      toEndMs: (endTime - w.toUs) / 1000,
    });
  }
}

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc (Linux; null
 * elsewhere): the broker's share of a query's window. Clock ticks are taken as 100 per second.
 */
export function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}
