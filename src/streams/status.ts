// An instance's status as the cluster sees it: one JSON record keyed by the instance in the
// application's compacted `<app>-status` topic (state, and per task and store how much of the
// changelog a restore has read). StatusWriter sends it on every state change and at most once
// per intervalMs for restore progress (a held-back report is sent when the interval ends, so a
// stalled restore still shows where it stopped), one send at a time; a failed send is only
// reported.

export type InstanceState = 'starting' | 'restoring' | 'running' | 'stopped';
export type TaskState = 'restoring' | 'running';

/** One store's restore: changelog offsets read out of those to read (end - start). */
export interface StoreRestoreStatus {
  readonly store: string;
  readonly restored: number;
  readonly total: number;
}

export interface TaskStatus {
  readonly task: string;
  readonly state: TaskState;
  readonly stores: readonly StoreRestoreStatus[];
}

export interface InstanceStatus {
  readonly instance: string;
  readonly state: InstanceState;
  readonly tasks: readonly TaskStatus[];
}

export const statusTopicOf = (applicationId: string): string => `${applicationId}-status`;
/** Progress writes at most this often per instance (state changes are written at once). */
export const statusIntervalMsDefault = 1_000;

export function encodeStatus(status: InstanceStatus): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(status));
}

const states: readonly string[] = ['starting', 'restoring', 'running', 'stopped'];

/** The status in `bytes`, or null when they are not one. */
export function decodeStatus(bytes: Uint8Array): InstanceStatus | null {
  try {
    const s = JSON.parse(new TextDecoder().decode(bytes)) as Partial<InstanceStatus> | null;
    const ok =
      typeof s?.instance === 'string' && states.includes(String(s.state)) && Array.isArray(s.tasks);
    return ok ? (s as InstanceStatus) : null;
  } catch {
    return null;
  }
}

/** Whether a write is due: always for a state change, else once intervalMs passed. */
export class StatusThrottle {
  readonly #intervalMs: number;
  #lastMs = Number.NEGATIVE_INFINITY;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** How long until a progress write is due (0: now). */
  waitMs(nowMs: number): number {
    return Math.max(0, this.#lastMs + this.#intervalMs - nowMs);
  }

  due(nowMs: number, stateChanged: boolean): boolean {
    if (!stateChanged && nowMs - this.#lastMs < this.#intervalMs) return false;
    this.#lastMs = nowMs;
    return true;
  }
}

export interface StatusWriterDeps {
  readonly instance: string;
  readonly intervalMs: number;
  readonly nowMs: () => number;
  /** Sends one status record (the key is the instance). */
  readonly send: (key: string, value: Uint8Array) => Promise<unknown>;
  readonly onError: (error: unknown) => void;
  /** Runs `run` after `delayMs` (a timer); the returned function cancels it. */
  readonly schedule: (delayMs: number, run: () => void) => () => void;
}

/**
 * The instance's status and its writes. Tasks are those running or restoring here (bounded by
 * the topology's tasks). At most one send is in flight; a write asked for meanwhile is made
 * when it ends, with the status as it is then.
 */
export class StatusWriter {
  readonly #deps: StatusWriterDeps;
  readonly #throttle: StatusThrottle;
  readonly #tasks = new Map<string, TaskStatus>();
  #base: InstanceState = 'starting';
  #sending: Promise<void> | null = null;
  #again = false;
  /** Cancels the pending write of a held-back progress report (null: none pending). */
  #trailing: (() => void) | null = null;
  /** Writes made (sends started), for tests and metrics. */
  writes = 0;

  constructor(deps: StatusWriterDeps) {
    this.#deps = deps;
    this.#throttle = new StatusThrottle(deps.intervalMs);
  }

  /** The status as the next write sends it. */
  snapshot(): InstanceStatus {
    const tasks = [...this.#tasks.values()].sort((a, b) => (a.task < b.task ? -1 : 1));
    const restoring = tasks.some((t) => t.state === 'restoring');
    const state = this.#base !== 'stopped' && restoring ? 'restoring' : this.#base;
    return { instance: this.#deps.instance, state, tasks };
  }

  /** `starting`, `running` or `stopped` (restoring derives from the tasks). */
  setState(state: InstanceState): void {
    const changed = state !== this.#base;
    this.#base = state;
    this.#write(changed);
  }

  /** One store's restore progress (the first report marks the task restoring). */
  progress(task: string, store: StoreRestoreStatus): void {
    const before = this.#tasks.get(task);
    const others = (before?.stores ?? []).filter((s) => s.store !== store.store);
    const stores = [...others, store].sort((a, b) => (a.store < b.store ? -1 : 1));
    this.#tasks.set(task, { task, state: 'restoring', stores });
    this.#write(before?.state !== 'restoring');
  }

  running(task: string): void {
    const before = this.#tasks.get(task);
    this.#tasks.set(task, { task, state: 'running', stores: before?.stores ?? [] });
    this.#write(before?.state !== 'running');
  }

  closed(task: string): void {
    if (this.#tasks.delete(task)) this.#write(true);
  }

  /** Waits for the writes asked for so far; a held-back progress report is dropped. */
  async flush(): Promise<void> {
    this.#trailing?.();
    this.#trailing = null;
    while (this.#sending !== null) await this.#sending;
  }

  #write(stateChanged: boolean): void {
    const nowMs = this.#deps.nowMs();
    if (!this.#throttle.due(nowMs, stateChanged)) {
      this.#trailing ??= this.#deps.schedule(this.#throttle.waitMs(nowMs), () => {
        this.#trailing = null;
        this.#write(false);
      });
      return;
    }
    this.#trailing?.();
    this.#trailing = null;
    if (this.#sending !== null) {
      this.#again = true;
      return;
    }
    this.#sending = this.#send().finally(() => {
      this.#sending = null;
      if (this.#again) {
        this.#again = false;
        this.#write(true);
      }
    });
  }

  async #send(): Promise<void> {
    this.writes += 1;
    try {
      await this.#deps.send(this.#deps.instance, encodeStatus(this.snapshot()));
    } catch (error) {
      this.#deps.onError(error);
    }
  }
}
